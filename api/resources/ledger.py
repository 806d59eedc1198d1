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


@blp.route("/me/balance", methods=["GET"])
@access("citizen")
@blp.response(200, BalanceSchema)
def balance():
    """My available and reserved points and what expires when."""
    result = ledger_service.get_balance(user_id=g.user.id)
    return {"available": result.available, "reserved": result.reserved,
            "expiring": [{"points": p, "expires_at": at} for p, at in result.expiring]}


@blp.route("/me/ledger", methods=["GET"])
@access("citizen")
@blp.arguments(StatementArgsSchema, location="query")
@blp.response(200, StatementPageSchema)
def statement(args):
    """My ledger entries, newest first, filtered by kind, action, redemption or time."""
    after = decode_cursor(args["cursor"], converters=(int,))
    items, last = ledger_service.list_statement(
        user_id=g.user.id, kind=args["kind"], action_id=args["action_id"],
        redemption_id=args["redemption_id"], since=args["since"], until=args["until"],
        after=after, limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/admin/ledger/verify", methods=["GET"])
@access("auditor", "admin")
@blp.response(200, VerifySchema)
def verify():
    """Check the books: double entry, balances, holds, lots and the hash chain."""
    return verify_system()


@blp.route("/admin/ledger/adjustments", methods=["POST"])
@access("auditor", "admin")
@idempotent
@blp.arguments(AdjustmentCreateSchema)
@blp.response(201, AdjustmentSchema)
def request_adjustment(data):
    """Request a correction of a citizen's points; another auditor approves or rejects it."""
    return adjustment_service.request_adjustment(actor_user_id=g.user.id, **data)


@blp.route("/admin/ledger/adjustments", methods=["GET"])
@access("auditor", "admin")
@blp.arguments(AdjustmentArgsSchema, location="query")
@blp.response(200, AdjustmentPageSchema)
def list_adjustments(args):
    """Adjustment requests, newest first; `status=pending` is the review queue."""
    after = decode_cursor(args["cursor"], converters=(dt.datetime.fromisoformat, uuid.UUID))
    items, last = adjustment_service.list_adjustments(status=args["status"], after=after,
                                                      limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last)}


@blp.route("/admin/ledger/adjustments/<uuid:adjustment_id>", methods=["GET"])
@access("auditor", "admin")
@blp.response(200, AdjustmentSchema)
def get_adjustment(adjustment_id: uuid.UUID):
    """One adjustment request, its decision and, once approved, its transfer."""
    return adjustment_service.get_adjustment_or_raise(adjustment_id)


@blp.route("/admin/ledger/adjustments/<uuid:adjustment_id>/approve", methods=["POST"])
@access("auditor")
@idempotent
@blp.arguments(AdjustmentDecisionSchema)
@blp.response(200, AdjustmentSchema)
def approve_adjustment(data, adjustment_id: uuid.UUID):
    """Approve someone else's request: posts the `adjustment` transfer (four-eyes)."""
    return adjustment_service.approve_adjustment(
        adjustment_id=adjustment_id, actor_user_id=g.user.id, note=data["note"])


@blp.route("/admin/ledger/adjustments/<uuid:adjustment_id>/reject", methods=["POST"])
@access("auditor")
@idempotent
@blp.arguments(AdjustmentRejectionSchema)
@blp.response(200, AdjustmentSchema)
def reject_adjustment(data, adjustment_id: uuid.UUID):
    """Reject someone else's request, with a reason (four-eyes); nothing is posted."""
    return adjustment_service.reject_adjustment(
        adjustment_id=adjustment_id, actor_user_id=g.user.id, note=data["note"])
