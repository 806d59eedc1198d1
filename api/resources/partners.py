"""Partner administration (creation, scopes, secret rotation, suspension) and the signed
binding confirmation."""
from __future__ import annotations

import uuid

from flask import g
from marshmallow import Schema, fields, validate

from api.auth import access
from api.extensions import Blueprint
from carbon_credits.domain import partners as partner_rules
from carbon_credits.services import bindings as binding_service
from carbon_credits.services import partners as partner_service
from carbon_credits.domain.vocabulary import (ACTION_TYPES, EVERYDAY_SCENES, METERED_UTILITIES,
                                            PARTNER_KINDS, TRANSIT_MODES)

blp = Blueprint("partners", __name__, url_prefix="/api/v1", description="Partners")


class PartnerCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    kind = fields.String(required=True, validate=validate.OneOf(PARTNER_KINDS))


class PartnerScopeSchema(Schema):
    action_type = fields.String(required=True, validate=validate.OneOf(ACTION_TYPES))
    modes = fields.List(fields.String(validate=validate.OneOf(TRANSIT_MODES)),
                        metadata={"description": "transit only; left out: every mode"})
    scenes = fields.List(fields.String(validate=validate.OneOf(EVERYDAY_SCENES)),
                         metadata={"description": "everyday only; left out: every scene"})
    utilities = fields.List(fields.String(validate=validate.OneOf(METERED_UTILITIES)),
                            metadata={"description": "household_energy only; left out: both"})


def _scopes_of(partner) -> list[dict]:
    if isinstance(partner, dict):  # a view built by _with_secret
        return partner["scopes"]
    return partner_rules.scopes_from_pairs(partner_service.current_scope_pairs(partner))


class PartnerSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    kind = fields.String()
    key_id = fields.String()
    scopes = fields.Function(_scopes_of, metadata={
        "description": "What it may report now: [{action_type, modes? | scenes? | utilities?}]"})
    suspended = fields.Boolean(attribute="is_suspended")
    created_at = fields.DateTime()


class PartnerWithSecretSchema(PartnerSchema):
    secret = fields.String(metadata={"description": "Shown once; store it now."})


class PartnerListSchema(Schema):
    items = fields.List(fields.Nested(PartnerSchema))


class PartnerUpdateSchema(Schema):
    scopes = fields.List(fields.Nested(PartnerScopeSchema), required=True, metadata={
        "description": "Replaces the scopes; merchants and enterprise buyers take none (422)"})


class PartnerSuspendSchema(Schema):
    suspended = fields.Boolean(load_default=True)


def _with_secret(issued):
    p = issued.partner
    return {"id": p.id, "name": p.name, "kind": p.kind, "key_id": p.key_id, "scopes": _scopes_of(p),
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


@blp.route("/admin/partners/<uuid:partner_id>", methods=["PATCH"])
@access("admin")
@blp.arguments(PartnerUpdateSchema)
@blp.response(200, PartnerSchema)
def update_partner(data, partner_id: uuid.UUID):
    """Set what a data partner may report (audited with before and after; history kept)."""
    return partner_service.set_partner_scopes(partner_id=partner_id, scopes=data["scopes"],
                                              actor_user_id=g.user.id)


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
    scopes = fields.Function(_scopes_of, metadata={
        "description": "What its records may be (for data partners; what a binding consents to)"})


class PublicPartnerListSchema(Schema):
    items = fields.List(fields.Nested(PublicPartnerSchema))


@blp.route("/partners", methods=["GET"])
@access.public
@blp.response(200, PublicPartnerListSchema)
def partner_directory():
    """Active partners (id, name, kind) so citizens can bind their cards and accounts."""
    return {"items": [p for p in partner_service.list_partners() if p.suspended_at is None]}


class BindingConfirmSchema(Schema):
    external_ref = fields.String(required=True, validate=validate.Length(min=1, max=64))
    confirmation_code = fields.String(required=True, validate=validate.Length(min=1, max=32))


class BindingConfirmedSchema(Schema):
    status = fields.String(metadata={"description": "active"})
    binding_id = fields.UUID(attribute="id")
    granted_at = fields.DateTime()
    scopes = fields.List(fields.String(), metadata={
        "description": "Action types the citizen consented to: send only these"})


@blp.route("/partner/bindings/confirm", methods=["POST"])
@access.partner
@blp.arguments(BindingConfirmSchema)
@blp.response(200, BindingConfirmedSchema)
def confirm_binding(data):
    """Confirm, after checking through your own channel that the person holds the card, the
    binding whose one-time code they gave you; a wrong, expired or used code is 422."""
    return binding_service.confirm_binding(partner_id=g.partner.id,
                                           external_ref=data["external_ref"],
                                           confirmation_code=data["confirmation_code"])
