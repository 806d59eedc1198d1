"""Green actions: the app channel, the signed partner channel, reads and the review queue."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from flask import g
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.auth import access, staff_region
from api.claim_union import ClaimUnion, publish
from api.extensions import Blueprint
from api.fields import AwareDateTime, GramsString, RegionCode, StrictDecimal
from api.idempotency import idempotent, refer_to
from api.resources import action_examples as ex
from api.pagination import PageArgsSchema, decode_cursor, encode_cursor, page_schema
from api.partner_records import compile_loader
from carbon_credits.domain import actions as rules
from carbon_credits.domain import methodology as method_domain
from carbon_credits.services import actions as action_service
from carbon_credits.services import methodologies as methodology_service
from carbon_credits.services import receipts as receipt_service
from carbon_credits.services import regions as region_service
from carbon_credits.domain.vocabulary import (ACTION_STATUSES, ACTION_TYPES, EVERYDAY_SCENES,
                                            PRIVILEGED_ROLES, TRANSIT_MODES, WASTE_CATEGORIES,
                                            mg_to_grams, scope_mode_fields)
from carbon_credits.domain.clock import utcnow

blp = Blueprint("actions", __name__, url_prefix="/api/v1", description="Green actions")

FUTURE_SKEW = dt.timedelta(minutes=5)
MAX_DURATION = dt.timedelta(hours=24)
# The fields each action type may carry (its shape). What a claim *needs* is not fixed here: it
# comes from the methodology in force for its scope (`required_inputs` of the version's family),
# checked by the pipeline. Only `mode` (transit) and `scene` (everyday) are required here:
# without them there is no scope to ask.
TYPE_FIELDS = {
    "transit": {"mode", "started_at", "ended_at", "distance_km", "boardings"},
    "ev_charging": {"started_at", "ended_at", "energy_kwh", "station_id"},
    "waste_sorting": {"category", "weight_kg", "station_id"},
    "everyday": {"scene", "events", "station_id"},
}
SCOPE_FIELDS = {"transit": "mode", "everyday": "scene"}
ALL_TYPE_FIELDS = set().union(*TYPE_FIELDS.values())


def _inputs_table() -> str:
    """Markdown: the inputs of each calculator family and of each seeded scope."""
    lines = ["| family | required | optional |", "|---|---|---|"]
    for family in method_domain.FAMILIES:
        spec = method_domain.required_inputs(family)
        lines.append(f"| `{family}` | {', '.join(spec['required'])} | "
                     f"{', '.join(spec['optional']) or '-'} |")
    lines += ["", "| scope (as seeded) | methodology | family | required |", "|---|---|---|---|"]
    for scope in methodology_service.seeded_scopes():
        spec = method_domain.required_inputs(scope["family"])
        lines.append(f"| `{scope['scope']}` | {scope['code']} | `{scope['family']}` | "
                     f"{', '.join(spec['required'])} |")
    return "\n".join(lines)


def required_inputs_doc() -> dict:
    """`x-required-inputs` of the claim operations: per family and per seeded scope."""
    return {"families": {f: {k: list(v) for k, v in method_domain.required_inputs(f).items()}
                         for f in method_domain.FAMILIES},
            "scopes": {s["scope"]: {"methodology": s["code"], "family": s["family"],
                                    "required": list(method_domain.required_inputs(s["family"])
                                                     ["required"])}
                       for s in methodology_service.seeded_scopes()}}


CLAIM_DESCRIPTION = f"""A claim. This schema checks shapes and physical maxima only (422); what
a claim must carry comes from the methodology in force for its scope at the action's instant
(a missing input: 422 `missing_inputs` from the app, a `rejected` record with reason
`missing_inputs` from a partner); the methodology's tighter bounds decide plausibility (stored
as rejected with reasons).

**One clock.** A claim with `started_at` and `ended_at` happens when it ends: `occurred_at` may
be left out, and if sent must be within {rules.CLOCK_TOLERANCE.seconds // 60} minutes of
`ended_at`; the action's instant is `ended_at`. A claim without a window (a waste drop-off, a bus
tap-on) needs `occurred_at`. `occurred_at` below stands for that instant.

{_inputs_table()}
"""


class ActionCreateSchema(Schema):
    """A claim: shapes and physical maxima here; required inputs from the methodology in force."""

    class Meta:
        description = CLAIM_DESCRIPTION

    action_type = fields.String(required=True, validate=validate.OneOf(tuple(TYPE_FIELDS)))
    occurred_at = AwareDateTime(metadata={"description": "When it happened: required without "
                                          "started_at/ended_at; otherwise optional and within "
                                          "5 minutes of ended_at"})
    mode = fields.String(validate=validate.OneOf(TRANSIT_MODES))
    started_at = AwareDateTime()
    ended_at = AwareDateTime()
    distance_km = StrictDecimal(validate=validate.Range(min=0, max=500,
                                                        min_inclusive=False))
    boardings = fields.Integer(strict=True, validate=validate.Range(min=1, max=20))
    energy_kwh = StrictDecimal(validate=validate.Range(min=0, max=300,
                                                       min_inclusive=False))
    station_id = fields.String(validate=[validate.Length(min=1, max=64),
                                         validate.Regexp(r"^[\x21-\x7e]+$")])
    category = fields.String(validate=validate.OneOf(WASTE_CATEGORIES))
    weight_kg = StrictDecimal(validate=validate.Range(min=0, max=500,
                                                      min_inclusive=False))
    scene = fields.String(validate=validate.OneOf(EVERYDAY_SCENES),
                          metadata={"description": "everyday: the scene (its methodology's scope)"})
    events = fields.Integer(strict=True, validate=validate.Range(min=1, max=100),
                            metadata={"description": "everyday: qualifying events in this record "
                                      "(orders, purchases, receipts, deposits)"})

    @validates_schema
    def _consistent(self, data, **kwargs):
        allowed = TYPE_FIELDS.get(data.get("action_type"))
        if allowed is None:
            return
        errors = {}
        scope_field = SCOPE_FIELDS.get(data["action_type"])
        if scope_field and scope_field not in data:
            errors[scope_field] = [f"Required for {data['action_type']}."]
        for name in (set(data) & ALL_TYPE_FIELDS) - allowed:
            errors[name] = [f"Not allowed for {data['action_type']}."]
        now = utcnow()
        for name in ("occurred_at", "started_at", "ended_at"):
            if name in data and data[name] > now + FUTURE_SKEW:
                errors[name] = ["Must not be in the future."]
        start, end = data.get("started_at"), data.get("ended_at")
        if (start is None) != (end is None):
            errors["ended_at" if end is None else "started_at"] = [
                "started_at and ended_at come together."]
        elif start and end:
            if end <= start:
                errors["ended_at"] = ["Must be after started_at."]
            elif end - start > MAX_DURATION:
                errors["ended_at"] = ["A single action lasts at most 24 hours."]
            elif not rules.clocks_agree(occurred_at=data.get("occurred_at"), ended_at=end):
                errors["occurred_at"] = [action_service.CLOCK_MESSAGE]
        elif "occurred_at" not in data:
            errors["occurred_at"] = ["Required when the action has no started_at/ended_at."]
        for name, value in data.items():
            if isinstance(value, Decimal) and -value.as_tuple().exponent > 6:
                errors[name] = ["At most 6 decimal places."]
        if errors:
            raise ValidationError(errors)


class PartnerRecordSchema(ActionCreateSchema):
    external_id = fields.String(required=True, validate=[validate.Length(min=1, max=128),
                                                         validate.Regexp(r"^[\x21-\x7e]+$")])
    external_ref = fields.String(required=True, validate=validate.Length(min=1, max=64))


# What PartnerRecordSchema().load gives, without its per-record machinery (api/partner_records).
load_partner_record = compile_loader(PartnerRecordSchema())

# One valid claim per action type: the document's examples (tests send each of them).
CLAIM_EXAMPLES = {
    "transit": {"action_type": "transit", "mode": "metro",
                "started_at": "2026-12-01T08:02:00+08:00",
                "ended_at": "2026-12-01T08:31:00+08:00", "distance_km": 12.4},
    "ev_charging": {"action_type": "ev_charging", "started_at": "2026-12-01T19:00:00+08:00",
                    "ended_at": "2026-12-01T20:00:00+08:00", "energy_kwh": 30,
                    "station_id": "CHG-0042"},
    "waste_sorting": {"action_type": "waste_sorting", "occurred_at": "2026-12-01T09:15:00+08:00",
                      "category": "paper", "weight_kg": 2.5, "station_id": "BIN-0007"},
    "everyday": {"action_type": "everyday", "scene": "own_bag", "events": 1,
                 "occurred_at": "2026-12-01T18:40:00+08:00", "station_id": "SHOP-7"},
}
RECORD_KEYS = {"transit": ("TRIP-2026-12-01-000123", "6230 1234 5678 9012"),
               "ev_charging": ("SESSION-88231", "EV-CARD-5521"),
               "waste_sorting": ("DROP-20261201-0042", "BIN-CARD-1207"),
               "everyday": ("TILL-7-20261201-0193", "MEMBER-1")}
CLAIMS = publish(ClaimUnion(
    ActionCreateSchema, name="ActionClaim", type_fields=TYPE_FIELDS, scope_fields=SCOPE_FIELDS,
    examples=CLAIM_EXAMPLES, description=CLAIM_DESCRIPTION))
PARTNER_RECORDS = publish(ClaimUnion(
    PartnerRecordSchema, name="PartnerRecord", type_fields=TYPE_FIELDS, scope_fields=SCOPE_FIELDS,
    examples={t: {**e, "external_id": RECORD_KEYS[t][0], "external_ref": RECORD_KEYS[t][1]}
              for t, e in CLAIM_EXAMPLES.items()},
    description="A partner's record: a claim as in `ActionClaim` plus your own record id "
                "(`external_id`, resending it is harmless) and the card or account as you know it "
                "(`external_ref`, bound to a citizen). An invalid record is answered as `rejected` "
                "with its field errors; the others in the batch go on.",
    lists=(("PartnerBatch", "records"),)))


class PartnerBatchSchema(Schema):
    records = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1, max=1000),
                          metadata={"description": "Up to 1000 records (`PartnerRecord`); the "
                                    "inputs each scope needs are in `x-required-inputs`"})


class MethodologyRefSchema(Schema):
    code = fields.String()
    version = fields.Integer()


class ActionSchema(Schema):
    id = fields.UUID()
    action_type = fields.String()
    mode = fields.String(allow_none=True)
    scene = fields.String(allow_none=True)
    utility = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    channel = fields.String()
    status = fields.String()
    occurred_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    scheme_day = fields.Date()
    inputs = fields.Dict()
    reduction_g = GramsString(allow_none=True, metadata={"description": "The methodology's result"})
    credited_g = GramsString(metadata={"description": "What was credited (after the daily cap)"})
    points = fields.Integer()
    points_per_gram = fields.Integer()
    methodology = fields.Nested(MethodologyRefSchema, allow_none=True)
    breakdown = fields.List(fields.Dict(), allow_none=True)
    reasons = fields.List(fields.Dict())
    duplicate_of = fields.UUID(allow_none=True)
    created_at = fields.DateTime()
    credited_at = fields.DateTime(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    review_reason = fields.String(allow_none=True)
    reversed_at = fields.DateTime(allow_none=True)
    reversal_reason = fields.String(allow_none=True)
    region = fields.String(allow_none=True, metadata={
        "description": "The district it counts for (GB/T 2260 code), decided once when recorded: "
                       "its registered station's, else its partner's, else the citizen's at its "
                       "instant; null: none", "example": "320505"})


RECEIPT_EXAMPLE = {
    "type": "carbon-credits/receipt/v1", "action_id": "0f7c2a51-9d3e-4b8a-a1c2-5e6f7a8b9c0d",
    "action_type": "transit", "occurred_at": "2026-11-03T08:10:00+00:00",
    "inputs": {"mode": "metro", "distance_km": "10", "started_at": "2026-11-03T07:50:00+00:00",
               "ended_at": "2026-11-03T08:10:00+00:00"},
    "methodology": {"code": "SH-METRO", "version": 1},
    "credited_mg": 970000, "credited_g": "970.000", "points": 970,
    "credited_at": "2026-11-03T08:10:02.000001+00:00",
    "ledger_entry": {"transfer_id": "5b1d9e0a-7c2f-4e3a-9b8d-1f2e3d4c5b6a", "seq": 5123},
    "chain": {"position": 4411, "hash": "9f2c" + "0" * 60,
              "sealed_at": "2026-11-03T08:15:00.123456+00:00"}}


class ActionReceiptSchema(Schema):
    action_id = fields.UUID()
    document = fields.String(metadata={
        "description": "Compact JWS (EdDSA, `kid` of a key in /.well-known/carbon-credits-keys) "
                       "over the canonical JSON of `receipt` (docs/verification.md)"})
    receipt = fields.Dict(metadata={
        "description": "The signed payload. `chain` is null until the sealer has put the earn in "
                       "the hash chain (ask again later); `ledger_entry` is null when the credit "
                       "came to less than one point", "example": RECEIPT_EXAMPLE})


class AdminActionSchema(ActionSchema):
    user_id = fields.UUID()
    partner_id = fields.UUID(allow_none=True)
    external_id = fields.String(allow_none=True)


class RecordResultSchema(Schema):
    index = fields.Integer()
    external_id = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "credited | pending_review | rejected | duplicate | unbound"})
    action_id = fields.UUID(allow_none=True)
    reduction_g = GramsString(allow_none=True)
    points = fields.Integer()
    reasons = fields.List(fields.Dict())


class BatchResultSchema(Schema):
    results = fields.List(fields.Nested(RecordResultSchema))
    summary = fields.Dict(keys=fields.String(), values=fields.Integer())


class ActionQueryArgsSchema(PageArgsSchema):
    action_type = fields.String(load_default=None, validate=validate.OneOf(ACTION_TYPES))
    status = fields.String(load_default=None, validate=validate.OneOf(ACTION_STATUSES))
    occurred_from = AwareDateTime(load_default=None)
    occurred_to = AwareDateTime(load_default=None)


class AdminActionQueryArgsSchema(ActionQueryArgsSchema):
    region = RegionCode(load_default=None, metadata={
        "description": "Only actions counting for this district (district staff: theirs only, "
                       "another is 403)", "example": "320505"})


class ActionDecisionReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


class ApproveSchema(Schema):
    note = fields.String(load_default=None, validate=validate.Length(max=500))


ActionPageSchema = page_schema(ActionSchema, "ActionPageSchema")
AdminActionPageSchema = page_schema(AdminActionSchema, "AdminActionPageSchema")


def action_view(action) -> dict:
    """The stored action as the API shows it (grams from milligrams, methodology reference)."""
    view = {c: getattr(action, c) for c in (
        "id", "action_type", "mode", "category", "channel", "status", "occurred_at", "started_at",
        "ended_at", "scheme_day", "inputs", "points", "points_per_gram", "breakdown", "reasons",
        "duplicate_of", "created_at", "credited_at", "reviewed_at", "review_reason", "reversed_at",
        "reversal_reason", "user_id", "partner_id", "external_id", "region")}
    view.update(scope_mode_fields(action.action_type, action.mode))
    view["breakdown"] = methodology_service.full_breakdown(action.methodology_version_id,
                                                           action.breakdown)
    view["reduction_g"] = mg_to_grams(action.reduction_mg)
    view["credited_g"] = mg_to_grams(action.credited_mg)
    view["methodology"] = ({"code": action.methodology_code, "version": action.methodology_version}
                           if action.methodology_code else None)
    return view


def _submission(data: dict, index: int = 0) -> action_service.Submission:
    return action_service.Submission(channel="app", index=index, **data)


def _page(args, user_id, within=None):
    after = decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))
    items, last = action_service.list_actions(
        user_id=user_id, action_type=args["action_type"], status=args["status"],
        occurred_from=args["occurred_from"], occurred_to=args["occurred_to"], after=after,
        limit=args["limit"], region=args.get("region"), within=within)
    return {"items": [action_view(a) for a in items], "next_cursor": encode_cursor(last)}


# What may change on an action after its claim was answered (a review of a pending claim can
# change everything, so those are stored whole): kept as first sent in the idempotency record.
LATER_CHANGES = ("status", "reasons", "points", "credited_g", "credited_at", "duplicate_of",
                 "reviewed_at", "review_reason", "reversed_at", "reversal_reason")


def rebuild_action_response(action_id: str) -> dict:
    """The body of a replayed claim: the action as stored now (its later changes are put back
    by the idempotency layer)."""
    action = action_service.get_own_action_or_raise(user_id=g.user.id,
                                                    action_id=uuid.UUID(action_id))
    return ActionSchema().dump(action_view(action))


@blp.route("/actions", methods=["POST"])
@access("citizen")
@idempotent(rebuild=rebuild_action_response)
@blp.arguments(ActionCreateSchema)
@blp.response(201, ActionSchema, example=ex.PENDING_ACTION)
@blp.doc(requestBody=CLAIMS.request_body("A claim"),
         **{"x-required-inputs": required_inputs_doc()})
def create_action(data):
    """Report a green action from the app; it is verified, quantified and credited if it may be.

    The body is one claim of the type named by `action_type` (see `ActionClaim`). The answer is
    the stored action: `credited` with its points, `pending_review` when its scope wants an
    auditor (self-reported metro trips do), or `rejected`/`duplicate` with `reasons`. A claim
    the methodology in force cannot quantify (a missing input) is a 422 and stores nothing.
    Send an `Idempotency-Key` to retry safely: the same key and body replay the first answer."""
    action = action_service.record_app_action(
        user_id=g.user.id, submission=_submission(data),
        citizen_region=region_service.CitizenRegion(g.user.region, g.user.region_since))
    if action.status != "pending_review":
        refer_to(action.id, kept=LATER_CHANGES)
    return action_view(action)


@blp.route("/actions", methods=["GET"])
@access("citizen")
@blp.arguments(ActionQueryArgsSchema, location="query")
@blp.response(200, ActionPageSchema, example=ex.page(ex.CREDITED_ACTION))
def list_my_actions(args):
    """My actions, newest first, filtered by type, status and date.

    Keyset pages: pass the answer's `next_cursor` as `cursor` for the next page (null: the
    last page). `occurred_from`/`occurred_to` bound the action's instant (aware times)."""
    return _page(args, g.user.id)


@blp.route("/actions/<uuid:action_id>", methods=["GET"])
@access("citizen")
@blp.response(200, ActionSchema, example=ex.CREDITED_ACTION)
def get_my_action(action_id: uuid.UUID):
    """One of my actions with its methodology version and full breakdown.

    `breakdown` shows each step of the calculation with its parameter's source, so the
    citizen can see how the grams were reached; another citizen's action is a 404."""
    return action_view(action_service.get_own_action_or_raise(user_id=g.user.id, action_id=action_id))


@blp.route("/actions/<uuid:action_id>/receipt", methods=["GET"])
@access("citizen", "admin", "auditor", "verifier", district_scoped=True)
@blp.response(200, ActionReceiptSchema, example={
    "action_id": ex.ACTION_ID, "document": ex.RECEIPT_DOCUMENT, "receipt": RECEIPT_EXAMPLE})
@blp.alt_response(409, description="`action_not_credited`: pending, rejected, duplicate, "
                                   "reversed, or credited 0 g")
def get_action_receipt(action_id: uuid.UUID):
    """The signed receipt of a credited action.

    For its owner, and for the staff who read actions (admins, auditors, verifiers; district
    staff only their district's, else 404). `document` is a compact JWS anyone can check
    offline against the published keys (docs/verification.md)."""
    receipt = receipt_service.get_receipt(
        action_id=action_id, reader_id=g.user.id,
        as_staff=bool(g.user.role_names & set(PRIVILEGED_ROLES)), within=staff_region())
    return {"action_id": receipt.action_id, "document": receipt.document,
            "receipt": receipt.payload}


@blp.route("/partner/actions", methods=["POST"])
@access.partner
@idempotent
@blp.arguments(PartnerBatchSchema, example={"records": list(PARTNER_RECORDS.examples.values())})
@blp.response(200, BatchResultSchema, example=ex.BATCH_RESULT)
@blp.doc(**{"x-required-inputs": required_inputs_doc()})
def ingest_partner_actions(data):
    """A signed batch of up to 1000 operator records; one result per record.

    Signed with `X-Partner-Key`, `X-Timestamp` and `X-Signature` (docs/partners.md, with a
    worked example). Each record is judged alone: an invalid one is `rejected` with its field
    errors, one whose card is not bound is `unbound`, a resent `external_id` is `duplicate`;
    the others are credited, held for review or rejected with reasons."""
    valid, results = [], []
    for index, raw in enumerate(data["records"]):
        try:
            record = load_partner_record(raw if isinstance(raw, dict) else {"_": raw})
        except ValidationError as error:
            external_id = raw.get("external_id") if isinstance(raw, dict) else None
            results.append({"index": index, "status": "rejected", "points": 0,
                            "external_id": external_id if isinstance(external_id, str) else None,
                            "reasons": [{"code": "validation", "message": "Invalid record.",
                                         "outcome": "reject", "errors": error.messages}]})
            continue
        valid.append(_submission(record, index))
    for outcome in action_service.ingest_partner_records(partner_id=g.partner.id, submissions=valid):
        results.append({"index": outcome.index, "external_id": outcome.external_id,
                        "status": outcome.status, "reasons": outcome.reasons,
                        "action_id": outcome.action_id,
                        "reduction_g": mg_to_grams(outcome.reduction_mg),
                        "points": outcome.points if outcome.status == "credited" else 0})
    results.sort(key=lambda r: r["index"])
    summary: dict[str, int] = {}
    for r in results:
        summary[r["status"]] = summary.get(r["status"], 0) + 1
    return {"results": results, "summary": summary}


@blp.route("/admin/actions", methods=["GET"])
@access("auditor", "admin", "verifier", district_scoped=True)
@blp.arguments(AdminActionQueryArgsSchema, location="query")
@blp.response(200, AdminActionPageSchema, example=ex.page(ex.admin_view(ex.PENDING_ACTION)))
def list_all_actions(args):
    """All actions, newest first (`status=pending_review` is the review queue).

    District staff see their district's only; `region` narrows an admin's view to one
    district. Keyset pages as in `GET /api/v1/actions`."""
    return _page(args, None, staff_region())


@blp.route("/admin/actions/<uuid:action_id>", methods=["GET"])
@access("auditor", "admin", "verifier", district_scoped=True)
@blp.response(200, AdminActionSchema, example=ex.admin_view(ex.PENDING_ACTION))
def get_any_action(action_id: uuid.UUID):
    """Any action, with who reported it.

    District staff read their district's actions only; another district's is a 404."""
    return action_view(action_service.get_action_or_raise(action_id, within=staff_region()))


@blp.route("/admin/actions/<uuid:action_id>/approve", methods=["POST"])
@access("auditor", district_scoped=True)
@blp.arguments(ApproveSchema, example={"note": "Card tap-out matches."})
@blp.response(200, AdminActionSchema, example=ex.admin_view(ex.CREDITED_ACTION))
def approve_action(data, action_id: uuid.UUID):
    """Approve a pending claim: credited with the methodology in force when it happened.

    Auditors only. It is credited within the daily cap of the scheme day it happened; a claim
    no longer pending is a 409 (`action_not_pending`)."""
    return action_view(action_service.approve_action(action_id=action_id, actor_user_id=g.user.id,
                                                     note=data["note"], within=staff_region()))


@blp.route("/admin/actions/<uuid:action_id>/reject", methods=["POST"])
@access("auditor", district_scoped=True)
@blp.arguments(ActionDecisionReasonSchema,
               example={"reason": "No tap-out at the destination station."})
@blp.response(200, AdminActionSchema, example=ex.admin_view(ex.REJECTED_ACTION))
def reject_action(data, action_id: uuid.UUID):
    """Reject a pending claim with a reason.

    Auditors only; the reason is stored on the action for the citizen to read. A claim no
    longer pending is a 409 (`action_not_pending`)."""
    return action_view(action_service.reject_action(action_id=action_id, actor_user_id=g.user.id,
                                                    reason=data["reason"], within=staff_region()))


@blp.route("/admin/actions/<uuid:action_id>/reverse", methods=["POST"])
@access("auditor", district_scoped=True)
@idempotent
@blp.arguments(ActionDecisionReasonSchema,
               example={"reason": "The same trip was reported twice by the operator."})
@blp.response(200, AdminActionSchema, example=ex.admin_view(ex.REVERSED_ACTION))
def reverse_action(data, action_id: uuid.UUID):
    """Reverse a credited action: its points are clawed back by a compensating ledger entry.

    Auditors only, for fraud found after credit. The ledger is append-only: the claw-back is a
    new entry. Only a credited action can be reversed (409 otherwise), and not one whose grams
    are in a certified lot."""
    action, _ = action_service.reverse_action(action_id=action_id, actor_user_id=g.user.id,
                                              reason=data["reason"], within=staff_region())
    return action_view(action)
