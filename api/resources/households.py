"""Households: membership and split for citizens, monthly meter readings from utilities
(docs/households.md)."""
from __future__ import annotations

import uuid

from flask import g
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.auth import access
from api.extensions import Blueprint
from api.fields import GramsString, StrictDecimal
from api.idempotency import idempotent
from carbon_credits.domain import metering
from carbon_credits.domain.vocabulary import HOUSEHOLD_SPLITS, METERED_UTILITIES, mg_to_grams
from carbon_credits.services import households as service

blp = Blueprint("households", __name__, url_prefix="/api/v1",
                description="Households and metered saving")


class HouseholdCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=80),
                         metadata={"example": "Home on Shilu Road"})


class MemberSchema(Schema):
    user_id = fields.UUID()
    display_name = fields.String()
    share = fields.Integer(metadata={"description": "Weight under the `shares` rule"})
    joined_at = fields.DateTime()


class HouseholdSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    holder_id = fields.UUID(metadata={"description": "Sets the split and invites members"})
    split_rule = fields.String(metadata={"description": "equal | shares"})
    members = fields.List(fields.Nested(MemberSchema))
    created_at = fields.DateTime()


class InvitationSchema(Schema):
    code = fields.String(metadata={"description": "Shown once; give it to the new member"})
    expires_at = fields.DateTime()


class JoinSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))


class SplitSchema(Schema):
    rule = fields.String(required=True, validate=validate.OneOf(HOUSEHOLD_SPLITS))
    shares = fields.Dict(keys=fields.UUID(), values=fields.Integer(
        strict=True, validate=validate.Range(min=1, max=100)), load_default=None,
        metadata={"description": "rule `shares`: a weight (1-100) for every current member"})


class ReadingSchema(Schema):
    id = fields.UUID()
    utility = fields.String()
    period = fields.Function(lambda r: metering.period_text(r.period))
    consumption = fields.Function(lambda r: _milli_text(r.consumption_milli))
    estimated = fields.Boolean()
    status = fields.String(metadata={"description": "credited | rejected | history"})
    reasons = fields.List(fields.Dict())
    reduction_g = fields.Function(lambda r: None if r.reduction_mg is None
                                  else format(mg_to_grams(r.reduction_mg), "f"))
    received_at = fields.DateTime()


class ReadingListSchema(Schema):
    items = fields.List(fields.Nested(ReadingSchema))


HOUSEHOLD_EXAMPLE = {
    "id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "name": "Home on Shilu Road",
    "holder_id": "0b7f4c52-8f3e-4a57-9d1c-2f5f6c1d9e11", "split_rule": "equal",
    "created_at": "2026-12-01T09:00:00+00:00",
    "members": [{"user_id": "0b7f4c52-8f3e-4a57-9d1c-2f5f6c1d9e11", "display_name": "Ana L.",
                 "share": 1, "joined_at": "2026-12-01T09:00:00+00:00"},
                {"user_id": "5d1e0c7a-3b9f-4f64-8d0e-6c2b9a7f1e22", "display_name": "Bo W.",
                 "share": 1, "joined_at": "2026-12-01T09:05:00+00:00"}]}
READING_BATCH_EXAMPLE = {"readings": [
    {"external_id": "SGCC-3205-0000123-2025-11", "external_ref": "0000123",
     "utility": "electricity", "period": "2025-11", "consumption": 230, "estimated": False},
    {"external_id": "SGCC-3205-0000123-2026-11", "external_ref": "0000123",
     "utility": "electricity", "period": "2026-11", "consumption": 200, "estimated": False}]}
HISTORY_REASON = {"code": "history", "outcome": "info", "message": "Older than the claim "
                  "window: kept as a baseline reference, not credited."}
READING_RESULTS_EXAMPLE = {"results": [
    {"index": 0, "external_id": "SGCC-3205-0000123-2025-11", "status": "history",
     "reading_id": "346130de-d85b-43d6-b364-407b969db4b2", "reduction_g": None,
     "credited_g": "0.000", "points": 0, "members": 0, "reasons": [HISTORY_REASON]},
    {"index": 1, "external_id": "SGCC-3205-0000123-2026-11", "status": "credited",
     "reading_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "reduction_g": "16500.000",
     "credited_g": "16500.000", "points": 16500, "members": 2, "reasons": []}]}
READINGS_EXAMPLE = {"items": [
    {"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "utility": "electricity",
     "period": "2026-11", "consumption": "200.000", "estimated": False, "status": "credited",
     "reasons": [], "reduction_g": "16500.000", "received_at": "2026-12-02T01:00:00+00:00"},
    {"id": "346130de-d85b-43d6-b364-407b969db4b2", "utility": "electricity",
     "period": "2025-11", "consumption": "230.000", "estimated": False, "status": "history",
     "reasons": [HISTORY_REASON], "reduction_g": None,
     "received_at": "2026-12-02T01:00:00+00:00"}]}


def _milli_text(milli: int) -> str:
    whole, part = divmod(milli, 1000)
    return f"{whole}.{part:03d}"


def _view(found: service.HouseholdView) -> dict:
    h = found.household
    return {"id": h.id, "name": h.name, "holder_id": h.holder_id, "split_rule": h.split_rule,
            "created_at": h.created_at,
            "members": [{"user_id": m.user_id, "display_name": name, "share": m.share,
                         "joined_at": m.joined_at} for m, name in found.members]}


@blp.route("/me/households", methods=["POST"])
@access("citizen")
@blp.arguments(HouseholdCreateSchema, example={"name": "Home on Shilu Road"})
@blp.response(201, HouseholdSchema, example=HOUSEHOLD_EXAMPLE)
def create_household(data):
    """Create a household; I am its holder and first member (one household at a time).

    Verified citizens only (403 `account_unverified`). The split starts `equal`. Invite the
    others with a one-time code (`POST .../invitations`) and bind the utility account for the
    household (`POST /api/v1/me/bindings` with `household_id`). Already in a household: 409
    (`already_in_household`); a blank name: 422."""
    service.create_household(user_id=g.user.id, name=data["name"])
    return _view(service.get_my_household(user_id=g.user.id))


@blp.route("/me/household", methods=["GET"])
@access("citizen")
@blp.response(200, HouseholdSchema, example=HOUSEHOLD_EXAMPLE)
def get_household():
    """My household, its members and its split.

    Citizens only; members are shown by display name with their `share` weight. Belonging
    to no household is a 404."""
    return _view(service.get_my_household(user_id=g.user.id))


@blp.route("/me/households/<uuid:household_id>/invitations", methods=["POST"])
@access("citizen")
@blp.response(201, InvitationSchema, example={"code": "K7M2QX9P",
                                              "expires_at": "2026-12-02T09:00:00+00:00"})
def invite(household_id: uuid.UUID):
    """A one-time code (24 hours) for the next member: the holder only.

    No body. The code is shown once (only a keyed hash is stored), works once, and a new one
    replaces the last; give it to the person joining. Anyone but the holder asking is a 403
    (`not_household_holder`); an unknown household: 404."""
    code, expires_at = service.invite(user_id=g.user.id, household_id=household_id)
    return {"code": code, "expires_at": expires_at}


@blp.route("/me/households/<uuid:household_id>/members", methods=["POST"])
@access("citizen")
@blp.arguments(JoinSchema, example={"code": "K7M2QX9P"})
@blp.response(201, HouseholdSchema, example=HOUSEHOLD_EXAMPLE)
def join(data, household_id: uuid.UUID):
    """Join with the holder's code: my consent to share the household's credit.

    Verified citizens only (403 `account_unverified`). From now on my share of each reading
    credited goes to my own balance. A wrong, expired or used code is a 422
    (`invitation_invalid`) and changes nothing; already in a household: 409
    (`already_in_household`); 12 members at most (409 `household_full`)."""
    service.join(user_id=g.user.id, household_id=household_id, code=data["code"])
    return _view(service.get_my_household(user_id=g.user.id))


@blp.route("/me/households/<uuid:household_id>/members/me", methods=["DELETE"])
@access("citizen")
@blp.response(204)
def leave(household_id: uuid.UUID):
    """Leave: no share of a month that ends after now (the holder leaves last).

    Members only; 204, no body. What was credited to me stays mine. The holder leaving while
    others remain is a 409 (`holder_leaves_last`)."""
    service.leave(user_id=g.user.id, household_id=household_id)


@blp.route("/me/households/<uuid:household_id>/split", methods=["PUT"])
@access("citizen")
@blp.arguments(SplitSchema, example={"rule": "shares", "shares": {
    "0b7f4c52-8f3e-4a57-9d1c-2f5f6c1d9e11": 2, "5d1e0c7a-3b9f-4f64-8d0e-6c2b9a7f1e22": 1}})
@blp.response(200, HouseholdSchema, example=HOUSEHOLD_EXAMPLE)
def set_split(data, household_id: uuid.UUID):
    """Set how the household's credit is split: equal, or by shares (the holder only).

    `rule: shares` needs a weight 1-100 for every current member, keyed by user id (422
    otherwise); readings credited from now on are split by it, in whole milligrams that add
    up. Another member asking is a 403 (`not_household_holder`)."""
    service.set_split(user_id=g.user.id, household_id=household_id, rule=data["rule"],
                      shares=data["shares"])
    return _view(service.get_my_household(user_id=g.user.id))


@blp.route("/me/households/<uuid:household_id>/readings", methods=["GET"])
@access("citizen")
@blp.response(200, ReadingListSchema, example=READINGS_EXAMPLE)
def list_readings(household_id: uuid.UUID):
    """The household's latest 24 monthly readings and what each was worth.

    Members only (anyone else: 404). `status` is `credited` (with the household's
    `reduction_g`, before the split), `history` (a baseline reference, never credited) or
    `rejected` with `reasons` (an estimated month, no baseline, ...)."""
    service.require_member(household_id, g.user.id)
    return {"items": service.list_readings(household_id=household_id)}


# --- the utility's channel -------------------------------------------------------------------

class MeterReadingInSchema(Schema):
    external_id = fields.String(required=True, validate=[validate.Length(min=1, max=120),
                                                         validate.Regexp(r"^[\x21-\x7e]+$")])
    external_ref = fields.String(required=True, validate=validate.Length(min=1, max=64),
                                 metadata={"description": "The utility account (户号)"})
    utility = fields.String(required=True, validate=validate.OneOf(METERED_UTILITIES))
    period = fields.String(required=True, metadata={"description": "The month, YYYY-MM",
                                                    "example": "2026-11"})
    consumption = StrictDecimal(required=True, validate=validate.Range(min=0, max=1_000_000),
                                metadata={"description": "kWh (electricity) or m³ (water) used "
                                          "in the month; at most 3 decimals"})
    estimated = fields.Boolean(required=True, truthy={True}, falsy={False}, metadata={
        "description": "true when the utility estimated the month instead of reading the meter"})

    @validates_schema
    def _shape(self, data, **kwargs):
        errors = {}
        try:
            metering.parse_period(data.get("period"))
        except ValueError:
            errors["period"] = ["A month written YYYY-MM."]
        consumption = data.get("consumption")
        if consumption is not None and -consumption.as_tuple().exponent > 3:
            errors["consumption"] = ["At most 3 decimal places."]
        if errors:
            raise ValidationError(errors)


class MeterReadingBatchSchema(Schema):
    readings = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1, max=1000),
                           metadata={"description": "Up to 1000 readings (MeterReadingIn)"})


class ReadingResultSchema(Schema):
    index = fields.Integer()
    external_id = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "credited | rejected | history | duplicate "
                                     "| unbound"})
    reading_id = fields.UUID(allow_none=True)
    reduction_g = GramsString(allow_none=True, metadata={"description": "The household's"})
    credited_g = GramsString(metadata={"description": "Credited to its members (daily caps)"})
    points = fields.Integer()
    members = fields.Integer()
    reasons = fields.List(fields.Dict())


class ReadingBatchResultSchema(Schema):
    results = fields.List(fields.Nested(ReadingResultSchema))


def _reading_in(index: int, raw) -> service.ReadingIn:
    data = MeterReadingInSchema().load(raw if isinstance(raw, dict) else {"_": raw})
    return service.ReadingIn(index=index, external_id=data["external_id"],
                             external_ref=data["external_ref"], utility=data["utility"],
                             period=metering.parse_period(data["period"]),
                             consumption=data["consumption"], estimated=data["estimated"])


@blp.route("/partner/meter-readings", methods=["POST"])
@access.partner
@idempotent
@blp.arguments(MeterReadingBatchSchema, example=READING_BATCH_EXAMPLE)
@blp.response(200, ReadingBatchResultSchema, example=READING_RESULTS_EXAMPLE)
def ingest_meter_readings(data):
    """A utility's signed batch of monthly meter readings; one result per reading.

    Utility partners only, signed like every partner request (`X-Partner-Key`, `X-Timestamp`,
    `X-Signature`; docs/partners.md); `Idempotency-Key` replays the first answer. Each
    reading is judged alone: `credited` (saving against the household's own baseline, shared
    among its members), `history` (older than the claim window: a baseline reference),
    `rejected` with reasons (malformed, estimated, no baseline, month not over),
    `unbound` or `duplicate` (a month is settled once). See docs/households.md."""
    valid, results = [], []
    for index, raw in enumerate(data["readings"]):
        try:
            valid.append(_reading_in(index, raw))
        except ValidationError as error:
            external_id = raw.get("external_id") if isinstance(raw, dict) else None
            results.append({"index": index, "status": "rejected", "points": 0, "members": 0,
                            "external_id": external_id if isinstance(external_id, str) else None,
                            "reasons": [{"code": "validation", "message": "Invalid reading.",
                                         "outcome": "reject", "errors": error.messages}]})
    for o in service.record_readings(partner_id=g.partner.id, readings=valid):
        results.append({"index": o.index, "external_id": o.external_id, "status": o.status,
                        "reading_id": o.reading_id, "reduction_g": mg_to_grams(o.reduction_mg),
                        "credited_g": mg_to_grams(o.credited_mg), "points": o.points,
                        "members": o.members, "reasons": o.reasons})
    results.sort(key=lambda r: r["index"])
    return {"results": results}
