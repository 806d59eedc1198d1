"""The signed-in user's own profile and partner bindings."""
from __future__ import annotations

import uuid

from flask import g
from marshmallow import Schema, fields, validate

from api.auth import access
from api.extensions import Blueprint
from api.fields import GramsString
from api.idempotency import idempotent
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


class BindingSchema(Schema):
    id = fields.UUID()
    partner_id = fields.UUID()
    external_ref_hint = fields.String(metadata={"description": "Last four characters only"})
    created_at = fields.DateTime()


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
    """My bound cards and accounts."""
    return {"items": binding_service.list_bindings(user_id=g.user.id)}


@blp.route("/bindings", methods=["POST"])
@access("citizen")
@idempotent
@blp.arguments(BindingCreateSchema)
@blp.response(201, BindingSchema)
def create_binding(data):
    """Bind a transit card, charging account or recycling card so partner records reach me."""
    return binding_service.bind(user_id=g.user.id, partner_id=data["partner_id"],
                                external_ref=data["external_ref"])


@blp.route("/bindings/<uuid:binding_id>", methods=["DELETE"])
@access("citizen")
@blp.response(204)
def delete_binding(binding_id: uuid.UUID):
    """Remove one of my bindings."""
    binding_service.unbind(user_id=g.user.id, binding_id=binding_id)
