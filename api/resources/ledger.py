"""The points ledger: my balance and statement; the auditors' verify and adjustments."""
from __future__ import annotations

import datetime as dt
import uuid

from flask import g
from marshmallow import Schema, fields, validate

from api.auth import access
from api.extensions import Blueprint
from api.fields import AwareDateTime
from api.idempotency import idempotent
from api.pagination import PageArgsSchema, decode_cursor, encode_cursor, page_schema
from carbon_credits.services import adjustments as adjustment_service
from carbon_credits.services import ledger as ledger_service
from carbon_credits.services.verify import verify_system
from carbon_credits.domain.vocabulary import ADJUSTMENT_REASONS, ADJUSTMENT_STATUSES, MAX_POINTS, TRANSFER_KINDS

blp = Blueprint("ledger", __name__, url_prefix="/api/v1", description="Points ledger")


class ExpiringSchema(Schema):
    points = fields.Integer()
    expires_at = fields.DateTime()


class BalanceSchema(Schema):
    available = fields.Integer(metadata={"description": "Spendable now: posted points minus "
                                                        "open holds and points past expiry"})
    reserved = fields.Integer(metadata={"description": "Held by open redemptions"})
    expiring = fields.List(fields.Nested(ExpiringSchema),
                           metadata={"description": "Live points by expiry, soonest first"})


class StatementEntrySchema(Schema):
    id = fields.UUID()
    kind = fields.String()
    reason = fields.String()
    amount = fields.Integer(metadata={"description": "Signed change to my available balance "
                                                     "(redeem is 0: the points left at reserve)"})
    points = fields.Integer(metadata={"description": "Size of the transfer"})
    balance_after = fields.Integer(allow_none=True)
    action_id = fields.UUID(allow_none=True)
    redemption_id = fields.UUID(allow_none=True)
    donation_id = fields.UUID(allow_none=True, metadata={"description": "A `donate` entry's "
                                                         "receipt (GET /me/donations/{id})"})
    campaign_id = fields.UUID(allow_none=True, metadata={
        "description": "A `bonus` or `bonus_reversal` entry's campaign: incentive points, no "
                       "reduction behind them"})
    event_time = fields.DateTime()
    created_at = fields.DateTime()


class StatementArgsSchema(PageArgsSchema):
    kind = fields.String(load_default=None,
                         validate=validate.OneOf(TRANSFER_KINDS))
    action_id = fields.UUID(load_default=None)
    redemption_id = fields.UUID(load_default=None)
    since = AwareDateTime(load_default=None, data_key="from")
    until = AwareDateTime(load_default=None, data_key="to")


class VerifySchema(Schema):
    ok = fields.Boolean()
    entries_checked = fields.Integer()
    chain_head = fields.String()
    sealed = fields.Integer()
    pending_seal = fields.Integer(metadata={"description": "Transfers the sealer has not "
                                                           "reached yet (not a problem)"})
    problems = fields.List(fields.String())


StatementPageSchema = page_schema(StatementEntrySchema, "StatementPageSchema")


class AdjustmentCreateSchema(Schema):
    user_id = fields.UUID(required=True)
    points = fields.Integer(required=True, strict=True,
                            validate=[validate.Range(min=-MAX_POINTS, max=MAX_POINTS),
                                      validate.NoneOf([0], error="Must not be zero.")],
                            metadata={"description": "> 0 credits the citizen, < 0 takes back"})
    reason = fields.String(required=True, validate=validate.OneOf(ADJUSTMENT_REASONS))
    note = fields.String(required=True, validate=validate.Length(min=3, max=1000),
                         metadata={"description": "Why: kept on the request and in the audit log"})
    external_ref = fields.String(required=True, validate=validate.Length(min=1, max=200),
                                 metadata={"description": "Makes a retried request count once, "
                                                          "e.g. a ticket number"})


class AdjustmentDecisionSchema(Schema):
    note = fields.String(load_default=None, validate=validate.Length(min=3, max=1000))


class AdjustmentRejectionSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=3, max=1000))


class AdjustmentSchema(Schema):
    id = fields.UUID()
    user_id = fields.UUID()
    points = fields.Integer()
    reason = fields.String()
    note = fields.String()
    external_ref = fields.String()
    status = fields.String(metadata={"description": "pending | approved | rejected"})
    requested_by = fields.UUID()
    requested_at = fields.DateTime()
    decided_by = fields.UUID(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)
    transfer = fields.Nested(StatementEntrySchema, allow_none=True,
                             metadata={"description": "The posted transfer, once approved"})


class AdjustmentArgsSchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(ADJUSTMENT_STATUSES))


AdjustmentPageSchema = page_schema(AdjustmentSchema, "AdjustmentPageSchema")

# Examples for the API document.
USER_ID = "de2a67fb-5cd7-4395-b7c0-ba1377ac266a"
EARN_ENTRY = {"id": "5b1d9e0a-7c2f-4e3a-9b8d-1f2e3d4c5b6a", "kind": "earn",
              "reason": "action:25c014e7-8963-487e-ad5a-d7abe5920563", "amount": 1202,
              "points": 1202, "balance_after": 1530,
              "action_id": "25c014e7-8963-487e-ad5a-d7abe5920563", "redemption_id": None,
              "donation_id": None, "campaign_id": None,
              "event_time": "2026-12-01T00:31:00+00:00",
              "created_at": "2026-12-01T02:10:05.112233+00:00"}
CURSOR = "NTEyMw"
ADJUSTMENT_REQUEST = {"user_id": USER_ID, "points": 200, "reason": "goodwill",
                      "note": "Gate fault at People's Square on 1 Dec: trips not recorded.",
                      "external_ref": "TICKET-2026-1201-0042"}
PENDING_ADJUSTMENT = {**ADJUSTMENT_REQUEST, "id": "8e3f1c2a-4b5d-4e6f-9a0b-1c2d3e4f5a6b",
                      "status": "pending", "requested_by": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                      "requested_at": "2026-12-02T09:00:00+00:00", "decided_by": None,
                      "decided_at": None, "decision_note": None, "transfer": None}
APPROVED_ADJUSTMENT = {
    **PENDING_ADJUSTMENT, "status": "approved",
    "decided_by": "1b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e",
    "decided_at": "2026-12-02T10:30:00+00:00", "decision_note": "Gate log confirms the fault.",
    "transfer": {**EARN_ENTRY, "id": "6c2e0f1b-8d3a-4f4b-0c9e-2a3f4e5d6c7b", "kind": "adjustment",
                 "reason": "goodwill", "amount": 200, "points": 200, "balance_after": 1730,
                 "action_id": None, "event_time": "2026-12-02T10:30:00+00:00",
                 "created_at": "2026-12-02T10:30:00+00:00"}}
REJECTED_ADJUSTMENT = {**PENDING_ADJUSTMENT, "status": "rejected",
                       "decided_by": "1b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e",
                       "decided_at": "2026-12-02T10:30:00+00:00",
                       "decision_note": "The gate log shows the trips were recorded."}


@blp.route("/me/balance", methods=["GET"])
@access("citizen")
@blp.response(200, BalanceSchema, example={
    "available": 1530, "reserved": 300,
    "expiring": [{"points": 330, "expires_at": "2027-01-31T16:00:00+00:00"},
                 {"points": 1500, "expires_at": "2028-12-01T02:10:05+00:00"}]})
def balance():
    """My available and reserved points and what expires when.

    Points earned expire after `POINTS_EXPIRY_MONTHS` (first in, first out); `expiring` lists
    the live lots soonest first. `reserved` is held by vouchers not yet confirmed or expired."""
    result = ledger_service.get_balance(user_id=g.user.id)
    return {"available": result.available, "reserved": result.reserved,
            "expiring": [{"points": p, "expires_at": at} for p, at in result.expiring]}


@blp.route("/me/ledger", methods=["GET"])
@access("citizen")
@blp.arguments(StatementArgsSchema, location="query")
@blp.response(200, StatementPageSchema, example={"items": [EARN_ENTRY], "next_cursor": CURSOR})
def statement(args):
    """My ledger entries, newest first, filtered by kind, action, redemption or time.

    Every change of my points is an entry: `earn`, `reserve`/`release`/`redeem` for vouchers,
    `expire`, `reversal`, `adjustment`, `donate`, `bonus` (incentive points, with no
    reduction behind them) and `bonus_reversal` (a bonus taken back because actions behind it
    were reversed). Keyset pages: pass `next_cursor` back as `cursor`."""
    after = decode_cursor(args["cursor"], converters=(int,))
    items, last = ledger_service.list_statement(
        user_id=g.user.id, kind=args["kind"], action_id=args["action_id"],
        redemption_id=args["redemption_id"], since=args["since"], until=args["until"],
        after=after, limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/admin/ledger/verify", methods=["GET"])
@access("auditor", "admin")
@blp.response(200, VerifySchema, example={
    "ok": True, "entries_checked": 48211, "chain_head": "9f2c" + "0" * 60, "sealed": 48190,
    "pending_seal": 21, "problems": []})
def verify():
    """Check the books: double entry, balances, holds, lots and the hash chain.

    Auditors and admins. `ok` is false with one line per finding in `problems`; transfers the
    sealer has not reached yet are counted in `pending_seal` and are not a problem."""
    return verify_system()


@blp.route("/admin/ledger/adjustments", methods=["POST"])
@access("auditor", "admin")
@idempotent
@blp.arguments(AdjustmentCreateSchema, example=ADJUSTMENT_REQUEST)
@blp.response(201, AdjustmentSchema, example=PENDING_ADJUSTMENT)
def request_adjustment(data):
    """Request a correction of a citizen's points; another auditor approves or rejects it.

    Nothing is posted until a second person approves (four-eyes). `external_ref` makes a
    retried request count once; `points` > 0 credits the citizen, < 0 takes points back."""
    return adjustment_service.request_adjustment(actor_user_id=g.user.id, **data)


@blp.route("/admin/ledger/adjustments", methods=["GET"])
@access("auditor", "admin")
@blp.arguments(AdjustmentArgsSchema, location="query")
@blp.response(200, AdjustmentPageSchema,
              example={"items": [PENDING_ADJUSTMENT], "next_cursor": None})
def list_adjustments(args):
    """Adjustment requests, newest first; `status=pending` is the review queue.

    Keyset pages: pass `next_cursor` back as `cursor` (null: the last page)."""
    after = decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))
    items, last = adjustment_service.list_adjustments(status=args["status"], after=after,
                                                      limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/admin/ledger/adjustments/<uuid:adjustment_id>", methods=["GET"])
@access("auditor", "admin")
@blp.response(200, AdjustmentSchema, example=APPROVED_ADJUSTMENT)
def get_adjustment(adjustment_id: uuid.UUID):
    """One adjustment request, its decision and, once approved, its transfer.

    An unknown id is a 404."""
    return adjustment_service.get_adjustment_or_raise(adjustment_id)


@blp.route("/admin/ledger/adjustments/<uuid:adjustment_id>/approve", methods=["POST"])
@access("auditor")
@idempotent
@blp.arguments(AdjustmentDecisionSchema, example={"note": "Gate log confirms the fault."})
@blp.response(200, AdjustmentSchema, example=APPROVED_ADJUSTMENT)
def approve_adjustment(data, adjustment_id: uuid.UUID):
    """Approve someone else's request: posts the `adjustment` transfer (four-eyes).

    Auditors only, and never the requester. A request already decided is a 409
    (`adjustment_not_pending`)."""
    return adjustment_service.approve_adjustment(
        adjustment_id=adjustment_id, actor_user_id=g.user.id, note=data["note"])


@blp.route("/admin/ledger/adjustments/<uuid:adjustment_id>/reject", methods=["POST"])
@access("auditor")
@idempotent
@blp.arguments(AdjustmentRejectionSchema,
               example={"note": "The gate log shows the trips were recorded."})
@blp.response(200, AdjustmentSchema, example=REJECTED_ADJUSTMENT)
def reject_adjustment(data, adjustment_id: uuid.UUID):
    """Reject someone else's request, with a reason (four-eyes); nothing is posted.

    Auditors only, and never the requester. A request already decided is a 409
    (`adjustment_not_pending`)."""
    return adjustment_service.reject_adjustment(
        adjustment_id=adjustment_id, actor_user_id=g.user.id, note=data["note"])
