"""Partner administration: creation, secret rotation, suspension."""
from __future__ import annotations

import uuid

from flask import g
from marshmallow import Schema, fields, validate

from api.auth import access
from api.extensions import Blueprint
from carbon_credits.services import partners as partner_service
from models import PARTNER_KINDS

blp = Blueprint("partners", __name__, url_prefix="/api/v1", description="Partners")


class PartnerCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    kind = fields.String(required=True, validate=validate.OneOf(PARTNER_KINDS))


class PartnerSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    kind = fields.String()
    key_id = fields.String()
    suspended = fields.Boolean(attribute="is_suspended")
    created_at = fields.DateTime()


class PartnerWithSecretSchema(PartnerSchema):
    secret = fields.String(metadata={"description": "Shown once; store it now."})


class PartnerListSchema(Schema):
    items = fields.List(fields.Nested(PartnerSchema))


class PartnerSuspendSchema(Schema):
    suspended = fields.Boolean(load_default=True)


def _with_secret(issued):
    p = issued.partner
    return {"id": p.id, "name": p.name, "kind": p.kind, "key_id": p.key_id,
            "is_suspended": p.is_suspended, "created_at": p.created_at, "secret": issued.secret}


@blp.route("/admin/partners", methods=["POST"])
@access("admin")
@blp.arguments(PartnerCreateSchema)
@blp.response(201, PartnerWithSecretSchema)
def create_partner(data):
    """Create a partner; its signing secret is returned once."""
    return _with_secret(partner_service.create_partner(name=data["name"], kind=data["kind"],
                                                       actor_user_id=g.user.id))


@blp.route("/admin/partners", methods=["GET"])
@access("admin", "auditor")
@blp.response(200, PartnerListSchema)
def list_partners():
    """All partners (secrets are never listed)."""
    return {"items": partner_service.list_partners()}


@blp.route("/admin/partners/<uuid:partner_id>", methods=["GET"])
@access("admin", "auditor")
@blp.response(200, PartnerSchema)
def get_partner(partner_id: uuid.UUID):
    """One partner."""
    return partner_service.get_partner_or_raise(partner_id)


@blp.route("/admin/partners/<uuid:partner_id>/rotate-secret", methods=["POST"])
@access("admin")
@blp.response(200, PartnerWithSecretSchema)
def rotate_secret(partner_id: uuid.UUID):
    """Issue a new secret; the old one keeps working for the grace period."""
    return _with_secret(partner_service.rotate_secret(partner_id=partner_id, actor_user_id=g.user.id))


@blp.route("/admin/partners/<uuid:partner_id>/suspend", methods=["POST"])
@access("admin")
@blp.arguments(PartnerSuspendSchema)
@blp.response(200, PartnerSchema)
def suspend_partner(data, partner_id: uuid.UUID):
    """Suspend a partner (its signed requests stop at once) or reinstate it."""
    return partner_service.set_partner_suspended(partner_id=partner_id, suspended=data["suspended"],
                                                 actor_user_id=g.user.id)


class PublicPartnerSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    kind = fields.String()


class PublicPartnerListSchema(Schema):
    items = fields.List(fields.Nested(PublicPartnerSchema))


@blp.route("/partners", methods=["GET"])
@access.public
@blp.response(200, PublicPartnerListSchema)
def partner_directory():
    """Active partners (id, name, kind) so citizens can bind their cards and accounts."""
    return {"items": [p for p in partner_service.list_partners() if p.suspended_at is None]}
