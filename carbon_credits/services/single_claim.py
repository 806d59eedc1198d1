"""The app's single claim through the pipeline's lock, decide and write steps, in two groups of
statements sent together (`services/statements`), with the same rules as a batch.

1. lock: the catalogue token the cached versions were planned with confirmed, the (citizen,
   scope, day) daily-cap row created and locked, the citizen's counting claims that could
   overlap read under that lock, and the citizen's ledger account locked (same lock order as
   the batch: daily row, then account);
2. write, deferred so that it leaves with the Idempotency-Key's stored response and the
   COMMIT in one round trip: what the claim adds to the daily row, the action, any self-report
   it supersedes, and the earn (transfer, lot, balance by UPDATE ... RETURNING).

The statements are built once at import. The stored action is handed back as a plain value
built from the row written, so reading it back costs nothing.
"""
from __future__ import annotations

import datetime as dt
import types
import uuid

from sqlalchemy import bindparam, insert, select, text, update

from carbon_credits.config import Settings
from carbon_credits.domain import actions as rules
from carbon_credits.domain import crediting
from carbon_credits.domain.vocabulary import COUNTING_STATUSES, OVERLAP_TYPES, sql_in
from carbon_credits.services import daily_caps, leaderboards, ledger
from carbon_credits.services.claim_plans import Plan, action_row, decide
from carbon_credits.services.claims import Outcome
from carbon_credits.services.methodologies import in_force
from carbon_credits.services.statements import Statement, defer, run_together
from carbon_credits.services.uow import after_commit
from carbon_credits.services.webhooks import payloads as webhook_payloads
from models import Action

ACTIONS = Action.__table__
_ROW_COLUMNS = ("id", "user_id", "channel", "partner_id", "binding_id", "external_id",
                "action_type", "mode", "category", "scope_key", "occurred_at", "started_at",
                "ended_at", "scheme_day", "inputs", "status", "reasons", "methodology_version_id",
                "methodology_code", "methodology_version", "breakdown", "reduction_mg",
                "credited_mg", "points", "points_per_gram", "duplicate_of", "credited_at",
                "created_at", "region")
_INSERT_ACTION = Statement(insert(ACTIONS).values({c: bindparam(f"b_{c}") for c in _ROW_COLUMNS}),
                           name="actions: insert")
_OVERLAPPING = Statement(
    select(ACTIONS.c.id, ACTIONS.c.channel, ACTIONS.c.status, ACTIONS.c.started_at,
           ACTIONS.c.ended_at)
    .where(ACTIONS.c.user_id == bindparam("b_user"), ACTIONS.c.scope_key == bindparam("b_scope"),
           text(sql_in("actions.status", COUNTING_STATUSES)),
           ACTIONS.c.started_at < bindparam("b_latest"),
           ACTIONS.c.started_at >= bindparam("b_earliest")), name="actions: overlapping claims")
_SUPERSEDE = Statement(
    update(ACTIONS).where(ACTIONS.c.id == bindparam("b_old"), ACTIONS.c.status == "pending_review")
    .values(status="duplicate", duplicate_of=bindparam("b_new"),
            review_reason="superseded by the operator's record"), name="actions: supersede")
# Columns a new action has that the insert leaves to their defaults.
_UNSET = ("reviewed_by", "reviewed_at", "review_reason", "reversed_by", "reversed_at",
          "reversal_reason")
_TIMES = ("occurred_at", "started_at", "ended_at", "credited_at", "created_at")


def process(plan: Plan, settings: Settings, now: dt.datetime, *,
            catalogue_token: str | None) -> list[Outcome]:
    """`catalogue_token`: the plan used cached versions; the token is confirmed in the lock
    group (`in_force.CatalogueChanged` if it moved: the caller plans again)."""
    s = plan.sub
    plan.day = rules.scheme_day(s.occurred_at, settings.scheme_timezone)
    expected = crediting.decide_status(plan.reasons)
    timed = s.action_type in OVERLAP_TYPES and s.started_at and s.ended_at
    calls = [] if catalogue_token is None else [in_force.token_call()]
    if expected != "rejected":
        calls.append(daily_caps.lock_call({(s.user_id, s.scope, plan.day)}))
        if timed:
            calls.append((_OVERLAPPING, {"b_user": s.user_id, "b_scope": s.scope,
                                         "b_latest": s.ended_at,
                                         "b_earliest": s.started_at - dt.timedelta(days=1)}))
        if expected == "credited":
            calls.append(ledger.citizen_lock_call(s.user_id))
    found = run_together(*calls) if calls else []
    if catalogue_token is not None:
        in_force.confirm(found.pop(0), catalogue_token)
    daily, existing, account = {}, {}, None
    if expected != "rejected":
        daily = daily_caps.rows_by_key(found[0])
        if timed:
            existing[(s.user_id, s.scope)] = [rules.Claim(r.id, r.channel, r.status, r.started_at,
                                                          r.ended_at) for r in found[1]]
        if expected == "credited":
            account = found[-1][0] if found[-1] else ledger.lock_citizen_account(s.user_id)
    superseded: dict[uuid.UUID, uuid.UUID] = {}
    decide(plan, daily=daily, existing=existing, superseded=superseded,
           points_per_gram=settings.points_per_gram)
    row = action_row(plan, settings, now)
    _write(plan, row, daily, superseded, account)
    outcome = Outcome(s.index, plan.status, s.external_id, action_id=plan.id,
                      reduction_mg=plan.reduction_mg, points=plan.points, reasons=plan.reasons,
                      duplicate_of=plan.duplicate_of)
    outcome.action = stored_action(row)
    return [outcome]


def _write(plan: Plan, row: dict, daily: dict, superseded: dict, account) -> None:
    """Deferred: the writes go out with the request's last statements, before the commit."""
    calls = [daily_caps.count_call(daily.values()),
             (_INSERT_ACTION, {f"b_{c}": row[c] for c in _ROW_COLUMNS}),
             (_SUPERSEDE, [{"b_old": old, "b_new": new} for old, new in superseded.items()])]
    event = webhook_payloads.stored_action_call(row)  # before the earn: its balance comes last
    if event is not None:
        calls.append(event)
    earn = None
    if plan.points > 0:
        s = plan.sub
        earn = ledger.EarnEntry(user_id=s.user_id, amount=plan.points,
                                external_ref=f"action:{plan.id}", action_id=plan.id,
                                event_time=s.occurred_at)
        calls += ledger.earn_calls(earn, account)
    deferred = [defer(statement, params) for statement, params in calls]
    if earn is not None:
        # The account is locked since the first group, so the balance the update returns is
        # the one the transfer recorded; a difference would be a bug elsewhere: say so loudly.
        after_commit(lambda: ledger.check_credited(deferred[-1].rows, account, earn))
    if row["status"] == "credited":
        leaderboards.record_after_commit([(row["user_id"], row["scheme_day"], row["credited_mg"])])


def stored_action(row: dict) -> types.SimpleNamespace:
    """The action as it now stands in the database (times in UTC, as read back), as a value."""
    stored = {**row, **{c: None for c in _UNSET}}
    for name in _TIMES:
        if stored[name] is not None:
            stored[name] = stored[name].astimezone(dt.timezone.utc)
    return types.SimpleNamespace(**stored)
