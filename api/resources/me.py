"""The signed-in user's own profile, partner bindings and personal-data rights (export, erasure)."""
from __future__ import annotations

import uuid

import datetime as dt

from flask import Response, g, stream_with_context
from marshmallow import Schema, fields, validate

from api.auth import access
from api.extensions import Blueprint
from api.fields import EXAMPLE_PASSWORD, GramsString, RegionCode
from carbon_credits.services import bindings as binding_service
from carbon_credits.services import privacy as privacy_service
from carbon_credits.services.profile import get_profile, update_profile
from carbon_credits.domain.vocabulary import ACTION_TYPES, LEADERBOARD_VISIBILITIES, ROLES

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The signed-in user")


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
    verified = fields.Boolean(metadata={"description": "The identifier was proven with a code"})
    leaderboard_visibility = fields.String(metadata={
        "description": "named | pseudonym | hidden: how I appear on leaderboards"})
    region = fields.String(allow_none=True, metadata={
        "description": "My district (GB/T 2260 code, GET /api/v1/regions); my actions count "
                       "there unless their partner or station has one. null: none chosen",
        "example": "320505"})
    region_since = fields.DateTime(allow_none=True, metadata={
        "description": "When I chose it; my earlier actions keep the district they counted for"})


PROFILE_EXAMPLE = {
    "id": "0b7f4c52-8f3e-4a57-9d1c-2f5f6c1d9e11", "email": "ana@example.org", "phone": None,
    "display_name": "Ana", "roles": ["citizen"], "partner_id": None,
    "created_at": "2026-03-02T08:15:00+00:00", "balance": 1240, "total_reduction_g": "1240.000",
    "verified": True, "leaderboard_visibility": "pseudonym", "region": "320505",
    "region_since": "2026-03-02T08:20:00+00:00"}


class ProfileUpdateSchema(Schema):
    display_name = fields.String(validate=validate.Length(min=1, max=64),
                                 metadata={"example": "Ana L."})
    leaderboard_visibility = fields.String(
        validate=validate.OneOf(LEADERBOARD_VISIBILITIES),
        metadata={"description": "named: my display name; pseudonym: a stable name like "
                                 "'Citizen 3f9a0c12' that does not reveal me; hidden: not listed",
                  "example": "pseudonym"})
    region = RegionCode(allow_none=True, metadata={
        "description": "My district from now on: the 6-digit GB/T 2260 code of one of Suzhou's "
                       "districts or county-level cities (GET /api/v1/regions; a retired code "
                       "such as 320584 is stored as its current one); null: none. Unknown: 422",
        "example": "320505"})


class EraseSchema(Schema):
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=128),
                             metadata={"description": "My current password, re-entered",
                                       "example": EXAMPLE_PASSWORD})


class ErasureSchema(Schema):
    erased_at = fields.DateTime()
    sessions_revoked = fields.Integer()
    bindings_withdrawn = fields.Integer()
    vouchers_cancelled = fields.Integer()
    points_forfeited = fields.Integer(metadata={
        "description": "The available balance, moved to the forfeiture account"})


ERASURE_EXAMPLE = {"erased_at": "2026-05-04T09:30:00+00:00", "sessions_revoked": 2,
                   "bindings_withdrawn": 1, "vouchers_cancelled": 1, "points_forfeited": 860}

EXPORT_EXAMPLE = {
    "format": "carbon-credits-personal-data/1", "exported_at": "2026-05-04T09:30:00+00:00",
    "profile": {"id": "0b7f4c52-8f3e-4a57-9d1c-2f5f6c1d9e11", "email": "ana@example.org",
                "phone": None, "display_name": "Ana", "roles": ["citizen"],
                "verified_at": "2026-03-02T08:16:00+00:00", "erased_at": None,
                "leaderboard_visibility": "named", "leaderboard_pseudonym": "Citizen 3f9a0c12",
                "region": "320505", "region_since": "2026-03-02T08:20:00+00:00",
                "points": {"balance": 1240, "reserved": 0}},
    "bindings": [{"id": "5d1e0c7a-3b9f-4f64-8d0e-6c2b9a7f1e22", "partner_name": "Metro Co",
                  "status": "active", "external_ref_hint": "0001", "scopes": ["transit"],
                  "purpose": "Credit your metro and bus trips", "notice_version": "2026-01",
                  "granted_at": "2026-03-02T09:00:00+00:00", "withdrawn_at": None}],
    "actions": [{"id": "9a4c2f10-1d2e-4b3c-8f5a-7e6d5c4b3a21", "action_type": "transit",
                 "mode": "metro", "inputs": {"distance_km": "12.4"}, "status": "credited",
                 "methodology_code": "SH-METRO", "methodology_version": 1,
                 "breakdown": [{"step": "baseline", "value": "1240.000"}], "points": 1240}],
    "statement": [{"seq": 17, "kind": "earn", "amount": 1240, "change": 1240,
                   "balance_after": 1240, "action_id": "9a4c2f10-1d2e-4b3c-8f5a-7e6d5c4b3a21"}],
    "receipts": [{"action_id": "9a4c2f10-1d2e-4b3c-8f5a-7e6d5c4b3a21",
                  "document": "eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiJ9.eyJ0eXBlIjoi..."}],
    "redemptions": [], "adjustments": [],
    "region_history": [{"region": "320505", "valid_from": "2026-03-02T08:20:00+00:00",
                        "valid_until": None}],
    "role_grants": [],
    "sessions": [{"id": "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "user_agent": "CityApp/2.3",
                  "ip_address": "203.0.113.7", "revoked_at": None}],
    "one_time_codes": [{"purpose": "verify", "used_at": "2026-03-02T08:16:00+00:00"}],
    "audit_entries": [{"id": 42, "action": "binding.request", "object_type": "binding",
                       "details": {"scopes": ["transit"]}}]}


class BindingCreateSchema(Schema):
    partner_id = fields.UUID(required=True)
    external_ref = fields.String(required=True, validate=validate.Length(min=1, max=64))
    scopes = fields.List(fields.String(validate=validate.OneOf(ACTION_TYPES)),
                         validate=validate.Length(min=1, max=len(ACTION_TYPES)),
                         metadata={"description": "Action types consented to; default: all the "
                                                  "partner reports"})
    household_id = fields.UUID(load_default=None, metadata={
        "description": "utility accounts only (required there): the household, of which I am a "
                       "member, whose members the readings credit (docs/households.md)"})


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
    household_id = fields.UUID(allow_none=True, metadata={
        "description": "A utility account's household"})
    created_at = fields.DateTime()


class BindingRequestedSchema(BindingSchema):
    confirmation_code = fields.String(allow_none=True, metadata={
        "description": "Shown once: give it to the operator (its app, counter or the card's "
                       "registered phone); valid 15 minutes, single use"})


class BindingListSchema(Schema):
    items = fields.List(fields.Nested(BindingSchema))


BINDING_EXAMPLE = {
    "id": "5d1e0c7a-3b9f-4f64-8d0e-6c2b9a7f1e22", "partner_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "status": "active", "external_ref_hint": "9012", "purpose": "Credit your metro and bus trips",
    "scopes": ["transit"], "notice_version": "2026-01", "expires_at": None,
    "granted_at": "2026-03-02T09:00:00+00:00", "covers_from": "2026-03-02T09:00:00+00:00",
    "ended_at": None, "withdrawn_at": None, "household_id": None,
    "created_at": "2026-03-02T08:58:00+00:00"}
BINDING_REQUESTED_EXAMPLE = {
    **BINDING_EXAMPLE, "status": "pending", "granted_at": None, "covers_from": None,
    "expires_at": "2026-03-02T09:13:00+00:00", "confirmation_code": "482913"}


@blp.route("", methods=["GET"])
@access(*ROLES)
@blp.response(200, ProfileSchema, example=PROFILE_EXAMPLE)
def profile():
    """My profile, balance and lifetime reduction.

    For every role; `balance` is the available balance (GET /api/v1/me/balance has the
    reserved points and expiries), `total_reduction_g` the grams CO2e credited so far."""
    return get_profile(user=g.user)


@blp.route("", methods=["PATCH"])
@access(*ROLES)
@blp.arguments(ProfileUpdateSchema, example={"leaderboard_visibility": "pseudonym",
                                             "region": "320505"})
@blp.response(200, ProfileSchema, example=PROFILE_EXAMPLE)
def edit_profile(data):
    """Change my display name, leaderboard visibility or district.

    Send only what changes. Leaderboards show me `named`, as a stable `pseudonym` or not at
    all (`hidden`); a new district applies from now on, earlier actions keep theirs."""
    return get_profile(user=update_profile(user_id=g.user.id, changes=data))


@blp.route("/export", methods=["GET"])
@access(*ROLES)
@blp.response(200, description="Everything held about me, as one JSON document (an attachment, "
                               "streamed from one consistent snapshot)", example=EXPORT_EXAMPLE)
def export_my_data():
    """Download everything held about me (PIPL art. 45).

    Profile, bindings and consent history, actions with their inputs and calculation,
    statement, vouchers, sessions and audit entries, as one JSON attachment streamed from one
    consistent snapshot (docs/privacy.md)."""
    day = dt.date.today().isoformat()
    chunks = privacy_service.export_personal_data(user_id=g.user.id)
    return Response(stream_with_context(chunks), mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="carbon-credits-my-data-{day}.json"',
        "Cache-Control": "no-store"})


@blp.route("", methods=["DELETE"])
@access(*ROLES)
@blp.arguments(EraseSchema, example={"password": EXAMPLE_PASSWORD})
@blp.response(200, ErasureSchema, example=ERASURE_EXAMPLE)
def erase_me(data):
    """Erase me (citizens; password re-entered).

    Identifiers, name and card references removed, sessions ended, open vouchers cancelled,
    remaining points forfeited. Actions and ledger stay for audit, no longer linked to me.
    Staff accounts are closed by an administrator (403)."""
    return privacy_service.erase_user(user_id=g.user.id, password=data["password"])


@blp.route("/bindings", methods=["GET"])
@access("citizen")
@blp.response(200, BindingListSchema, example={"items": [BINDING_EXAMPLE]})
def list_bindings():
    """My cards and accounts, with their consent history.

    Each binding is also the consent record: what it is for (`purpose`), the action types
    consented to (`scopes`), the notice shown, and when it was granted or withdrawn."""
    return {"items": binding_service.list_bindings(user_id=g.user.id)}


@blp.route("/bindings", methods=["POST"])
@access("citizen")
@blp.arguments(BindingCreateSchema, example={
    "partner_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "external_ref": "6230 1234 5678 9012",
    "scopes": ["transit"]})
@blp.response(201, BindingRequestedSchema, example=BINDING_REQUESTED_EXAMPLE)
@blp.alt_response(200, schema=BindingRequestedSchema,
                  description="This card is already actively bound to me: that binding")
def create_binding(data):
    """Ask to bind a transit card, charging account or recycling card.

    The answer is a pending binding and a one-time code for the operator, who confirms it
    (`POST /api/v1/partner/bindings/confirm`); only then do its records reach me."""
    requested = binding_service.request_binding(user_id=g.user.id, partner_id=data["partner_id"],
                                                external_ref=data["external_ref"],
                                                scopes=data.get("scopes"),
                                                household_id=data["household_id"])
    binding = requested.binding
    view = {name: getattr(binding, name) for name in (
        "id", "partner_id", "shown_status", "external_ref_hint", "purpose", "scopes",
        "notice_version", "code_expires_at", "granted_at", "covers_from", "ended_at",
        "withdrawn_at", "household_id", "created_at")}
    view["confirmation_code"] = requested.confirmation_code
    return view, 201 if requested.created else 200


@blp.route("/bindings/<uuid:binding_id>", methods=["DELETE"])
@access("citizen")
@blp.response(200, BindingSchema, example={**BINDING_EXAMPLE, "status": "withdrawn",
                                           "withdrawn_at": "2026-05-01T12:00:00+00:00"})
def delete_binding(binding_id: uuid.UUID):
    """Withdraw my consent now: the binding receives no more records; its history is kept.

    The answer is the binding as it now stands (`withdrawn`)."""
    return binding_service.withdraw_binding(user_id=g.user.id, binding_id=binding_id)
