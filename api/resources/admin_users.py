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
    role = fields.String(metadata={"description": "admin | auditor | verifier"})
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


# Examples for the API document: bodies as the service answers them (a real run, fixed in time).
CITIZEN_ID = "0b7f4c52-8f3e-4a57-9d1c-2f5f6c1d9e11"
REQUESTER_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
APPROVER_ID = "1b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e"
USER_EXAMPLE = {"id": CITIZEN_ID, "email": "ana@example.org", "phone": None,
                "display_name": "Ana", "roles": ["citizen"], "partner_id": None,
                "suspended": False, "region": "320505", "staff_region": None,
                "created_at": "2026-03-02T08:15:00+00:00"}
PENDING_GRANT = {"id": "cc1f6a75-24df-4fce-b9b5-015b31f76fb4", "user_id": CITIZEN_ID,
                 "role": "auditor", "status": "pending", "requested_by": REQUESTER_ID,
                 "requested_at": "2026-12-06T07:14:10.367984+00:00", "decided_by": None,
                 "decided_at": None, "decision_note": None, "region": "320505"}
APPROVED_GRANT = {**PENDING_GRANT, "status": "approved", "decided_by": APPROVER_ID,
                  "decided_at": "2026-12-06T09:02:41.383222+00:00",
                  "decision_note": "Confirmed with the Huqiu district office."}
REJECTED_GRANT = {**PENDING_GRANT, "status": "rejected", "decided_by": APPROVER_ID,
                  "decided_at": "2026-12-06T09:02:41.383222+00:00",
                  "decision_note": "No request from the district office."}
CANCELLED_GRANT = {**PENDING_GRANT, "status": "cancelled",
                   "decided_at": "2026-12-06T08:40:12.458422+00:00"}
AUDIT_ENTRY_EXAMPLE = {
    "id": 48213, "actor_user_id": REQUESTER_ID, "actor_partner_id": None,
    "action": "user.roles_set", "object_type": "user", "object_id": CITIZEN_ID,
    "details": {"before": ["citizen"], "after": ["citizen"], "pending": ["auditor"],
                "region": "320505", "partner_id": None},
    "request_id": "74ff1b71590d4ac59b1ed308f33fc96e",
    "created_at": "2026-12-06T07:14:10.367984+00:00"}


@blp.route("/users", methods=["GET"])
@access("admin")
@blp.arguments(UserQueryArgsSchema, location="query")
@blp.response(200, UserPageSchema, example={"items": [USER_EXAMPLE], "next_cursor": None})
def list_users(args):
    """Users, newest first, searchable by email, phone or display name.

    Admins only. `q` matches part of an email, phone or display name; `role` keeps the users
    holding that role now. Keyset pages: pass `next_cursor` back as `cursor` (null: the last
    page)."""
    after = decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))
    items, last = admin_queries.list_users(q=args["q"], role=args["role"], after=after,
                                           limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/users/<uuid:user_id>", methods=["GET"])
@access("admin")
@blp.response(200, UserSchema, example=USER_EXAMPLE)
def get_user(user_id: uuid.UUID):
    """One user: identifiers, roles in effect, districts and whether suspended.

    Admins only; an unknown id is a 404. Pending role grants are listed under
    `GET /api/v1/admin/role-grants?user_id=...`."""
    return user_service.get_user_or_raise(user_id)


@blp.route("/users/<uuid:user_id>/roles", methods=["POST"])
@access("admin")
@blp.arguments(RolesSchema, example={"roles": ["citizen", "auditor"], "region": "320505"})
@blp.response(200, UserRolesSchema, description="Applied in full", example={
    **USER_EXAMPLE, "roles": ["merchant"], "partner_id": "6baec694-6a8c-4d72-834d-f63210867d6f",
    "pending_grants": []})
@blp.alt_response(202, schema=UserRolesSchema,
                  description="Applied except admin/auditor/verifier additions, which wait as "
                              "pending grants", example={**USER_EXAMPLE,
                                                         "pending_grants": [PENDING_GRANT]})
def set_roles(data, user_id: uuid.UUID):
    """Set a user's roles: removals and citizen/merchant at once, privileged roles on approval.

    Admins only. `roles` is the whole new set. Removals and citizen/merchant additions apply
    at once (200); merchant staff need their merchant's `partner_id` (422). Adding admin,
    auditor or verifier opens a pending grant another admin must approve (202, listed in
    `pending_grants`); `region` scopes such an admin or auditor role to one district. Nobody
    asks for a privileged role for themselves (403 `self_grant`); asking for two of admin,
    auditor and verifier together is a 422 (`conflicting_roles`)."""
    change = user_service.set_roles(user_id=user_id, roles=data["roles"],
                                    partner_id=data["partner_id"], actor_user_id=g.user.id,
                                    region=data["region"])
    return change, 202 if change.is_pending else 200


@blp.route("/role-grants", methods=["GET"])
@access("admin", "auditor")
@blp.arguments(RoleGrantArgsSchema, location="query")
@blp.response(200, RoleGrantPageSchema, example={"items": [PENDING_GRANT], "next_cursor": None})
def list_role_grants(args):
    """Role grants, newest first; `status=pending` is the approval queue.

    Admins and auditors. Filter by `status` or by the grantee (`user_id`). Keyset pages: pass
    `next_cursor` back as `cursor`."""
    after = decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))
    items, last = user_service.list_role_grants(status=args["status"], user_id=args["user_id"],
                                                after=after, limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/role-grants/<uuid:grant_id>", methods=["GET"])
@access("admin", "auditor")
@blp.response(200, RoleGrantSchema, example=APPROVED_GRANT)
def get_role_grant(grant_id: uuid.UUID):
    """One role grant and its decision.

    Admins and auditors; an unknown id is a 404 (`role_grant_not_found`)."""
    return user_service.get_role_grant_or_raise(grant_id)


@blp.route("/role-grants/<uuid:grant_id>/approve", methods=["POST"])
@access("admin")
@blp.arguments(RoleGrantApproveSchema, example={"note": "Confirmed with the Huqiu district office."})
@blp.response(200, RoleGrantSchema, example=APPROVED_GRANT)
def approve_role_grant(data, grant_id: uuid.UUID):
    """Approve another admin's grant request: the role takes effect now (four-eyes).

    Admins only, and neither the requester nor the grantee (403 `four_eyes`). The note is
    optional and kept on the grant and in the audit log. A grant already decided or cancelled
    is a 409 (`role_grant_not_pending`)."""
    return user_service.approve_role_grant(grant_id=grant_id, actor_user_id=g.user.id,
                                           note=data["note"])


@blp.route("/role-grants/<uuid:grant_id>/reject", methods=["POST"])
@access("admin")
@blp.arguments(RoleGrantRejectSchema, example={"note": "No request from the district office."})
@blp.response(200, RoleGrantSchema, example=REJECTED_GRANT)
def reject_role_grant(data, grant_id: uuid.UUID):
    """Reject another admin's grant request, with a note; the role is not given.

    Admins only, and neither the requester nor the grantee (403). A grant already decided or
    cancelled is a 409 (`role_grant_not_pending`)."""
    return user_service.reject_role_grant(grant_id=grant_id, actor_user_id=g.user.id,
                                          note=data["note"])


@blp.route("/role-grants/<uuid:grant_id>/cancel", methods=["POST"])
@access("admin")
@blp.response(200, RoleGrantSchema, example=CANCELLED_GRANT)
def cancel_role_grant(grant_id: uuid.UUID):
    """Withdraw your own pending grant request.

    Only the admin who requested it (403 otherwise); no body. A grant no longer pending is a
    409 (`role_grant_not_pending`)."""
    return user_service.cancel_role_grant(grant_id=grant_id, actor_user_id=g.user.id)


@blp.route("/users/<uuid:user_id>/suspend", methods=["POST"])
@access("admin")
@blp.arguments(SuspendSchema, example={"suspended": True,
                                       "reason": "Card fraud under investigation"})
@blp.response(200, UserSchema, example={**USER_EXAMPLE, "suspended": True})
def suspend(data, user_id: uuid.UUID):
    """Suspend a user (their tokens stop at once) or reinstate them with `suspended: false`.

    Admins only; the reason goes to the audit log. Suspending yourself is a 409
    (`self_suspension`); an unknown user is a 404."""
    return user_service.set_suspended(user_id=user_id, suspended=data["suspended"],
                                      reason=data["reason"], actor_user_id=g.user.id)


@blp.route("/audit-log", methods=["GET"])
@access("auditor", "admin")
@blp.arguments(AuditQueryArgsSchema, location="query")
@blp.response(200, AuditPageSchema, example={"items": [AUDIT_ENTRY_EXAMPLE],
                                             "next_cursor": "WyI0ODIxMyJd"})
def audit_log(args):
    """The audit log, newest first, filtered by object, action, actor or time.

    Auditors and admins. Every change of state writes one entry in the same transaction:
    who (`actor_user_id` or `actor_partner_id`), what (`action`, e.g. `user.roles_set`), on
    which object, with its details and the request id. Keyset pages: pass `next_cursor` back
    as `cursor`."""
    after = decode_cursor(args["cursor"], converters=(int,))
    items, last = admin_queries.list_audit_entries(
        object_type=args["object_type"], object_id=args["object_id"], action=args["action"],
        actor_user_id=args["actor_user_id"], created_from=args["created_from"],
        created_to=args["created_to"], after=after, limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}
