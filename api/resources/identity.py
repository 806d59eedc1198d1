"""Registration with verification, login, token refresh, logout and password reset."""
from __future__ import annotations

from flask import g, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.auth import access
from api.extensions import Blueprint
from api.fields import EXAMPLE_NEW_PASSWORD, EXAMPLE_PASSWORD
from carbon_credits.services import accounts as account_service
from carbon_credits.domain.vocabulary import ROLES
from carbon_credits.services import auth as auth_service
from carbon_credits.services.passwords import MAX_LENGTH as PASSWORD_MAX, MIN_LENGTH as PASSWORD_MIN

blp = Blueprint("identity", __name__, url_prefix="/api/v1/auth", description="Identity and tokens")


def new_password_field(**kwargs):
    """The password policy (one place): 10 to 128 characters."""
    return fields.String(required=True, load_only=True,
                         validate=validate.Length(min=PASSWORD_MIN, max=PASSWORD_MAX), **kwargs)


def client_info() -> auth_service.Client:
    """The caller as the services see it: the peer address (no proxy headers are trusted)."""
    return auth_service.Client(address=request.remote_addr,
                               user_agent=request.user_agent.string or None)


IDENTIFIER_DOC = {"description": "An email address or a phone number (any spelling: "
                                 "`13900139000`, `+86 139 0013 9000`, `008613900139000`)",
                  "example": "ana@example.org"}


class RegisterSchema(Schema):
    email = fields.Email(validate=validate.Length(max=254),
                         metadata={"description": "Normalised (NFKC, case-folded); addresses "
                                                  "mixing look-alike scripts are refused",
                                   "example": "ana@example.org"})
    phone = fields.String(validate=validate.Length(min=3, max=32),
                          metadata={"description": "Any spelling; stored as E.164 (default "
                                                   "region CN)", "example": "+8613900139000"})
    password = new_password_field(metadata={"example": EXAMPLE_PASSWORD})
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=64),
                                 metadata={"example": "Ana"})

    @validates_schema
    def _one_identifier(self, data, **kwargs):
        if not data.get("email") and not data.get("phone"):
            raise ValidationError("Give an email or a phone number.", "email")
        if data.get("email") and data.get("phone"):
            raise ValidationError("Give an email or a phone number, not both.", "phone")


class AccountAcceptedSchema(Schema):
    status = fields.String(required=True, metadata={"example": "verification_sent"})
    detail = fields.String(required=True)


REGISTER_ACCEPTED = {"status": "verification_sent",
                     "detail": "If this address can be registered, a verification code is on its "
                               "way to it; the owner of an existing account is told instead. "
                               "Confirm with POST /api/v1/auth/verify."}
RESET_ACCEPTED = {"status": "reset_code_sent",
                  "detail": "If an account uses this identifier, a reset code is on its way to "
                            "it. Confirm with POST /api/v1/auth/password-reset/confirm."}


class IdentifierVerifySchema(Schema):
    identifier = fields.String(required=True, validate=validate.Length(min=3, max=254),
                               metadata=IDENTIFIER_DOC)
    code = fields.String(required=True, validate=validate.Length(min=1, max=16),
                         metadata={"example": "04811730"})
    password = fields.String(load_only=True, validate=validate.Length(min=1, max=128), metadata={
        "example": EXAMPLE_PASSWORD,
        "description": "The password chosen when registering. Send it always: a code sent by "
                       "registering again over an unverified account works only with the "
                       "password of that registration (docs/accounts.md)."})


class IdentifierVerifiedSchema(Schema):
    status = fields.String(required=True, metadata={"example": "verified"})


class PasswordResetSchema(Schema):
    identifier = fields.String(required=True, validate=validate.Length(min=3, max=254),
                               metadata=IDENTIFIER_DOC)


class PasswordResetConfirmSchema(Schema):
    identifier = fields.String(required=True, validate=validate.Length(min=3, max=254),
                               metadata=IDENTIFIER_DOC)
    code = fields.String(required=True, validate=validate.Length(min=1, max=16),
                         metadata={"example": "59020417"})
    new_password = new_password_field(metadata={"example": EXAMPLE_NEW_PASSWORD})


class UserSchema(Schema):
    id = fields.UUID(dump_only=True)
    email = fields.String(dump_only=True, allow_none=True)
    phone = fields.String(dump_only=True, allow_none=True)
    display_name = fields.String(dump_only=True)
    roles = fields.List(fields.String(), attribute="sorted_roles", dump_only=True)
    partner_id = fields.UUID(dump_only=True, allow_none=True)
    suspended = fields.Boolean(attribute="is_suspended", dump_only=True)
    region = fields.String(dump_only=True, allow_none=True, metadata={
        "description": "The district they chose as a citizen (GB/T 2260 code)"})
    staff_region = fields.String(dump_only=True, allow_none=True, metadata={
        "description": "The district their admin or auditor role is scoped to; null: city-wide"})
    created_at = fields.DateTime(dump_only=True)


class LoginSchema(Schema):
    identifier = fields.String(required=True, validate=validate.Length(min=3, max=254),
                               metadata=IDENTIFIER_DOC)
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=128),
                             metadata={"example": EXAMPLE_PASSWORD})


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=2048))


class TokenPairSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)


# Examples for the API document (made-up, shortened tokens).
TOKEN_PAIR_EXAMPLE = {
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZTJhNjdmYiJ9.c2ln",  # nosec B105
    "refresh_token": "rt_2f7d0c9a4b1e4e8f9a6b3c5d7e1f0a2b.9c8d7e6f5a4b3c2d1e0f",  # nosec B105
    "token_type": "Bearer", "expires_in": 900}  # nosec B105


@blp.route("/register", methods=["POST"])
@access.public
@blp.arguments(RegisterSchema, example={"email": "ana@example.org",
                                        "password": EXAMPLE_PASSWORD,
                                        "display_name": "Ana"})
@blp.response(202, AccountAcceptedSchema, example=REGISTER_ACCEPTED)
@blp.alt_response(429, description="Too many attempts (Retry-After)")
def register(data):
    """Register a citizen account; the same 202 whether or not the identifier is known.

    An email address or a mainland phone number (or both), a password of 10 to 128 characters
    and a display name. A code is sent to the identifier; `POST /auth/verify` with it before
    logging in. The answer never tells whether the identifier already had an account."""
    account_service.register_citizen(email=data.get("email"), phone=data.get("phone"),
                                     password=data["password"], display_name=data["display_name"],
                                     client=client_info())
    return REGISTER_ACCEPTED


@blp.route("/verify", methods=["POST"])
@access.public
@blp.arguments(IdentifierVerifySchema, example={"identifier": "ana@example.org", "code": "04811730",
                                                "password": EXAMPLE_PASSWORD})
@blp.response(200, IdentifierVerifiedSchema, example={"status": "verified"})
@blp.alt_response(422, description="Wrong, expired or spent code, or unknown identifier "
                                   "(`invalid_code`, one message for all)")
@blp.alt_response(429, description="Too many attempts (Retry-After)")
def verify(data):
    """Verify an email address or phone number with the code sent to it.

    Codes expire after `ONE_TIME_CODE_TTL_MINUTES` and are spent on use; tries are throttled
    per identifier and per address (429 with `Retry-After`)."""
    account_service.verify_identifier(identifier=data["identifier"], code=data["code"],
                                      password=data.get("password"), client=client_info())
    return {"status": "verified"}


@blp.route("/password-reset", methods=["POST"])
@access.public
@blp.arguments(PasswordResetSchema, example={"identifier": "+8613900139000"})
@blp.response(202, AccountAcceptedSchema, example=RESET_ACCEPTED)
@blp.alt_response(429, description="Too many attempts (Retry-After)")
def password_reset(data):
    """Ask for a password reset code; the same 202 whether or not the account exists.

    The code goes to the identifier given; confirm it with `POST /auth/password-reset/confirm`.
    Messages per identifier are limited (`THROTTLE_MESSAGE_LIMIT`)."""
    account_service.request_password_reset(identifier=data["identifier"], client=client_info())
    return RESET_ACCEPTED


@blp.route("/password-reset/confirm", methods=["POST"])
@access.public
@blp.arguments(PasswordResetConfirmSchema, example={"identifier": "+8613900139000",
                                                    "code": "59020417",
                                                    "new_password": EXAMPLE_NEW_PASSWORD})
@blp.response(204)
@blp.alt_response(422, description="Wrong, expired or spent code (`invalid_code`)")
@blp.alt_response(429, description="Too many attempts (Retry-After)")
def password_reset_confirm(data):
    """Set a new password with a reset code; verifies the account and ends every session.

    The answer is 204 without a body; log in again with the new password."""
    account_service.confirm_password_reset(identifier=data["identifier"], code=data["code"],
                                           new_password=data["new_password"],
                                           client=client_info())


@blp.route("/login", methods=["POST"])
@access.public
@blp.arguments(LoginSchema, example={"identifier": "13900139000",
                                     "password": EXAMPLE_PASSWORD})
@blp.response(200, TokenPairSchema, example=TOKEN_PAIR_EXAMPLE)
@blp.alt_response(429, description="Too many attempts (Retry-After)")
def login(data):
    """Exchange credentials for an access and a refresh token (a new session).

    Send the access token as `Authorization: Bearer <token>`; it lives `expires_in` seconds.
    Failed logins are limited per identifier across addresses (`LOGIN_RATE_LIMIT`)."""
    return auth_service.login(identifier=data["identifier"], password=data["password"],
                              client=client_info())


@blp.route("/refresh", methods=["POST"])
@access.public
@blp.arguments(RefreshSchema, example={"refresh_token": TOKEN_PAIR_EXAMPLE["refresh_token"]})
@blp.response(200, TokenPairSchema, example=TOKEN_PAIR_EXAMPLE)
def refresh(data):
    """Rotate a refresh token for a new pair; a reused refresh token revokes its family.

    Each refresh token works once: keep the new one. Presenting a spent one again is taken as
    theft and ends the whole session (401)."""
    return auth_service.refresh(refresh_token=data["refresh_token"])


@blp.route("/logout", methods=["POST"])
@access(*ROLES)
@blp.response(204)
def logout():
    """Revoke this access token and its refresh-token family.

    204 without a body; the tokens of the user's other sessions keep working."""
    auth_service.logout(claims=g.claims)
