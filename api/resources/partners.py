"""Partner administration (creation, scopes, secret rotation, suspension) and the signed
binding confirmation."""
from __future__ import annotations

import uuid

from flask import g
from marshmallow import Schema, fields, validate

from api.auth import access
from api.extensions import Blueprint
from api.fields import RegionCode
from carbon_credits.domain import partners as partner_rules
from carbon_credits.services import bindings as binding_service
from carbon_credits.services import partners as partner_service
from carbon_credits.services import regions as region_service
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
    region = fields.String(allow_none=True, metadata={
        "description": "The district its records count for when their station is not "
                       "registered (GB/T 2260 code); null: city-wide (the citizen's district)",
        "example": "320505"})
    created_at = fields.DateTime()


class PartnerWithSecretSchema(PartnerSchema):
    secret = fields.String(metadata={"description": "Shown once; store it now."})


class PartnerListSchema(Schema):
    items = fields.List(fields.Nested(PartnerSchema))


class PartnerUpdateSchema(Schema):
    scopes = fields.List(fields.Nested(PartnerScopeSchema), metadata={
        "description": "Replaces the scopes; merchants and enterprise buyers take none (422)"})
    region = RegionCode(allow_none=True, metadata={
        "description": "Its district from now on (GB/T 2260 code, GET /api/v1/regions); null: "
                       "city-wide. Actions already recorded keep theirs. Unknown code: 422",
        "example": "320505"})


class StationSchema(Schema):
    partner_id = fields.UUID(dump_only=True)
    station_id = fields.String(required=True, validate=[validate.Length(min=1, max=64),
                                                        validate.Regexp(r"^[\x21-\x7e]+$")],
                               metadata={"description": "As the partner sends it in `station_id`",
                                         "example": "EV-0042"})
    region = RegionCode(required=True, metadata={
        "description": "The district it stands in (GB/T 2260 code); records from it count there",
        "example": "320506"})
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class StationListSchema(Schema):
    items = fields.List(fields.Nested(StationSchema))


class PartnerSuspendSchema(Schema):
    suspended = fields.Boolean(load_default=True)


PARTNER_ID = "42dc316b-6ecf-44f9-9324-53ffd4c4f9a0"
PARTNER_EXAMPLE = {"id": PARTNER_ID, "name": "Metro Co", "kind": "transit_operator",
                   "key_id": "pk_e6212f56bf64e04ffb17", "scopes": [{"action_type": "transit"}],
                   "suspended": False, "region": None,
                   "created_at": "2026-12-01T02:00:00.167473+00:00"}
# Not a real secret: an example of its shape (`sk_` and 43 base64url characters).
SECRET_EXAMPLE = "sk_qhTdGP4H4D-lcez1hHq8pj2x5WVRPL3y2tFKJdPwvjE"  # nosec B105 (a made-up example)
STATION_EXAMPLE = {"partner_id": PARTNER_ID, "station_id": "EV-0042", "region": "320506",
                   "created_at": "2026-12-01T03:00:00.120000+00:00",
                   "updated_at": "2026-12-01T03:00:00.120000+00:00"}


def _with_secret(issued):
    p = issued.partner
    return {"id": p.id, "name": p.name, "kind": p.kind, "key_id": p.key_id, "scopes": _scopes_of(p),
            "region": p.region,
            "is_suspended": p.is_suspended, "created_at": p.created_at, "secret": issued.secret}


@blp.route("/admin/partners", methods=["POST"])
@access("admin")
@blp.arguments(PartnerCreateSchema, example={"name": "Metro Co", "kind": "transit_operator"})
@blp.response(201, PartnerWithSecretSchema, example={**PARTNER_EXAMPLE, "secret": SECRET_EXAMPLE})
def create_partner(data):
    """Create a partner; its signing secret is returned once.

    Admins only. `key_id` and `secret` sign the partner's requests (docs/partners.md): store the
    secret now, it is never shown again (`rotate-secret` issues a new one). A data partner starts
    with the scopes of its kind; a name already taken is a 409 (`partner_exists`). Audited."""
    return _with_secret(partner_service.create_partner(name=data["name"], kind=data["kind"],
                                                       actor_user_id=g.user.id))


@blp.route("/admin/partners", methods=["GET"])
@access("admin", "auditor")
@blp.response(200, PartnerListSchema, example={"items": [PARTNER_EXAMPLE]})
def list_partners():
    """All partners (secrets are never listed).

    Admins and auditors; suspended partners included (`suspended: true`)."""
    return {"items": partner_service.list_partners()}


@blp.route("/admin/partners/<uuid:partner_id>", methods=["GET"])
@access("admin", "auditor")
@blp.response(200, PartnerSchema, example=PARTNER_EXAMPLE)
def get_partner(partner_id: uuid.UUID):
    """One partner.

    Admins and auditors: its kind, key id, current scopes, district and whether it is
    suspended; never its secret. Unknown: 404."""
    return partner_service.get_partner_or_raise(partner_id)


@blp.route("/admin/partners/<uuid:partner_id>", methods=["PATCH"])
@access("admin")
@blp.arguments(PartnerUpdateSchema, example={
    "scopes": [{"action_type": "transit", "modes": ["metro", "bus"]}], "region": "320505"})
@blp.response(200, PartnerSchema, example={
    **PARTNER_EXAMPLE, "scopes": [{"action_type": "transit", "modes": ["metro", "bus"]}],
    "region": "320505"})
def update_partner(data, partner_id: uuid.UUID):
    """Set what a data partner may report and its district (audited with before and after).

    Admins only. `scopes` replaces the scopes from now on (records of an action type or mode
    left out are rejected from then, reason `scope_not_allowed`); `region` applies to records
    received from now on. Send at least one of them (422 otherwise). Invalid scopes (a type
    listed twice, `modes` on a type other than transit) and any scope for a merchant or
    enterprise buyer (`partner_kind_has_no_scopes`) are a 422."""
    return partner_service.update_partner(partner_id=partner_id, changes=data,
                                          actor_user_id=g.user.id)


@blp.route("/admin/partners/<uuid:partner_id>/stations", methods=["POST"])
@access("admin")
@blp.arguments(StationSchema, example={"station_id": "EV-0042", "region": "320506"})
@blp.response(201, StationSchema, example=STATION_EXAMPLE)
@blp.alt_response(200, schema=StationSchema, description="The station was registered: moved",
                  example={**STATION_EXAMPLE, "region": "320505",
                           "updated_at": "2026-12-03T08:30:00.450000+00:00"})
def register_station(data, partner_id: uuid.UUID):
    """Register one of a partner's stations in a district (or move it).

    Admins only. Records received from then on with this `station_id` count for that district;
    earlier actions keep theirs. 201 when new, 200 when an existing station was moved (or sent
    again). An unknown district code is a 422 (a retired one is stored as its current code);
    an unknown partner is a 404. Audited."""
    station, created = region_service.register_station(
        partner_id=partner_id, station_id=data["station_id"], region=data["region"],
        actor_user_id=g.user.id)
    return station, 201 if created else 200


@blp.route("/admin/partners/<uuid:partner_id>/stations", methods=["GET"])
@access("admin", "auditor")
@blp.response(200, StationListSchema, example={"items": [STATION_EXAMPLE]})
def list_stations(partner_id: uuid.UUID):
    """A partner's registered stations and their districts.

    Admins and auditors. Stations not listed here count for the partner's own district (or
    the citizen's, when the partner is city-wide)."""
    return {"items": region_service.list_stations(partner_id=partner_id)}


@blp.route("/admin/partners/<uuid:partner_id>/rotate-secret", methods=["POST"])
@access("admin")
@blp.response(200, PartnerWithSecretSchema, example={
    **PARTNER_EXAMPLE, "secret": "sk_IgOhEfMcSQbUhIRTNhdMV5EJp55MUqweVkO1B6qSaAg"})  # nosec B105 (a made-up example)
def rotate_secret(partner_id: uuid.UUID):
    """Issue a new secret; the old one keeps working for the grace period.

    Admins only. The new secret is shown once; the key id stays. Earlier secrets keep signing
    for PARTNER_SECRET_GRACE_HOURS (default 24) so the partner can switch without a gap.
    Audited."""
    return _with_secret(partner_service.rotate_secret(partner_id=partner_id, actor_user_id=g.user.id))


@blp.route("/admin/partners/<uuid:partner_id>/suspend", methods=["POST"])
@access("admin")
@blp.arguments(PartnerSuspendSchema, example={"suspended": True})
@blp.response(200, PartnerSchema, example={**PARTNER_EXAMPLE, "suspended": True})
def suspend_partner(data, partner_id: uuid.UUID):
    """Suspend a partner (its signed requests stop at once) or reinstate it.

    Admins only; `suspended: false` reinstates. A suspended partner's signed requests are
    refused with 401 (`partner_suspended`) and it leaves the public directory. Audited."""
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
@blp.response(200, PublicPartnerListSchema, example={"items": [
    {"id": PARTNER_ID, "name": "Metro Co", "kind": "transit_operator",
     "scopes": [{"action_type": "transit"}]}]})
def partner_directory():
    """Active partners (id, name, kind) so citizens can bind their cards and accounts.

    Public (no login); suspended partners are left out. `scopes` says what a data partner's
    records may be, which is what a citizen's binding consents to."""
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
@blp.arguments(BindingConfirmSchema, example={"external_ref": "6230 1234 5678 9012",
                                                "confirmation_code": "482913"})
@blp.response(200, BindingConfirmedSchema, example={
    "status": "active", "binding_id": "8a2c4568-77c4-4738-84c3-99f73ced674f",
    "granted_at": "2026-12-01T02:05:58.084029+00:00", "scopes": ["transit"]})
def confirm_binding(data):
    """Confirm the binding whose one-time code a card holder gave you.

    Signed by a data partner (`X-Partner-Key`, `X-Timestamp`, `X-Signature`; docs/partners.md),
    after checking through your own channel that the person holds the card. The binding becomes
    `active`: send records for this `external_ref` only of the action types in `scopes`. A
    wrong, expired or used code is a 422 (`confirmation_code_invalid`); a merchant or
    enterprise buyer is a 403 (`partner_cannot_report`)."""
    return binding_service.confirm_binding(partner_id=g.partner.id,
                                           external_ref=data["external_ref"],
                                           confirmation_code=data["confirmation_code"])
