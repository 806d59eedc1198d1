"""A merchant's staff, managed by the merchant's own lead; admins make the leads.
Rules: docs/merchants.md."""
from __future__ import annotations

import datetime as dt
import uuid

from flask import g
from marshmallow import Schema, fields, validate

from api.auth import access
from api.extensions import Blueprint
from api.fields import StrictBoolean
from api.pagination import PageArgsSchema, decode_cursor, encode_cursor, page_schema
from api.resources.identity import new_password_field
from carbon_credits.services.rewards import staff as staff_service

blp = Blueprint("merchant_staff", __name__, url_prefix="/api/v1",
                description="Merchant staff, managed by the merchant's lead")


class MerchantStaffSchema(Schema):
    id = fields.UUID()
    email = fields.String(allow_none=True)
    display_name = fields.String()
    roles = fields.List(fields.String(), attribute="sorted_roles")
    partner_id = fields.UUID(allow_none=True)
    merchant_lead = fields.Boolean(metadata={"description": "Manages the merchant's staff"})
    suspended = fields.Boolean(attribute="is_suspended")
    created_at = fields.DateTime()


MerchantStaffPageSchema = page_schema(MerchantStaffSchema, "MerchantStaffPageSchema")


class MerchantStaffCreateSchema(Schema):
    """No role and no merchant: a lead adds `merchant` staff of their own merchant only."""
    email = fields.Email(required=True, validate=validate.Length(max=254),
                         metadata={"example": "till-2@teahouse.example"})
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=64),
                                 metadata={"example": "Till 2"})
    password = new_password_field(metadata={"description": "Initial password; the staff "
                                                           "member changes it",
                                            "example": "a long initial passphrase"})


class MerchantStaffSuspendSchema(Schema):
    suspended = StrictBoolean(load_default=True)
    reason = fields.String(load_default=None, validate=validate.Length(max=500))


class MerchantLeadSchema(Schema):
    lead = StrictBoolean(required=True)


PARTNER_ID = "70412a1b-593b-40f6-b0e0-ed1d81f53a29"
LEAD_EXAMPLE = {"id": "1d32da2a-cc03-4dbe-a557-7bf0ad4f8953", "email": "lead@teahouse.example",
                "display_name": "Wang Fang", "roles": ["merchant"], "partner_id": PARTNER_ID,
                "merchant_lead": True, "suspended": False,
                "created_at": "2026-11-20T01:30:00.586036+00:00"}
STAFF_EXAMPLE = {"id": "407bda32-3553-4cb1-9ff8-86a6e6779b9f", "email": "till-2@teahouse.example",
                 "display_name": "Till 2", "roles": ["merchant"], "partner_id": PARTNER_ID,
                 "merchant_lead": False, "suspended": False,
                 "created_at": "2026-12-01T02:00:00.025538+00:00"}


def _cursor(args):
    return decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))


@blp.route("/merchant/staff", methods=["GET"])
@access("merchant")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, MerchantStaffPageSchema,
              example={"items": [STAFF_EXAMPLE, LEAD_EXAMPLE], "next_cursor": None})
def list_staff(args):
    """My merchant's staff, newest first (leads only).

    The lead included. Staff who are not their merchant's lead get a 403 (`lead_required`).
    Keyset pages: pass `next_cursor` back as `cursor`."""
    items, last = staff_service.list_merchant_staff(lead_user_id=g.user.id, after=_cursor(args),
                                                    limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/merchant/staff", methods=["POST"])
@access("merchant")
@blp.arguments(MerchantStaffCreateSchema, example={
    "email": "till-2@teahouse.example", "display_name": "Till 2",
    "password": "a long initial passphrase"})  # nosec B105 (a made-up example)
@blp.response(201, MerchantStaffSchema, example=STAFF_EXAMPLE)
def add_staff(data):
    """Add a staff account (role `merchant`) to my merchant (leads only).

    The account is created for the lead's own merchant, with no other role; the e-mail is
    stored in lower case and must be free (409 otherwise). A weak password is a 422. Audited."""
    return staff_service.add_merchant_staff(lead_user_id=g.user.id, **data)


@blp.route("/merchant/staff/<uuid:user_id>/suspend", methods=["POST"])
@access("merchant")
@blp.arguments(MerchantStaffSuspendSchema,
               example={"suspended": True, "reason": "Left the shop on 30 November."})
@blp.response(200, MerchantStaffSchema, example={**STAFF_EXAMPLE, "suspended": True})
def suspend_staff(data, user_id: uuid.UUID):
    """Suspend one of my merchant's staff (their sessions end at once), or reinstate them.

    Leads only; `suspended: false` reinstates. Never themselves (409 `self_management`), another
    lead (403 `lead_managed_by_admin`) or someone holding a scheme role (403
    `privileged_target`); someone not on the merchant's staff is a 404."""
    return staff_service.set_staff_suspended(lead_user_id=g.user.id, staff_user_id=user_id,
                                             suspended=data["suspended"], reason=data["reason"])


@blp.route("/merchant/staff/<uuid:user_id>", methods=["DELETE"])
@access("merchant")
@blp.response(204)
def remove_staff(user_id: uuid.UUID):
    """Take someone off my merchant's staff: their merchant role goes, their sessions end.

    Leads only; the account itself stays (a citizen account keeps its points). The same
    refusals as suspending: not themselves (409), not another lead or a scheme role (403), 404
    for someone not on the staff."""
    staff_service.remove_merchant_staff(lead_user_id=g.user.id, staff_user_id=user_id)


@blp.route("/admin/users/<uuid:user_id>/merchant-lead", methods=["POST"])
@access("admin")
@blp.arguments(MerchantLeadSchema, example={"lead": True})
@blp.response(200, MerchantStaffSchema, example=LEAD_EXAMPLE)
def set_merchant_lead(data, user_id: uuid.UUID):
    """Make a merchant's staff member its lead (`lead: true`), or no longer.

    Admins only, never for themselves (403 `self_grant`). Only merchant staff with no admin,
    auditor or verifier role can lead (422 `not_merchant_staff`); an unknown user is a 404.
    A merchant may have several leads. Audited."""
    return staff_service.set_merchant_lead(user_id=user_id, lead=data["lead"],
                                           actor_user_id=g.user.id)
