"""The points ledger: my balance and statement; the auditors' verify."""
from __future__ import annotations

from flask import g
from marshmallow import Schema, fields, validate

from api.auth import access
from api.extensions import Blueprint
from api.fields import AwareDateTime
from api.idempotency import idempotent
from api.pagination import PageArgsSchema, decode_cursor, encode_cursor, page_schema
from carbon_credits.services import ledger as ledger_service
from carbon_credits.services.verify import CHECKERS, check_ledger

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
    event_time = fields.DateTime()
    created_at = fields.DateTime()


class StatementArgsSchema(PageArgsSchema):
    kind = fields.String(load_default=None,
                         validate=validate.OneOf(ledger_service.STATEMENT_KINDS))
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
                            validate=[validate.Range(min=-10**12, max=10**12),
                                      validate.NoneOf([0], error="Must not be zero.")],
                            metadata={"description": "> 0 credits the citizen, < 0 takes back"})
    reason = fields.String(required=True, validate=validate.OneOf(ledger_service.ADJUSTMENT_REASONS))
    note = fields.String(required=True, validate=validate.Length(min=3, max=1000),
                         metadata={"description": "Why: kept in the audit log"})
    external_ref = fields.String(required=True, validate=validate.Length(min=1, max=200),
                                 metadata={"description": "Makes a retry post once, e.g. a "
                                                          "ticket number"})


class AdjustmentSchema(StatementEntrySchema):
    """The posted transfer as it appears on the citizen's statement."""


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
    report = ledger_service.verify_ledger()
    for check in CHECKERS:
        if check is not check_ledger:
            report.problems.extend(check())
    report.ok = not report.problems
    return report


@blp.route("/admin/ledger/adjustments", methods=["POST"])
@access("auditor")
@idempotent
@blp.arguments(AdjustmentCreateSchema)
@blp.response(201, AdjustmentSchema)
def adjust(data):
    """Correct a citizen's points with a new `adjustment` transfer (never an edit); audit-logged."""
    transfer = ledger_service.post_adjustment(actor_user_id=g.user.id, **data)
    return ledger_service.statement_entry(transfer)
