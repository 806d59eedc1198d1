"""The signed-in user's password and sessions."""
from __future__ import annotations

import uuid

from flask import g
from marshmallow import Schema, fields, validate

from api.auth import access
from api.extensions import Blueprint
from api.fields import EXAMPLE_NEW_PASSWORD, EXAMPLE_PASSWORD
from api.resources.identity import new_password_field
from carbon_credits.domain.vocabulary import ROLES
from carbon_credits.services import accounts as account_service

blp = Blueprint("account", __name__, url_prefix="/api/v1/me",
                description="The signed-in user's password and sessions")

ANY_ROLE = ROLES  # every account changes its own password and ends its own sessions


class PasswordChangeSchema(Schema):
    current_password = fields.String(required=True, load_only=True,
                                     validate=validate.Length(min=1, max=128),
                                     metadata={"example": EXAMPLE_PASSWORD})
    new_password = new_password_field(metadata={"example": EXAMPLE_NEW_PASSWORD})


class SessionSchema(Schema):
    id = fields.UUID(metadata={"example": "0b7f4c52-8f3e-4a57-9d1c-2f5f6c1d9e11"})
    created_at = fields.DateTime()
    last_used_at = fields.DateTime()
    expires_at = fields.DateTime(metadata={"description": "Until when the session can refresh"})
    user_agent = fields.String(allow_none=True, metadata={"example": "CityApp/2.3 (Android 14)"})
    ip_address = fields.String(allow_none=True, metadata={"example": "203.0.113.7"})
    current = fields.Boolean(metadata={"description": "The session of this request"})


class SessionListSchema(Schema):
    items = fields.List(fields.Nested(SessionSchema))


SESSIONS_EXAMPLE = {"items": [{
    "id": "0b7f4c52-8f3e-4a57-9d1c-2f5f6c1d9e11", "created_at": "2025-03-01T08:00:00+00:00",
    "last_used_at": "2025-03-02T09:30:00+00:00", "expires_at": "2025-04-01T09:30:00+00:00",
    "user_agent": "CityApp/2.3 (Android 14)", "ip_address": "203.0.113.7", "current": True}]}


@blp.route("/password", methods=["POST"])
@access(*ANY_ROLE)
@blp.arguments(PasswordChangeSchema, example={"current_password": EXAMPLE_PASSWORD,
                                              "new_password": EXAMPLE_NEW_PASSWORD})
@blp.response(204)
@blp.alt_response(403, description="The current password is wrong (`wrong_password`)")
@blp.alt_response(429, description="Too many wrong passwords (Retry-After)",
                  headers={"Retry-After": {"description": "Seconds until another try is counted",
                                           "schema": {"type": "integer", "example": 60}}})
def change_password(data):
    """Change the password; every other session ends, this one stays.

    Any signed-in account. The current password is re-entered (403 `wrong_password`; too
    many wrong tries are throttled, 429 with Retry-After). The new one must meet the same
    rules as at registration (422). Every other session's refresh and access tokens stop
    working at once; 204, no body."""
    account_service.change_password(user_id=g.user.id, family_id=str(g.claims["fam"]),
                                    current_password=data["current_password"],
                                    new_password=data["new_password"])


@blp.route("/sessions", methods=["GET"])
@access(*ANY_ROLE)
@blp.response(200, SessionListSchema, example=SESSIONS_EXAMPLE)
def list_sessions():
    """The live sessions (logins) of the signed-in user, newest first.

    Any signed-in account. One per login not ended and not expired, with the user agent and
    address it logged in from and when it was last used; `current` marks the session of this
    request. End one with `DELETE /api/v1/me/sessions/{id}`."""
    return {"items": account_service.list_sessions(user_id=g.user.id,
                                                   family_id=str(g.claims["fam"]))}


@blp.route("/sessions/<uuid:session_id>", methods=["DELETE"])
@access(*ANY_ROLE)
@blp.response(204)
@blp.alt_response(404, description="No such session of the signed-in user")
def delete_session(session_id: uuid.UUID):
    """End one session: its refresh and access tokens stop working at once.

    Any signed-in account, for its own sessions only: another user's session, or an unknown
    id, is a 404. Ending the current session signs this client out; 204, no body."""
    account_service.revoke_session(user_id=g.user.id, session_id=session_id)
