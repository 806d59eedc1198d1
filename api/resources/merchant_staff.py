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


def _cursor(args):
    return decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))


@blp.route("/merchant/staff", methods=["GET"])
@access("merchant")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, MerchantStaffPageSchema)
def list_staff(args):
    """My merchant's staff, newest first (leads only)."""
    items, last = staff_service.list_merchant_staff(lead_user_id=g.user.id, after=_cursor(args),
                                                    limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/merchant/staff", methods=["POST"])
@access("merchant")
@blp.arguments(MerchantStaffCreateSchema)
@blp.response(201, MerchantStaffSchema)
def add_staff(data):
    """Add a staff account (role `merchant`) to my merchant (leads only)."""
    return staff_service.add_merchant_staff(lead_user_id=g.user.id, **data)


@blp.route("/merchant/staff/<uuid:user_id>/suspend", methods=["POST"])
@access("merchant")
@blp.arguments(MerchantStaffSuspendSchema)
@blp.response(200, MerchantStaffSchema)
def suspend_staff(data, user_id: uuid.UUID):
    """Suspend one of my merchant's staff (their sessions end at once), or reinstate them with
    `suspended: false` (leads only; never themselves, another lead or a scheme role)."""
    return staff_service.set_staff_suspended(lead_user_id=g.user.id, staff_user_id=user_id,
                                             suspended=data["suspended"], reason=data["reason"])


@blp.route("/merchant/staff/<uuid:user_id>", methods=["DELETE"])
@access("merchant")
@blp.response(204)
def remove_staff(user_id: uuid.UUID):
    """Take someone off my merchant's staff: their merchant role goes, their sessions end."""
    staff_service.remove_merchant_staff(lead_user_id=g.user.id, staff_user_id=user_id)


@blp.route("/admin/users/<uuid:user_id>/merchant-lead", methods=["POST"])
@access("admin")
@blp.arguments(MerchantLeadSchema)
@blp.response(200, MerchantStaffSchema)
def set_merchant_lead(data, user_id: uuid.UUID):
    """Make a merchant's staff member its lead (`lead: true`), or no longer."""
    return staff_service.set_merchant_lead(user_id=user_id, lead=data["lead"],
                                           actor_user_id=g.user.id)
