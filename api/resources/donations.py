"""Public-good projects and donations (docs/donations.md): admins create and close projects,
citizens give points and keep receipts, anyone reads the projects' progress."""
from __future__ import annotations

import datetime as dt
import uuid

from flask import g
from marshmallow import Schema, fields, validate

from api.auth import access
from api.caching import public_json
from api.extensions import Blueprint
from api.fields import RegionCode
from api.idempotency import idempotent
from api.pagination import PageArgsSchema, decode_cursor, encode_cursor, page_schema
from carbon_credits.domain import donations as rules
from carbon_credits.domain.vocabulary import MAX_BALANCE_POINTS, MAX_POINTS, PROJECT_STATUSES
from carbon_credits.services import donations as service

blp = Blueprint("donations", __name__, url_prefix="/api/v1",
                description="Public-good projects and donations of points")

NOT_BLANK = validate.Regexp(r"\s*\S", error="Must not be blank.")


class ProjectCreateSchema(Schema):
    name = fields.String(required=True, validate=[validate.Length(min=1, max=200), NOT_BLANK])
    beneficiary = fields.String(required=True, validate=[validate.Length(min=1, max=200), NOT_BLANK],
                                metadata={"description": "Who receives the project's benefit"})
    description = fields.String(required=True, validate=[validate.Length(min=1, max=5000), NOT_BLANK])
    target_points = fields.Integer(required=True, strict=True,
                                   validate=validate.Range(min=1, max=MAX_BALANCE_POINTS))
    region = RegionCode(load_default=None, metadata={"description": "Its district, if any"})


PROJECT_EXAMPLE = {"name": "Trees for the Taihu shore", "beneficiary": "Wuzhong Greening Office",
                   "description": "Every 500 points plant one native tree on the lake shore.",
                   "target_points": 1000000, "region": "320506"}


class ProjectSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    beneficiary = fields.String()
    description = fields.String()
    region = fields.String(allow_none=True)
    target_points = fields.Integer()
    donated_points = fields.Integer()
    remaining_points = fields.Integer()
    progress_percent = fields.String(metadata={"description": "Two decimals, rounded down",
                                               "example": "42.50"})
    donations = fields.Integer()
    donors = fields.Integer(metadata={"description": "Distinct citizens who gave"})
    status = fields.String(metadata={"description": "open | completed | closed"})
    created_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)


ProjectPageSchema = page_schema(ProjectSchema, "ProjectPageSchema")


class ProjectArgsSchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(PROJECT_STATUSES))


class ProjectCloseSchema(Schema):
    reason = fields.String(required=True, validate=[validate.Length(min=3, max=1000), NOT_BLANK])


class DonationCreateSchema(Schema):
    project_id = fields.UUID(required=True)
    points = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_POINTS))


class ReceiptProjectSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    beneficiary = fields.String()


class ReceiptSchema(Schema):
    id = fields.UUID()
    receipt_number = fields.String(metadata={"example": "D-20261205-3F9A0C21"})
    project = fields.Nested(ReceiptProjectSchema)
    points = fields.Integer()
    donated_at = fields.DateTime()
    transfer_id = fields.UUID(metadata={"description": "The `donate` entry of my statement"})
    ledger_seq = fields.Integer(allow_none=True, metadata={"description": "Its ledger position"})


ReceiptPageSchema = page_schema(ReceiptSchema, "ReceiptPageSchema")

PROJECT_VIEW_EXAMPLE = {**PROJECT_EXAMPLE, "id": "5b0c7f0e-8d7e-4a56-9d1c-2f5e8a9b1c3d",
                        "donated_points": 425000, "remaining_points": 575000,
                        "progress_percent": "42.50", "donations": 1310, "donors": 977,
                        "status": "open", "created_at": "2026-11-02T08:00:00+00:00",
                        "ended_at": None}
RECEIPT_EXAMPLE = {"id": "8f2e61a0-44c1-4f0e-9a57-0d3b6c1e2f90",
                   "receipt_number": "D-20261205-8F2E61A0",
                   "project": {"id": "5b0c7f0e-8d7e-4a56-9d1c-2f5e8a9b1c3d",
                               "name": "Trees for the Taihu shore",
                               "beneficiary": "Wuzhong Greening Office"},
                   "points": 300, "donated_at": "2026-12-05T09:12:44+00:00",
                   "transfer_id": "c1d4b7e2-9a0f-4b3c-8e21-5f6a7b8c9d0e", "ledger_seq": 48213}


def project_view(project, donors: int = 0) -> dict:
    return {"id": project.id, "name": project.name, "beneficiary": project.beneficiary,
            "description": project.description, "region": project.region,
            "target_points": project.target_points, "donated_points": project.donated_points,
            "remaining_points": project.target_points - project.donated_points,
            "progress_percent": rules.progress_percent(donated=project.donated_points,
                                                       target=project.target_points),
            "donations": project.donations, "donors": donors, "status": project.status,
            "created_at": project.created_at, "ended_at": project.ended_at}


def receipt_view(receipt) -> dict:
    d, p = receipt.donation, receipt.project
    return {"id": d.id, "receipt_number": f"D-{d.created_at:%Y%m%d}-{d.id.hex[:8].upper()}",
            "project": {"id": p.id, "name": p.name, "beneficiary": p.beneficiary},
            "points": d.points, "donated_at": d.created_at, "transfer_id": d.transfer_id,
            "ledger_seq": receipt.transfer_seq}


def _project_page(args) -> dict:
    after = decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))
    projects, last = service.list_projects(status=args["status"], after=after, limit=args["limit"])
    donors = service.donor_counts(p.id for p in projects)
    return {"items": [project_view(p, donors.get(p.id, 0)) for p in projects],
            "next_cursor": encode_cursor(last)}


@blp.route("/admin/projects", methods=["POST"])
@access("admin")
@idempotent
@blp.arguments(ProjectCreateSchema, example=PROJECT_EXAMPLE)
@blp.response(201, ProjectSchema, example={**PROJECT_VIEW_EXAMPLE, "donated_points": 0,
                                           "remaining_points": 1000000,
                                           "progress_percent": "0.00", "donations": 0,
                                           "donors": 0})
def create_project(data):
    """Create a public-good project citizens can give points to, with its target.

    City-wide admins only (a district-scoped admin: 403); send an `Idempotency-Key` to retry
    safely. The project opens at once with its own ledger account and shows on the public
    list; it completes when gifts reach `target_points`. Blank texts or a bad target: 422.
    Audited."""
    return project_view(service.create_project(actor_user_id=g.user.id, **data))


@blp.route("/admin/projects", methods=["GET"])
@access("admin", "auditor")
@blp.arguments(ProjectArgsSchema, location="query")
@blp.response(200, ProjectPageSchema, example={"items": [PROJECT_VIEW_EXAMPLE],
                                              "next_cursor": None})
def list_projects(args):
    """Projects, newest first, with their progress.

    Admins and auditors; `status` filters `open`, `completed` or `closed`. The same figures
    as the public list. Keyset pages: pass `next_cursor` back as `cursor`."""
    return _project_page(args)


@blp.route("/admin/projects/<uuid:project_id>/close", methods=["POST"])
@access("admin")
@blp.arguments(ProjectCloseSchema, example={"reason": "The planting season is over."})
@blp.response(200, ProjectSchema, example={**PROJECT_VIEW_EXAMPLE, "status": "closed",
                                           "ended_at": "2026-12-20T02:00:00+00:00"})
def close_project(data, project_id: uuid.UUID):
    """End an open project early: it takes no more gifts; what it received stays with it.

    City-wide admins only, with a reason (kept in the audit log). A project already
    completed or closed is a 409 (`project_not_open`); an unknown one a 404."""
    project = service.close_project(project_id=project_id, reason=data["reason"],
                                    actor_user_id=g.user.id)
    return project_view(project, service.donor_counts([project.id]).get(project.id, 0))


@blp.route("/public/projects", methods=["GET"])
@access.public
@blp.arguments(ProjectArgsSchema, location="query")
@blp.response(200, ProjectPageSchema, example={"items": [PROJECT_VIEW_EXAMPLE],
                                              "next_cursor": None})
def public_projects(args):
    """Public-good projects and their progress (open data, no login; ETag).

    Target, points given and remaining, `progress_percent` (two decimals, rounded down, so
    "100.00" means met), gifts and distinct donors; no donor is named. `status` filters;
    keyset pages. Strong `ETag`: send `If-None-Match` for a 304."""
    return public_json(ProjectPageSchema(), _project_page(args))


@blp.route("/public/projects/<uuid:project_id>", methods=["GET"])
@access.public
@blp.response(200, ProjectSchema, example=PROJECT_VIEW_EXAMPLE)
def public_project(project_id: uuid.UUID):
    """One project and its progress (open data, no login; ETag).

    As in the list; an unknown id is a 404. Strong `ETag`: send `If-None-Match` for a 304."""
    project = service.get_project_or_raise(project_id)
    return public_json(ProjectSchema(), project_view(
        project, service.donor_counts([project.id]).get(project.id, 0)))


@blp.route("/me/donations", methods=["POST"])
@access("citizen")
@idempotent
@blp.arguments(DonationCreateSchema, example={"project_id": "5b0c7f0e-8d7e-4a56-9d1c-2f5e8a9b1c3d",
                                               "points": 200})
@blp.response(201, ReceiptSchema, example=RECEIPT_EXAMPLE)
def donate(data):
    """Give points to an open project (oldest points first); the receipt comes back.

    Verified citizens only (403 `account_unverified`). Send an `Idempotency-Key`: the same
    key and body replay the first receipt, so a retried request never gives twice. The gift
    is a `donate` entry on my statement and never comes back. Refused with nothing changed:
    more than my available balance (409 `insufficient_balance`), more than the project still
    needs (409 `exceeds_target`), a project completed or closed (409 `project_not_open`), an
    unknown project (404)."""
    return receipt_view(service.donate(user_id=g.user.id, **data))


@blp.route("/me/donations", methods=["GET"])
@access("citizen")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, ReceiptPageSchema, example={"items": [RECEIPT_EXAMPLE], "next_cursor": None})
def list_donations(args):
    """My donation receipts, newest first.

    Citizens only. Keyset pages: pass `next_cursor` back as `cursor` (null: the last page)."""
    after = decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))
    receipts, last = service.list_donations(user_id=g.user.id, after=after, limit=args["limit"])
    return {"items": [receipt_view(r) for r in receipts], "next_cursor": encode_cursor(last)}


@blp.route("/me/donations/<uuid:donation_id>", methods=["GET"])
@access("citizen")
@blp.response(200, ReceiptSchema, example=RECEIPT_EXAMPLE)
def get_donation(donation_id: uuid.UUID):
    """One of my donation receipts.

    Citizens only; another citizen's receipt, or an unknown id, is a 404."""
    return receipt_view(service.get_receipt(user_id=g.user.id, donation_id=donation_id))
