"""Postings that change what a citizen owns: earn (one entry or a batch), reversal of an earn
and manual adjustment.

Each is one unit of work that joins the caller's when one is open, so the actions and rewards
modules can credit or spend inside their own transaction. Lock order: the citizen's account
first, then everything else read fresh under it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Iterable

import logging

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from carbon_credits.config import get_settings
from carbon_credits.domain import ledger as rules
from carbon_credits.domain.errors import Conflict, NotFound
from carbon_credits.domain.vocabulary import ADJUSTMENT_REASONS
from carbon_credits.services.audit import record_audit
from carbon_credits.services.ledger.core import (
    ACCOUNTS, LOTS, MAX_BATCH, REVERSALS, TRANSFERS, EarnEntry, expire_lots_locked, insert_transfers,
    lock_accounts, lock_citizen_accounts, move, posted_with_refs, ref_conflict, store_transfers,
    system_account_id, take_from_lots, transfer_values)
from carbon_credits.services.bulk_rows import copy_rows
from carbon_credits.services.statements import Statement
from carbon_credits.services.uow import unit_of_work
from models import LedgerReversal, LedgerTransfer, db, utcnow

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Earning


def post_earn(*, user_id: uuid.UUID, amount: int, external_ref: str,
              action_id: uuid.UUID | None = None, reason: str = "action_credited",
              event_time: dt.datetime) -> LedgerTransfer:
    """Credit a citizen from the issuance account and open a lot that expires later.

    Posting the same `external_ref` again returns the first transfer; with other details it is
    a 409 `ledger_ref_conflict`."""
    return post_earns([EarnEntry(user_id=user_id, amount=amount, external_ref=external_ref,
                                 action_id=action_id, reason=reason, event_time=event_time)])[0]


def post_earns(entries: Iterable[EarnEntry]) -> list[LedgerTransfer]:
    """Set-based earn for a batch (up to 1000): one insert of transfers, one of lots, one
    update per citizen, accounts locked in id order. Result i belongs to entry i (an already
    posted ref returns its existing transfer)."""
    return _post_earns(list(entries), refs_are_new=False)


def post_new_earns(entries: Iterable[EarnEntry]) -> None:
    """`post_earns` for refs the caller minted in this transaction (the actions pipeline's
    `action:<id>` of rows it just inserted): no look-up of earlier postings and no transfers
    loaded back. A repeated ref is still refused by the unique index on `external_ref`."""
    _post_earns(list(entries), refs_are_new=True)


@dataclasses.dataclass
class _EarnPlan:
    """A batch sorted out: the entries that post a new transfer (`new_rows`, with each
    citizen's running balance) and those answered by an earlier one. `slots[k]` are the entry
    indexes new row k answers (a ref repeated within the batch posts once)."""
    running: dict[int, int]
    results: list
    new_rows: list[dict] = dataclasses.field(default_factory=list)
    slots: list[list[int]] = dataclasses.field(default_factory=list)
    first_new: dict[str, int] = dataclasses.field(default_factory=dict)


def _post_earns(entries: list[EarnEntry], *, refs_are_new: bool) -> list[LedgerTransfer] | None:
    _check_earns(entries)
    if not entries:
        return None if refs_are_new else []
    months = get_settings().points_expiry_months
    with unit_of_work():
        account_of, locked = lock_citizen_accounts({e.user_id for e in entries})
        issuance = system_account_id("issuance")
        # Read under the locks: a concurrent poster of the same ref has committed by now.
        existing = {} if refs_are_new else _earns_by_ref(entries)
        plan = _EarnPlan(running={aid: row.balance for aid, row in locked.items()},
                         results=[None] * len(entries))
        posting_id = uuid.uuid4()
        for i, entry in enumerate(entries):
            _plan_earn(plan, i, entries, account_id=account_of[entry.user_id],
                       prior=existing.get(entry.external_ref), issuance=issuance,
                       posting_id=posting_id)
        if plan.new_rows:
            _write_earns(plan, locked, months=months, load=not refs_are_new)
    return None if refs_are_new else plan.results


def _check_earns(entries: list[EarnEntry]) -> None:
    if len(entries) > MAX_BATCH:
        raise rules.invalid("entries", f"At most {MAX_BATCH} entries per batch.")
    for entry in entries:
        rules.check_points(entry.amount)
        rules.check_ref(entry.external_ref)
        rules.check_time(entry.event_time, "event_time")
        rules.check_reason(entry.reason)


def _earns_by_ref(entries: list[EarnEntry]) -> dict[str, LedgerTransfer]:
    return {t.external_ref: t for t in db.session.scalars(
        select(LedgerTransfer).where(posted_with_refs(*(e.external_ref for e in entries))))}


def _same_earn(existing: LedgerTransfer, entry: EarnEntry, account_id: int) -> bool:
    return (existing.kind == "earn" and existing.credit_account_id == account_id
            and existing.amount == entry.amount and existing.action_id == entry.action_id
            and existing.reason == entry.reason and existing.event_time == entry.event_time)


def _plan_earn(plan: _EarnPlan, i: int, entries: list[EarnEntry], *, account_id: int,
               prior: LedgerTransfer | None, issuance: int, posting_id: uuid.UUID) -> None:
    """Entry i: answered by an earlier posting, by an earlier entry of the batch, or new."""
    entry = entries[i]
    if prior is not None:
        if not _same_earn(prior, entry, account_id):
            raise ref_conflict(entry.external_ref)
        plan.results[i] = prior
        return
    if entry.external_ref in plan.first_new:
        j = plan.first_new[entry.external_ref]
        if dataclasses.astuple(entries[plan.slots[j][0]]) != dataclasses.astuple(entry):
            raise ref_conflict(entry.external_ref)
        plan.slots[j].append(i)
        return
    plan.running[account_id] += entry.amount
    plan.first_new[entry.external_ref] = len(plan.new_rows)
    plan.slots.append([i])
    plan.new_rows.append({"posting_id": posting_id, "kind": "earn", "reason": entry.reason,
                          "debit_account_id": issuance, "credit_account_id": account_id,
                          "amount": entry.amount, "citizen_account_id": account_id,
                          "balance_after": plan.running[account_id],
                          "action_id": entry.action_id, "external_ref": entry.external_ref,
                          "event_time": entry.event_time})


def _write_earns(plan: _EarnPlan, locked: dict, *, months: int, load: bool) -> None:
    """One insert of transfers, one of lots, one balance update per citizen touched."""
    values = transfer_values(plan.new_rows)
    loaded = store_transfers(values, load=load)
    now = utcnow()
    copy_rows(LOTS, [
        {"account_id": t["credit_account_id"], "earn_transfer_id": t["id"],
         "amount": t["amount"], "remaining": t["amount"], "expired_amount": 0,
         "created_at": now, "expires_at": rules.add_months(t["event_time"], months)}
        for t in values])
    db.session.execute(
        update(ACCOUNTS).where(ACCOUNTS.c.id == bindparam("b_id"))
        .values(balance=ACCOUNTS.c.balance + bindparam("b_delta")),
        [{"b_id": aid, "b_delta": plan.running[aid] - row.balance}
         for aid, row in locked.items() if plan.running[aid] != row.balance])
    for transfer, indexes in zip(loaded or [], plan.slots):
        for i in indexes:
            plan.results[i] = transfer


# ---------------------------------------------------------------------------------------------
# One earn, as statements sent together with the caller's (the app's single credit)

_LOCK_CITIZEN = Statement(select(ACCOUNTS.c.id, ACCOUNTS.c.balance)
                          .where(ACCOUNTS.c.user_id == bindparam("b_user"))
                          .with_for_update(key_share=True), name="ledger: lock citizen account")
_TRANSFER_COLUMNS = ("id", "recorded_at", "posting_id", "kind", "reason", "debit_account_id",
                     "credit_account_id", "amount", "citizen_account_id", "balance_after",
                     "action_id", "external_ref", "event_time")
_INSERT_TRANSFER = Statement(insert(TRANSFERS).values(
    {c: bindparam(f"b_{c}") for c in _TRANSFER_COLUMNS}), name="ledger: insert transfer")
_LOT_COLUMNS = ("account_id", "earn_transfer_id", "amount", "remaining", "expired_amount",
                "created_at", "expires_at")
_INSERT_LOT = Statement(insert(LOTS).values({c: bindparam(f"b_{c}") for c in _LOT_COLUMNS}),
                        name="ledger: insert lot")
_CREDIT_ACCOUNT = Statement(update(ACCOUNTS).where(ACCOUNTS.c.id == bindparam("b_id"))
                            .values(balance=ACCOUNTS.c.balance + bindparam("b_amount"))
                            .returning(ACCOUNTS.c.balance), name="ledger: credit account")


def citizen_lock_call(user_id: uuid.UUID) -> tuple[Statement, dict]:
    """Lock a citizen's account (FOR NO KEY UPDATE); its row (id, balance) goes to `earn_calls`.
    No row: the account does not exist yet (`lock_citizen_account` creates it)."""
    return _LOCK_CITIZEN, {"b_user": user_id}


def lock_citizen_account(user_id: uuid.UUID):
    """The locked (id, balance) of a citizen's account, created first if missing."""
    _, locked = lock_citizen_accounts({user_id})
    return next(iter(locked.values()))


def earn_calls(entry: EarnEntry, account) -> list[tuple[Statement, dict]]:
    """Statements posting one earn (a ref minted in this transaction, as `post_new_earns`) to
    the account `citizen_lock_call` locked: transfer, lot, and the balance by UPDATE ... RETURNING
    (the caller checks it with `check_credited`)."""
    _check_earns([entry])
    transfer = transfer_values([{
        "posting_id": uuid.uuid4(), "kind": "earn", "reason": entry.reason,
        "debit_account_id": system_account_id("issuance"), "credit_account_id": account.id,
        "amount": entry.amount, "citizen_account_id": account.id,
        "balance_after": account.balance + entry.amount, "action_id": entry.action_id,
        "external_ref": entry.external_ref, "event_time": entry.event_time}])[0]
    lot = {"account_id": account.id, "earn_transfer_id": transfer["id"], "amount": entry.amount,
           "remaining": entry.amount, "expired_amount": 0, "created_at": transfer["recorded_at"],
           "expires_at": rules.add_months(entry.event_time, get_settings().points_expiry_months)}
    return [(_INSERT_TRANSFER, {f"b_{c}": transfer[c] for c in _TRANSFER_COLUMNS}),
            (_INSERT_LOT, {f"b_{c}": lot[c] for c in _LOT_COLUMNS}),
            (_CREDIT_ACCOUNT, {"b_id": account.id, "b_amount": entry.amount})]


def check_credited(rows, account, entry: EarnEntry) -> None:
    """The balance the update returned is the one the transfer recorded (the lock held). Run
    after the commit: it can only log; `ledger verify` would report the same account."""
    if rows is None or [r.balance for r in rows] != [account.balance + entry.amount]:
        log.critical("ledger account %s moved under its lock: returned %s, recorded %s",
                     account.id, rows, account.balance + entry.amount)


# ---------------------------------------------------------------------------------------------
# Reversals


def reverse_earn(*, action_id: uuid.UUID | None = None, external_ref: str | None = None,
                 reason: str, actor_user_id: uuid.UUID | None,
                 now: dt.datetime | None = None) -> LedgerReversal:
    """Claw back a credited earn, capped at the available balance; the rest is recorded as
    `shortfall`. Reversing the same earn twice is a 409 `already_reversed`."""
    if (action_id is None) == (external_ref is None):
        raise rules.invalid("action_id", "Give exactly one of action_id or external_ref.")
    rules.check_reason(reason, maximum=1000)
    now = now or utcnow()
    with unit_of_work():
        earn = _earn_to_reverse(action_id, external_ref)
        account_id = earn.credit_account_id
        issuance = system_account_id("issuance")
        lock_accounts([account_id])
        if db.session.execute(select(REVERSALS.c.id)
                              .where(REVERSALS.c.target_transfer_id == earn.id)).first():
            raise Conflict("This earn has already been reversed.", code="already_reversed")
        posting_id = uuid.uuid4()
        expire_lots_locked(account_id, now, posting_id)
        available = db.session.execute(select(ACCOUNTS.c.balance)
                                       .where(ACCOUNTS.c.id == account_id)).scalar_one()
        clawed, shortfall = rules.clawback(earned=earn.amount, available=available)
        transfer_id = None
        if clawed:
            transfer_id = _claw_back(earn, clawed, issuance=issuance, posting_id=posting_id,
                                     now=now)
        reversal = LedgerReversal(id=uuid.uuid4(), target_transfer_id=earn.id,
                                  transfer_id=transfer_id, account_id=account_id,
                                  action_id=earn.action_id, earned=earn.amount,
                                  clawed_back=clawed, shortfall=shortfall, reason=reason,
                                  actor_user_id=actor_user_id, created_at=utcnow())
        db.session.add(reversal)
        try:
            db.session.flush()
        except IntegrityError:
            raise Conflict("This earn has already been reversed.", code="already_reversed") \
                from None
        record_audit(action="ledger.earn_reversed", object_type="ledger_transfer",
                     object_id=earn.id, actor_user_id=actor_user_id,
                     details={"reason": reason, "earned": earn.amount, "clawed_back": clawed,
                              "shortfall": shortfall,
                              "action_id": str(earn.action_id) if earn.action_id else None})
    return reversal


def _earn_to_reverse(action_id: uuid.UUID | None, external_ref: str | None) -> LedgerTransfer:
    query = select(LedgerTransfer).where(LedgerTransfer.kind == "earn")
    if action_id is not None:
        query = query.where(LedgerTransfer.action_id == action_id)
    else:
        query = query.where(posted_with_refs(external_ref))
    earns = list(db.session.scalars(query.limit(2)))
    if not earns:
        raise NotFound("No credited earn to reverse.")
    if len(earns) > 1:
        raise rules.invalid("action_id", "Several earns carry this action; give external_ref.")
    return earns[0]


def _claw_back(earn: LedgerTransfer, clawed: int, *, issuance: int, posting_id: uuid.UUID,
               now: dt.datetime) -> uuid.UUID:
    """Take `clawed` back to issuance, from the earn's own lot first."""
    account_id = earn.credit_account_id
    balance, _ = move(account_id, balance=-clawed, require_balance=clawed)
    take_from_lots(account_id, clawed, prefer_earn=earn.id)
    (transfer,) = insert_transfers([{
        "posting_id": posting_id, "kind": "reversal", "reason": "action_reversed",
        "debit_account_id": account_id, "credit_account_id": issuance, "amount": clawed,
        "citizen_account_id": account_id, "balance_after": balance,
        "action_id": earn.action_id, "reversal_of": earn.id,
        "external_ref": f"reversal:{earn.id}", "event_time": now}])
    return transfer.id


# ---------------------------------------------------------------------------------------------
# Adjustments


def post_adjustment(*, user_id: uuid.UUID, points: int, reason: str, note: str,
                    external_ref: str, actor_user_id: uuid.UUID | None,
                    now: dt.datetime | None = None) -> LedgerTransfer:
    """Post a manual correction (the adjustments module calls this once a second person has
    approved it), as a new linked transfer (never an edit): `points` > 0 credits the
    citizen from issuance and opens a lot; < 0 takes points back to issuance from the
    available balance, oldest lots first, refused with 409 `insufficient_balance` rather than
    going negative. Idempotent by `external_ref`; the note and the actor go to the audit log."""
    _check_adjustment(points=points, reason=reason, note=note, external_ref=external_ref)
    now = now or utcnow()
    amount = abs(points)
    code = f"adjustment_{reason}"
    with unit_of_work():
        account_of, _ = lock_citizen_accounts({user_id})
        if user_id not in account_of:
            raise NotFound("User not found.")
        account_id = account_of[user_id]
        issuance = system_account_id("issuance")
        debit, credit = (issuance, account_id) if points > 0 else (account_id, issuance)
        prior = db.session.scalars(select(LedgerTransfer)
                                   .where(posted_with_refs(external_ref))).first()
        if prior is not None:
            if (prior.kind, prior.debit_account_id, prior.credit_account_id, prior.amount,
                    prior.reason) != ("adjustment", debit, credit, amount, code):
                raise ref_conflict(external_ref)
            return prior
        posting_id = uuid.uuid4()
        if points > 0:
            balance, _ = move(account_id, balance=amount)
        else:
            balance = _take_back(account_id, amount, now=now, posting_id=posting_id)
        (transfer,) = insert_transfers([{
            "posting_id": posting_id, "kind": "adjustment", "reason": code,
            "debit_account_id": debit, "credit_account_id": credit, "amount": amount,
            "citizen_account_id": account_id, "balance_after": balance,
            "external_ref": external_ref, "event_time": now}])
        if points > 0:
            db.session.execute(insert(LOTS).values(
                account_id=account_id, earn_transfer_id=transfer.id, amount=amount,
                remaining=amount, expired_amount=0, created_at=utcnow(),
                expires_at=rules.add_months(now, get_settings().points_expiry_months)))
        record_audit(action="ledger.adjusted", object_type="ledger_transfer", object_id=transfer.id,
                     actor_user_id=actor_user_id,
                     details={"user_id": str(user_id), "points": points, "reason": reason,
                              "note": note, "external_ref": external_ref})
    return transfer


def _check_adjustment(*, points, reason: str, note: str, external_ref: str) -> None:
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise rules.invalid("points", "Must be a non-zero whole number of points.")
    rules.check_points(abs(points), "points")
    rules.check_ref(external_ref)
    if reason not in ADJUSTMENT_REASONS:
        raise rules.invalid("reason", f"Must be one of {', '.join(ADJUSTMENT_REASONS)}.")
    rules.check_reason(note, "note", maximum=1000)


def _take_back(account_id: int, amount: int, *, now: dt.datetime, posting_id: uuid.UUID) -> int:
    """Debit the available balance, oldest lots first; the balance after it."""
    expire_lots_locked(account_id, now, posting_id)  # expired points are not there
    moved = move(account_id, balance=-amount, require_balance=amount)
    if moved is None:
        raise Conflict("Not enough available points to take back.",
                       code="insufficient_balance")
    take_from_lots(account_id, amount)
    return moved[0]
