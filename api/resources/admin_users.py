"""User administration and the audit log."""
from __future__ import annotations

import datetime as dt
import uuid

from flask import g
from marshmallow import Schema, fields, validate

from api.auth import access
from api.extensions import Blueprint
from api.fields import AwareDateTime, RegionCode
from api.pagination import PageArgsSchema, decode_cursor, encode_cursor, page_schema
from api.resources.identity import UserSchema
from carbon_credits.services import admin_queries, users as user_service
from carbon_credits.domain.vocabulary import ROLES, ROLE_GRANT_STATUSES

blp = Blueprint("admin_users", __name__, url_prefix="/api/v1/admin", description="User administration and audit log")


class RolesSchema(Schema):
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True,
                        validate=validate.Length(min=1, max=4))
    partner_id = fields.UUID(load_default=None)
    region = RegionCode(load_default=None, allow_none=True, metadata={
        "description": "Scope the admin or auditor role asked for to one district (GB/T 2260 "
                       "code); left out or null: city-wide. Only with such a role newly asked "
                       "for (422 `region_needs_grant`)", "example": "320505"})


class RoleGrantSchema(Schema):
    id = fields.UUID()
    user_id = fields.UUID()
    role = fields.String(metadata={"description": "admin | auditor"})
    status = fields.String(metadata={"description": "pending | approved | rejected | cancelled"})
    requested_by = fields.UUID()
    requested_at = fields.DateTime()
    decided_by = fields.UUID(allow_none=True)
    decided_at = fields.DateTime(allow_none=True, metadata={"description": "Decided or cancelled"})
    decision_note = fields.String(allow_none=True)
    region = fields.String(allow_none=True, metadata={
        "description": "The district the role is scoped to once approved; null: city-wide"})


class UserRolesSchema(UserSchema):
    pending_grants = fields.List(fields.Nested(RoleGrantSchema), dump_only=True, metadata={
        "description": "admin/auditor additions waiting for another admin's approval "
                       "(POST /admin/role-grants/{id}/approve); `roles` lists only what is in "
                       "effect now"})


class RoleGrantArgsSchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(ROLE_GRANT_STATUSES))
    user_id = fields.UUID(load_default=None)


class RoleGrantApproveSchema(Schema):
    note = fields.String(load_default=None, validate=validate.Length(min=1, max=1000))


class RoleGrantRejectSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class SuspendSchema(Schema):
    suspended = fields.Boolean(load_default=True)
    reason = fields.String(load_default=None, validate=validate.Length(max=500))


class UserQueryArgsSchema(PageArgsSchema):
    q = fields.String(load_default=None, validate=validate.Length(min=1, max=100))
    role = fields.String(load_default=None, validate=validate.OneOf(ROLES))


class AuditEntrySchema(Schema):
    id = fields.Integer()
    actor_user_id = fields.UUID(allow_none=True)
    actor_partner_id = fields.UUID(allow_none=True)
    action = fields.String()
    object_type = fields.String()
    object_id = fields.String()
    details = fields.Dict()
    request_id = fields.String(allow_none=True)
    created_at = fields.DateTime()


class AuditQueryArgsSchema(PageArgsSchema):
    object_type = fields.String(load_default=None, validate=validate.Length(max=64))
    object_id = fields.String(load_default=None, validate=validate.Length(max=64))
    action = fields.String(load_default=None, validate=validate.Length(max=64))
    actor_user_id = fields.UUID(load_default=None)
    created_from = AwareDateTime(load_default=None, metadata={"description": "Entries at or after"})
    created_to = AwareDateTime(load_default=None, metadata={"description": "Entries before"})


UserPageSchema = page_schema(UserSchema, "UserPageSchema")
RoleGrantPageSchema = page_schema(RoleGrantSchema, "RoleGrantPageSchema")
AuditPageSchema = page_schema(AuditEntrySchema, "AuditPageSchema")


@blp.route("/users", methods=["GET"])
@access("admin")
@blp.arguments(UserQueryArgsSchema, location="query")
@blp.response(200, UserPageSchema)
def list_users(args):
    """Users, newest first, searchable by email, phone or display name."""
    after = decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))
    items, last = admin_queries.list_users(q=args["q"], role=args["role"], after=after,
                                           limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/users/<uuid:user_id>", methods=["GET"])
@access("admin")
@blp.response(200, UserSchema)
def get_user(user_id: uuid.UUID):
    """One user."""
    return user_service.get_user_or_raise(user_id)


@blp.route("/users/<uuid:user_id>/roles", methods=["POST"])
@access("admin")
@blp.arguments(RolesSchema)
@blp.response(200, UserRolesSchema)
@blp.alt_response(202, schema=UserRolesSchema,
                  description="Applied except admin/auditor additions, which wait as pending grants")
def set_roles(data, user_id: uuid.UUID):
    """Set a user's roles: removals and citizen/merchant apply at once (200); adding admin or
    auditor opens a pending grant another admin must approve (202)."""
    change = user_service.set_roles(user_id=user_id, roles=data["roles"],
                                    partner_id=data["partner_id"], actor_user_id=g.user.id,
                                    region=data["region"])
    return change, 202 if change.is_pending else 200


@blp.route("/role-grants", methods=["GET"])
@access("admin", "auditor")
@blp.arguments(RoleGrantArgsSchema, location="query")
@blp.response(200, RoleGrantPageSchema)
def list_role_grants(args):
    """Role grants, newest first; `status=pending` is the approval queue."""
    after = decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))
    items, last = user_service.list_role_grants(status=args["status"], user_id=args["user_id"],
                                                after=after, limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/role-grants/<uuid:grant_id>", methods=["GET"])
@access("admin", "auditor")
@blp.response(200, RoleGrantSchema)
def get_role_grant(grant_id: uuid.UUID):
    """One role grant and its decision."""
    return user_service.get_role_grant_or_raise(grant_id)


@blp.route("/role-grants/<uuid:grant_id>/approve", methods=["POST"])
@access("admin")
@blp.arguments(RoleGrantApproveSchema)
@blp.response(200, RoleGrantSchema)
def approve_role_grant(data, grant_id: uuid.UUID):
    """Approve another admin's grant request (independent of requester and grantee): the role
    takes effect now."""
    return user_service.approve_role_grant(grant_id=grant_id, actor_user_id=g.user.id,
                                           note=data["note"])


@blp.route("/role-grants/<uuid:grant_id>/reject", methods=["POST"])
@access("admin")
@blp.arguments(RoleGrantRejectSchema)
@blp.response(200, RoleGrantSchema)
def reject_role_grant(data, grant_id: uuid.UUID):
    """Reject another admin's grant request, with a note."""
    return user_service.reject_role_grant(grant_id=grant_id, actor_user_id=g.user.id,
                                          note=data["note"])


@blp.route("/role-grants/<uuid:grant_id>/cancel", methods=["POST"])
@access("admin")
@blp.response(200, RoleGrantSchema)
def cancel_role_grant(grant_id: uuid.UUID):
    """Withdraw your own pending grant request."""
    return user_service.cancel_role_grant(grant_id=grant_id, actor_user_id=g.user.id)


@blp.route("/users/<uuid:user_id>/suspend", methods=["POST"])
@access("admin")
@blp.arguments(SuspendSchema)
@blp.response(200, UserSchema)
def suspend(data, user_id: uuid.UUID):
    """Suspend a user (their tokens stop at once) or reinstate them with `suspended: false`."""
    return user_service.set_suspended(user_id=user_id, suspended=data["suspended"],
                                      reason=data["reason"], actor_user_id=g.user.id)


@blp.route("/audit-log", methods=["GET"])
@access("auditor", "admin")
@blp.arguments(AuditQueryArgsSchema, location="query")
@blp.response(200, AuditPageSchema)
def audit_log(args):
    """The audit log, newest first, filtered by object, action, actor or time."""
    after = decode_cursor(args["cursor"], converters=(int,))
    items, last = admin_queries.list_audit_entries(
        object_type=args["object_type"], object_id=args["object_id"], action=args["action"],
        actor_user_id=args["actor_user_id"], created_from=args["created_from"],
        created_to=args["created_to"], after=after, limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}
