"""The signed-in user's own profile and partner bindings."""
from __future__ import annotations

import uuid

from flask import g
from marshmallow import Schema, fields, validate

from api.auth import access
from api.extensions import Blueprint
from api.fields import GramsString
from carbon_credits.domain.methodology import ACTION_TYPES
from carbon_credits.services import bindings as binding_service
from carbon_credits.services.profile import get_profile

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The signed-in user")

ANY_ROLE = ("citizen", "merchant", "admin", "auditor")


class ProfileSchema(Schema):
    id = fields.UUID()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    display_name = fields.String()
    roles = fields.List(fields.String())
    partner_id = fields.UUID(allow_none=True)
    created_at = fields.DateTime()
    balance = fields.Integer(metadata={"description": "Available points"})
    total_reduction_g = GramsString(metadata={"description": "Lifetime credited reduction, grams CO2e"})


class BindingCreateSchema(Schema):
    partner_id = fields.UUID(required=True)
    external_ref = fields.String(required=True, validate=validate.Length(min=1, max=64))
    scopes = fields.List(fields.String(validate=validate.OneOf(ACTION_TYPES)),
                         validate=validate.Length(min=1, max=len(ACTION_TYPES)),
                         metadata={"description": "Action types consented to; default: all the "
                                                  "partner reports"})


class BindingSchema(Schema):
    """A binding is also the consent record (PIPL art. 14, 15, 29)."""

    id = fields.UUID()
    partner_id = fields.UUID()
    status = fields.String(attribute="shown_status",
                           metadata={"description": "pending | active | ended | withdrawn | expired"})
    external_ref_hint = fields.String(metadata={"description": "Last four characters only"})
    purpose = fields.String(metadata={"description": "What the operator's records are used for"})
    scopes = fields.List(fields.String(), metadata={"description": "Action types consented to"})
    notice_version = fields.String(metadata={"description": "The notice shown; 'migrated' for "
                                                            "bindings made before consent records"})
    expires_at = fields.DateTime(attribute="code_expires_at", allow_none=True,
                                 metadata={"description": "Until when the confirmation code works"})
    granted_at = fields.DateTime(allow_none=True, metadata={"description": "Confirmed by the operator"})
    covers_from = fields.DateTime(allow_none=True, metadata={
        "description": "Records of actions from this instant on (null: any earlier time)"})
    ended_at = fields.DateTime(allow_none=True, metadata={
        "description": "Records of actions from this instant on go elsewhere (changeover)"})
    withdrawn_at = fields.DateTime(allow_none=True, metadata={
        "description": "Consent withdrawn: no record is received from this instant on"})
    created_at = fields.DateTime()


class BindingRequestedSchema(BindingSchema):
    confirmation_code = fields.String(allow_none=True, metadata={
        "description": "Shown once: give it to the operator (its app, counter or the card's "
                       "registered phone); valid 15 minutes, single use"})


class BindingListSchema(Schema):
    items = fields.List(fields.Nested(BindingSchema))


@blp.route("", methods=["GET"])
@access(*ANY_ROLE)
@blp.response(200, ProfileSchema)
def profile():
    """My profile, balance and lifetime reduction."""
    return get_profile(user=g.user)


@blp.route("/bindings", methods=["GET"])
@access("citizen")
@blp.response(200, BindingListSchema)
def list_bindings():
    """My cards and accounts, with their consent history (pending, active, ended, withdrawn)."""
    return {"items": binding_service.list_bindings(user_id=g.user.id)}


@blp.route("/bindings", methods=["POST"])
@access("citizen")
@blp.arguments(BindingCreateSchema)
@blp.response(201, BindingRequestedSchema)
@blp.alt_response(200, schema=BindingRequestedSchema,
                  description="This card is already actively bound to me: that binding")
def create_binding(data):
    """Ask to bind a transit card, charging account or recycling card: a pending binding and a
    one-time code for the operator, who confirms it; only then do its records reach me."""
    requested = binding_service.request_binding(user_id=g.user.id, partner_id=data["partner_id"],
                                                external_ref=data["external_ref"],
                                                scopes=data.get("scopes"))
    binding = requested.binding
    view = {name: getattr(binding, name) for name in (
        "id", "partner_id", "shown_status", "external_ref_hint", "purpose", "scopes",
        "notice_version", "code_expires_at", "granted_at", "covers_from", "ended_at",
        "withdrawn_at", "created_at")}
    view["confirmation_code"] = requested.confirmation_code
    return view, 201 if requested.created else 200


@blp.route("/bindings/<uuid:binding_id>", methods=["DELETE"])
@access("citizen")
@blp.response(200, BindingSchema)
def delete_binding(binding_id: uuid.UUID):
    """Withdraw my consent now: the binding receives no more records; its history is kept."""
    return binding_service.withdraw_binding(user_id=g.user.id, binding_id=binding_id)
