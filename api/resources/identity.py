"""Registration, login, token refresh and logout."""
from __future__ import annotations

from flask import g, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.auth import access
from api.extensions import Blueprint, limiter
from carbon_credits.config import get_settings
from carbon_credits.services import auth as auth_service

blp = Blueprint("identity", __name__, url_prefix="/api/v1/auth", description="Identity and tokens")


class RegisterSchema(Schema):
    email = fields.Email(validate=validate.Length(max=254))
    phone = fields.String(validate=validate.Regexp(r"^\+?[0-9]{6,15}$", error="Must be 6-15 digits, optionally with a leading +."))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=10, max=128))
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=64))

    @validates_schema
    def _one_identifier(self, data, **kwargs):
        if not data.get("email") and not data.get("phone"):
            raise ValidationError("Give an email or a phone number.", "email")


class UserSchema(Schema):
    id = fields.UUID(dump_only=True)
    email = fields.String(dump_only=True, allow_none=True)
    phone = fields.String(dump_only=True, allow_none=True)
    display_name = fields.String(dump_only=True)
    roles = fields.List(fields.String(), attribute="sorted_roles", dump_only=True)
    partner_id = fields.UUID(dump_only=True, allow_none=True)
    suspended = fields.Boolean(attribute="is_suspended", dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class LoginSchema(Schema):
    identifier = fields.String(required=True, validate=validate.Length(min=3, max=254))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=128))


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=2048))


class TokenPairSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)


def _login_rate_key() -> str:
    body = g.get("json_body")
    identifier = body.get("identifier") if isinstance(body, dict) else None
    return f"login:{request.remote_addr}:{str(identifier or '').strip().lower()[:254]}"


@blp.route("/register", methods=["POST"])
@access.public
@blp.arguments(RegisterSchema)
@blp.response(201, UserSchema)
def register(data):
    """Register a citizen account."""
    return auth_service.register_user(email=data.get("email"), phone=data.get("phone"),
                                      password=data["password"], display_name=data["display_name"])


@blp.route("/login", methods=["POST"])
@access.public
@limiter.limit(lambda: get_settings().login_rate_limit, key_func=_login_rate_key)
@blp.arguments(LoginSchema)
@blp.response(200, TokenPairSchema)
@blp.alt_response(429, description="Too many attempts (Retry-After)")
def login(data):
    """Exchange credentials for an access and a refresh token."""
    return auth_service.login(identifier=data["identifier"], password=data["password"])


@blp.route("/refresh", methods=["POST"])
@access.public
@blp.arguments(RefreshSchema)
@blp.response(200, TokenPairSchema)
def refresh(data):
    """Rotate a refresh token for a new pair; a reused refresh token revokes its family."""
    return auth_service.refresh(refresh_token=data["refresh_token"])


@blp.route("/logout", methods=["POST"])
@access("citizen", "merchant", "admin", "auditor")
@blp.response(204)
def logout():
    """Revoke this access token and its refresh-token family."""
    auth_service.logout(claims=g.claims)
