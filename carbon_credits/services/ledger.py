"""The points ledger: double-entry postings, two-phase holds, FIFO lots, reversals, the hash
chain and verify. Design and the reasons behind each rule: docs/ledger.md.

Every posting service is one unit of work that joins the caller's when one is open, so the
actions and rewards modules can credit or spend inside their own transaction.

Concurrency: everything about one citizen is serialised by that citizen's account row, locked
first (`FOR NO KEY UPDATE`, sorted by id when several); then idempotency checks, holds and lots
are read fresh under that lock. System accounts (issuance, holds, expiry, forfeiture) are never
locked and keep no running balance. Postings never touch the hash chain; `seal_pending` does,
later.
"""
from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import uuid
from typing import Iterable

from sqlalchemy import bindparam, case, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from carbon_credits.config import get_settings
from carbon_credits.domain import ledger as rules
from carbon_credits.domain.errors import Conflict, NotFound, ValidationFailed
from carbon_credits.services.audit import record_audit
from carbon_credits.services.pagination import take_page
from carbon_credits.services.uow import after_commit, unit_of_work
from models import (LedgerAccount, LedgerChainHead, LedgerHold, LedgerHoldLot, LedgerLot,
                    LedgerReversal, LedgerSeal, LedgerTransfer, Partner, User, db, utcnow)
from carbon_credits.domain.vocabulary import ADJUSTMENT_REASONS

ACCOUNTS = LedgerAccount.__table__
TRANSFERS = LedgerTransfer.__table__
HOLDS = LedgerHold.__table__
LOTS = LedgerLot.__table__
HOLD_LOTS = LedgerHoldLot.__table__
REVERSALS = LedgerReversal.__table__
SEALS = LedgerSeal.__table__
HEAD = LedgerChainHead.__table__

MAX_BATCH = 1000
MAX_REF_LENGTH = 200
# Which account kinds each transfer kind moves points between (debit, credit).
TRANSFER_SHAPES = {
    "earn": ("issuance", "citizen"),
    "reserve": ("citizen", "holds"),
    "release": ("holds", "citizen"),
    "redeem": ("holds", "merchant"),
    "expire": ("citizen", "expiry"),
    "reversal": ("citizen", "issuance"),
    # An erased citizen's remaining balance (DELETE /me).
    "forfeit": ("citizen", "forfeiture"),
}
# A manual correction goes either way between issuance and a citizen.
ADJUSTMENT_SHAPES = {("issuance", "citizen"), ("citizen", "issuance")}
SEALED_FIELDS = ("seq", "id", "posting_id", "kind", "reason", "debit_account_id",
                 "credit_account_id", "amount", "citizen_account_id", "balance_after",
                 "action_id", "redemption_id", "hold_id", "reversal_of", "external_ref",
                 "event_time", "recorded_at")


# ---------------------------------------------------------------------------------------------
# Value objects


@dataclasses.dataclass(frozen=True)
class EarnEntry:
    user_id: uuid.UUID
    amount: int
    external_ref: str
    event_time: dt.datetime
    action_id: uuid.UUID | None = None
    reason: str = "action_credited"


@dataclasses.dataclass(frozen=True)
class Balance:
    available: int
    reserved: int
    expiring: list[tuple[int, dt.datetime]]


@dataclasses.dataclass(frozen=True)
class StatementEntry:
    id: uuid.UUID
    seq: int
    kind: str
    reason: str
    amount: int  # signed change to the citizen's available balance
    points: int  # the transfer's (unsigned) size
    balance_after: int | None
    action_id: uuid.UUID | None
    redemption_id: uuid.UUID | None
    hold_id: uuid.UUID | None
    event_time: dt.datetime
    created_at: dt.datetime


@dataclasses.dataclass
class VerifyReport:
    ok: bool
    entries_checked: int
    chain_head: str
    sealed: int
    pending_seal: int
    problems: list[str]


# ---------------------------------------------------------------------------------------------
# Validation


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", errors={field: [message]})


def _check_points(value, field: str = "amount") -> None:
    if isinstance(value, bool) or not isinstance(value, int) \
            or not 1 <= value <= rules.MAX_TRANSFER_POINTS:
        raise _invalid(field, f"Must be a whole number of points from 1 to "
                              f"{rules.MAX_TRANSFER_POINTS}.")


def _check_time(value, field: str) -> None:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise _invalid(field, "Must be an aware datetime.")


def _check_ref(value, field: str = "external_ref") -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_REF_LENGTH or "\x00" in value:
        raise _invalid(field, f"Must be 1-{MAX_REF_LENGTH} characters.")


def _check_reason(value, field: str = "reason", maximum: int = 64) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > maximum or "\x00" in value:
        raise _invalid(field, f"Must be 1-{maximum} characters.")


def _ref_conflict(ref: str) -> Conflict:
    return Conflict(f"external_ref {ref!r} was already posted with different details.",
                    code="ledger_ref_conflict")


# ---------------------------------------------------------------------------------------------
# Accounts and low-level moves


def _dialect_insert():
    return pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert


# System account ids never change once committed, so each process remembers them: one query
# less on every posting. Only committed ids are remembered (a rolled-back lazy creation must not
# leave a dangling id), keyed by database so two apps in one process never mix them up.
_system_ids: dict[tuple[str, str], int] = {}


def forget_system_accounts() -> None:
    """For a harness that truncates the ledger tables (the ids are then created anew)."""
    _system_ids.clear()


def _system_account_id(code: str) -> int:
    """System accounts are created lazily (after a reset too); they are never locked."""
    cache_key = (str(db.session.get_bind().url), code)
    if cache_key in _system_ids:
        return _system_ids[cache_key]
    query = select(ACCOUNTS.c.id).where(ACCOUNTS.c.system_code == code)
    found = db.session.execute(query).scalar()
    if found is None:
        db.session.execute(_dialect_insert()(ACCOUNTS)
                           .values(kind=code, system_code=code, balance=0, reserved=0,
                                   created_at=utcnow())
                           .on_conflict_do_nothing(index_elements=["system_code"]))
        found = db.session.execute(query).scalar_one()
    after_commit(lambda: _system_ids.__setitem__(cache_key, found))
    return found


def _citizen_account_ids(user_ids: Iterable[uuid.UUID], *, create: bool = True) -> dict:
    """user id -> account id, creating missing accounts (INSERT ... ON CONFLICT DO NOTHING)."""
    wanted = set(user_ids)
    query = select(ACCOUNTS.c.user_id, ACCOUNTS.c.id).where(ACCOUNTS.c.user_id.in_(wanted))
    found = dict(db.session.execute(query).all())
    missing = wanted - set(found)
    if missing and create:
        known = set(db.session.scalars(select(User.id).where(User.id.in_(missing))))
        if known != missing:
            raise NotFound("User not found.")
        now = utcnow()
        db.session.execute(_dialect_insert()(ACCOUNTS)
                           .values([{"kind": "citizen", "user_id": uid, "balance": 0,
                                     "reserved": 0, "created_at": now} for uid in sorted(known)])
                           .on_conflict_do_nothing(index_elements=["user_id"]))
        found = dict(db.session.execute(query).all())
    return found


def _merchant_account_id(partner_id: uuid.UUID) -> int:
    partner = db.session.get(Partner, partner_id)
    if partner is None or partner.kind != "merchant":
        raise NotFound("Merchant partner not found.")
    query = select(ACCOUNTS.c.id).where(ACCOUNTS.c.partner_id == partner_id)
    found = db.session.execute(query).scalar()
    if found is None:
        db.session.execute(_dialect_insert()(ACCOUNTS)
                           .values(kind="merchant", partner_id=partner_id, balance=0, reserved=0,
                                   created_at=utcnow())
                           .on_conflict_do_nothing(index_elements=["partner_id"]))
        found = db.session.execute(query).scalar_one()
    return found


def _lock_citizen_accounts(user_ids: Iterable[uuid.UUID]) -> tuple[dict, dict]:
    """Find and lock the citizens' accounts in one statement (creating missing ones first):
    (user id -> account id, account id -> locked row)."""
    wanted = set(user_ids)
    query = (select(ACCOUNTS).where(ACCOUNTS.c.user_id.in_(wanted))
             .order_by(ACCOUNTS.c.id).with_for_update(key_share=True))
    rows = db.session.execute(query).all()
    if len(rows) < len(wanted):
        _citizen_account_ids(wanted)
        rows = db.session.execute(query).all()
    return {row.user_id: row.id for row in rows}, {row.id: row for row in rows}


def _lock_accounts(account_ids: Iterable[int]) -> dict:
    """Lock citizen/merchant rows in id order (FOR NO KEY UPDATE: foreign-key checks of other
    postings still pass). On SQLite BEGIN IMMEDIATE already serialises writers."""
    ids = sorted(set(account_ids))
    rows = db.session.execute(select(ACCOUNTS).where(ACCOUNTS.c.id.in_(ids))
                              .order_by(ACCOUNTS.c.id).with_for_update(key_share=True)).all()
    return {row.id: row for row in rows}


def _move(account_id: int, *, balance: int = 0, reserved: int = 0,
          require_balance: int | None = None) -> tuple[int, int] | None:
    """Atomic increment; with `require_balance` a conditional update (None when it fails)."""
    stmt = (update(ACCOUNTS).where(ACCOUNTS.c.id == account_id)
            .values(balance=ACCOUNTS.c.balance + balance, reserved=ACCOUNTS.c.reserved + reserved)
            .returning(ACCOUNTS.c.balance, ACCOUNTS.c.reserved))
    if require_balance is not None:
        stmt = stmt.where(ACCOUNTS.c.balance >= require_balance)
    row = db.session.execute(stmt).first()
    return None if row is None else (row.balance, row.reserved)


def _transfer_values(rows: list[dict]) -> list[dict]:
    """Complete rows for insertion; ids are minted here, so callers know them before insert."""
    now = utcnow()
    return [{"id": uuid.uuid4(), "recorded_at": now, "citizen_account_id": None,
             "balance_after": None, "action_id": None, "redemption_id": None, "hold_id": None,
             "reversal_of": None, **row} for row in rows]


def _insert_transfers(rows: list[dict]) -> list[LedgerTransfer]:
    return _store_transfers(_transfer_values(rows), load=True)


def _store_transfers(values: list[dict], *, load: bool) -> list[LedgerTransfer] | None:
    """Insert completed rows; with `load` return the stored transfers in order (RETURNING and
    ORM objects: most of the insert's cost for a 1000-row batch, so skipped when unused)."""
    try:
        if not load:
            db.session.execute(insert(LedgerTransfer), values)
            return None
        return list(db.session.scalars(
            insert(LedgerTransfer).returning(LedgerTransfer, sort_by_parameter_order=True),
            values))
    except IntegrityError as error:
        if "external_ref" in str(error.orig):
            raise _ref_conflict(values[0]["external_ref"] if len(values) == 1 else "(batch)") from None
        raise


def _take_from_lots(account_id: int, amount: int, *, prefer_earn: uuid.UUID | None = None):
    """Consume `amount` from the account's live lots, oldest expiry first."""
    order = [LOTS.c.expires_at, LOTS.c.id]
    if prefer_earn is not None:
        order.insert(0, case((LOTS.c.earn_transfer_id == prefer_earn, 0), else_=1))
    lots = db.session.execute(select(LOTS.c.id, LOTS.c.remaining)
                              .where(LOTS.c.account_id == account_id, LOTS.c.remaining > 0)
                              .order_by(*order)).all()
    taken = rules.allocate_fifo([(lot.id, lot.remaining) for lot in lots], amount)
    db.session.execute(update(LOTS).where(LOTS.c.id == bindparam("b_id"))
                       .values(remaining=LOTS.c.remaining - bindparam("b_take")),
                       [{"b_id": lot_id, "b_take": take} for lot_id, take in taken])
    return taken


def _lot_emptying_rows(lots, *, account_id: int, to_account_id: int, posting_id: uuid.UUID,
                       kind: str, reason: str, balance_after: int, external_ref, event_time) -> list[dict]:
    """One transfer per lot moving what is left in it to `to_account_id`; the citizen's
    balance runs down lot by lot to `balance_after`."""
    running = balance_after + sum(lot.remaining for lot in lots)
    rows = []
    for lot in lots:
        running -= lot.remaining
        rows.append({"posting_id": posting_id, "kind": kind, "reason": reason,
                     "debit_account_id": account_id, "credit_account_id": to_account_id,
                     "amount": lot.remaining, "citizen_account_id": account_id,
                     "balance_after": running, "external_ref": external_ref(lot),
                     "event_time": event_time(lot)})
    return rows


def _expire_lots_locked(account_id: int, now: dt.datetime, posting_id: uuid.UUID) -> int:
    """Post `expire` for what is left in this account's due lots. Caller holds the lock."""
    due = db.session.execute(
        select(LOTS.c.id, LOTS.c.remaining, LOTS.c.expired_amount, LOTS.c.expires_at)
        .where(LOTS.c.account_id == account_id, LOTS.c.remaining > 0, LOTS.c.expires_at <= now)
        .order_by(LOTS.c.expires_at, LOTS.c.id)).all()
    if not due:
        return 0
    total = sum(lot.remaining for lot in due)
    balance_after, _ = _move(account_id, balance=-total)
    _insert_transfers(_lot_emptying_rows(
        due, account_id=account_id, to_account_id=_system_account_id("expiry"),
        posting_id=posting_id, kind="expire", reason="points_expired", balance_after=balance_after,
        # One ref per lot and expiry step: a second run can never expire it again.
        external_ref=lambda lot: f"expire:lot:{lot.id}:{lot.expired_amount}",
        event_time=lambda lot: lot.expires_at))
    db.session.execute(update(LOTS).where(LOTS.c.id == bindparam("b_id"),
                                          LOTS.c.remaining == bindparam("b_left"))
                       .values(remaining=0,
                               expired_amount=LOTS.c.expired_amount + bindparam("b_left")),
                       [{"b_id": lot.id, "b_left": lot.remaining} for lot in due])
    return len(due)


# ---------------------------------------------------------------------------------------------
# Earning


def _same_earn(existing: LedgerTransfer, entry: EarnEntry, account_id: int) -> bool:
    return (existing.kind == "earn" and existing.credit_account_id == account_id
            and existing.amount == entry.amount and existing.action_id == entry.action_id
            and existing.reason == entry.reason and existing.event_time == entry.event_time)


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


def _post_earns(entries: list[EarnEntry], *, refs_are_new: bool) -> list[LedgerTransfer] | None:
    if len(entries) > MAX_BATCH:
        raise _invalid("entries", f"At most {MAX_BATCH} entries per batch.")
    for entry in entries:
        _check_points(entry.amount)
        _check_ref(entry.external_ref)
        _check_time(entry.event_time, "event_time")
        _check_reason(entry.reason)
    if not entries:
        return None if refs_are_new else []
    months = get_settings().points_expiry_months
    with unit_of_work():
        account_of, locked = _lock_citizen_accounts({e.user_id for e in entries})
        issuance = _system_account_id("issuance")
        # Read under the locks: a concurrent poster of the same ref has committed by now.
        existing = {} if refs_are_new else {t.external_ref: t for t in db.session.scalars(
            select(LedgerTransfer)
            .where(LedgerTransfer.external_ref.in_({e.external_ref for e in entries})))}
        running = {aid: row.balance for aid, row in locked.items()}
        posting_id = uuid.uuid4()
        results: list = [None] * len(entries)
        new_rows: list[dict] = []
        slots: list[list[int]] = []
        first_new: dict[str, int] = {}
        for i, entry in enumerate(entries):
            account_id = account_of[entry.user_id]
            prior = existing.get(entry.external_ref)
            if prior is not None:
                if not _same_earn(prior, entry, account_id):
                    raise _ref_conflict(entry.external_ref)
                results[i] = prior
                continue
            if entry.external_ref in first_new:
                j = first_new[entry.external_ref]
                if dataclasses.astuple(entries[slots[j][0]]) != dataclasses.astuple(entry):
                    raise _ref_conflict(entry.external_ref)
                slots[j].append(i)
                continue
            running[account_id] += entry.amount
            first_new[entry.external_ref] = len(new_rows)
            slots.append([i])
            new_rows.append({"posting_id": posting_id, "kind": "earn", "reason": entry.reason,
                             "debit_account_id": issuance, "credit_account_id": account_id,
                             "amount": entry.amount, "citizen_account_id": account_id,
                             "balance_after": running[account_id], "action_id": entry.action_id,
                             "external_ref": entry.external_ref,
                             "event_time": entry.event_time})
        if new_rows:
            values = _transfer_values(new_rows)
            loaded = _store_transfers(values, load=not refs_are_new)
            now = utcnow()
            db.session.execute(insert(LOTS), [
                {"account_id": t["credit_account_id"], "earn_transfer_id": t["id"],
                 "amount": t["amount"], "remaining": t["amount"], "expired_amount": 0,
                 "created_at": now, "expires_at": rules.add_months(t["event_time"], months)}
                for t in values])
            db.session.execute(
                update(ACCOUNTS).where(ACCOUNTS.c.id == bindparam("b_id"))
                .values(balance=ACCOUNTS.c.balance + bindparam("b_delta")),
                [{"b_id": aid, "b_delta": running[aid] - row.balance}
                 for aid, row in locked.items() if running[aid] != row.balance])
            for transfer, indexes in zip(loaded or [], slots):
                for i in indexes:
                    results[i] = transfer
    return None if refs_are_new else results


# ---------------------------------------------------------------------------------------------
# Holds


def _hold_row(hold_id: uuid.UUID):
    row = db.session.execute(select(HOLDS).where(HOLDS.c.id == hold_id)).first()
    if row is None:
        raise NotFound("Hold not found.")
    return row


def _settlement_transfer(hold_id: uuid.UUID) -> LedgerTransfer:
    return db.session.scalars(select(LedgerTransfer).where(
        LedgerTransfer.external_ref == f"hold:{hold_id}:settle")).one()


def _set_hold_status(hold_id: uuid.UUID, status: str, now: dt.datetime, **values) -> bool:
    """pending -> `status`, at most once: a conditional update on the current status."""
    changed = db.session.execute(
        update(LedgerHold).where(LedgerHold.id == hold_id, LedgerHold.status == "pending")
        .values(status=status, settled_at=now, **values)
        .execution_options(synchronize_session="evaluate")).rowcount
    return changed == 1


def reserve(*, user_id: uuid.UUID, amount: int, external_ref: str,
            redemption_id: uuid.UUID | None = None, expires_at: dt.datetime,
            now: dt.datetime | None = None) -> LedgerHold:
    """Move points from available to reserved (a pending hold), oldest lots first.

    Refused with 409 `insufficient_balance` when the available balance cannot cover it; the
    same `external_ref` again returns the existing hold."""
    _check_points(amount)
    _check_ref(external_ref)
    _check_time(expires_at, "expires_at")
    now = now or utcnow()
    if expires_at <= now:
        raise _invalid("expires_at", "Must be in the future.")
    with unit_of_work():
        account_id = _citizen_account_ids({user_id})[user_id]
        holds = _system_account_id("holds")
        _lock_accounts([account_id])
        prior = db.session.scalars(select(LedgerHold).where(LedgerHold.external_ref == external_ref)
                                   .execution_options(populate_existing=True)).first()
        if prior is not None:
            if (prior.account_id, prior.amount, prior.redemption_id) != \
                    (account_id, amount, redemption_id):
                raise _ref_conflict(external_ref)
            return prior
        posting_id = uuid.uuid4()
        # Points past their expiry are not spendable: sweep them first, in this transaction.
        _expire_lots_locked(account_id, now, posting_id)
        moved = _move(account_id, balance=-amount, reserved=amount, require_balance=amount)
        if moved is None:
            raise Conflict("Not enough available points.", code="insufficient_balance")
        hold = LedgerHold(id=uuid.uuid4(), account_id=account_id, amount=amount,
                          status="pending", redemption_id=redemption_id,
                          external_ref=external_ref, expires_at=expires_at, created_at=utcnow())
        db.session.add(hold)
        try:
            db.session.flush()
        except IntegrityError:
            raise _ref_conflict(external_ref) from None
        taken = _take_from_lots(account_id, amount)
        db.session.execute(insert(HOLD_LOTS), [{"hold_id": hold.id, "lot_id": lot_id,
                                                "amount": take} for lot_id, take in taken])
        _insert_transfers([{"posting_id": posting_id, "kind": "reserve",
                            "reason": "redemption_reserved", "debit_account_id": account_id,
                            "credit_account_id": holds, "amount": amount,
                            "citizen_account_id": account_id, "balance_after": moved[0],
                            "redemption_id": redemption_id, "hold_id": hold.id,
                            "external_ref": external_ref, "event_time": now}])
    return hold


def post_hold(*, hold_id: uuid.UUID, merchant_partner_id: uuid.UUID,
              now: dt.datetime | None = None) -> LedgerTransfer:
    """Pay a pending hold to the merchant (`redeem`). A voided, expired or overdue hold is a
    409 (`hold_not_pending`, `hold_expired`); posting it again to the same merchant returns the
    first transfer."""
    now = now or utcnow()
    with unit_of_work():
        hold = _hold_row(hold_id)
        merchant = _merchant_account_id(merchant_partner_id)
        holds = _system_account_id("holds")
        _lock_accounts([hold.account_id, merchant])
        hold = _hold_row(hold_id)
        if hold.status != "pending":
            if hold.status == "posted" and hold.merchant_account_id == merchant:
                return _settlement_transfer(hold_id)
            raise Conflict(f"The hold is {hold.status}.", code="hold_not_pending")
        if hold.expires_at <= now:
            raise Conflict("The hold has expired.", code="hold_expired")
        if not _set_hold_status(hold_id, "posted", now, merchant_account_id=merchant):
            raise Conflict("The hold is no longer pending.", code="hold_not_pending")
        balance, _ = _move(hold.account_id, reserved=-hold.amount)
        _move(merchant, balance=hold.amount)
        (transfer,) = _insert_transfers([{
            "posting_id": uuid.uuid4(), "kind": "redeem", "reason": "redemption_confirmed",
            "debit_account_id": holds, "credit_account_id": merchant, "amount": hold.amount,
            "citizen_account_id": hold.account_id, "balance_after": balance,
            "redemption_id": hold.redemption_id, "hold_id": hold_id,
            "external_ref": f"hold:{hold_id}:settle", "event_time": now}])
    return transfer


def _release_hold(hold_id: uuid.UUID, *, expired: bool, now: dt.datetime,
                  quiet: bool = False) -> tuple[LedgerTransfer | None, bool]:
    hold = _hold_row(hold_id)
    holds = _system_account_id("holds")
    _lock_accounts([hold.account_id])
    hold = _hold_row(hold_id)
    if hold.status != "pending":
        if hold.status in ("voided", "expired"):
            return _settlement_transfer(hold_id), False
        if quiet:
            return None, False
        raise Conflict(f"The hold is {hold.status}.", code="hold_not_pending")
    if expired and hold.expires_at > now:
        raise Conflict("The hold is not due to expire yet.", code="hold_not_due")
    if not _set_hold_status(hold_id, "expired" if expired else "voided", now):
        raise Conflict("The hold is no longer pending.", code="hold_not_pending")
    balance, _ = _move(hold.account_id, balance=hold.amount, reserved=-hold.amount)
    allocations = db.session.execute(select(HOLD_LOTS.c.lot_id, HOLD_LOTS.c.amount)
                                     .where(HOLD_LOTS.c.hold_id == hold_id)).all()
    db.session.execute(update(LOTS).where(LOTS.c.id == bindparam("b_id"))
                       .values(remaining=LOTS.c.remaining + bindparam("b_back")),
                       [{"b_id": a.lot_id, "b_back": a.amount} for a in allocations])
    posting_id = uuid.uuid4()
    (transfer,) = _insert_transfers([{
        "posting_id": posting_id, "kind": "release",
        "reason": "hold_expired" if expired else "redemption_cancelled",
        "debit_account_id": holds, "credit_account_id": hold.account_id, "amount": hold.amount,
        "citizen_account_id": hold.account_id, "balance_after": balance,
        "redemption_id": hold.redemption_id, "hold_id": hold_id,
        "external_ref": f"hold:{hold_id}:settle", "event_time": now}])
    # Points that went back to lots already past their expiry expire now, in the same posting.
    _expire_lots_locked(hold.account_id, now, posting_id)
    return transfer, True


def void_hold(*, hold_id: uuid.UUID, expired: bool = False,
              now: dt.datetime | None = None) -> LedgerTransfer:
    """Release a pending hold back to available (`release`) into the lots it came from.
    A posted hold is a 409 `hold_not_pending`; voiding again returns the first release."""
    with unit_of_work():
        transfer, _ = _release_hold(hold_id, expired=expired, now=now or utcnow())
    return transfer


def expire_due_holds(*, now: dt.datetime | None = None, batch: int = 500) -> int:
    """Release pending holds past `expires_at`; returns how many this run expired."""
    now = now or utcnow()
    due = list(db.session.scalars(select(HOLDS.c.id)
                                  .where(HOLDS.c.status == "pending", HOLDS.c.expires_at <= now)
                                  .order_by(HOLDS.c.expires_at).limit(batch)))
    count = 0
    for hold_id in due:
        with unit_of_work():
            _, changed = _release_hold(hold_id, expired=True, now=now, quiet=True)
        count += changed
    return count


def expire_due_lots(*, now: dt.datetime | None = None, batch: int = 500) -> int:
    """Post `expire` for what is left in lots past their expiry; returns lots expired."""
    now = now or utcnow()
    accounts = sorted(set(db.session.scalars(
        select(LOTS.c.account_id).where(LOTS.c.remaining > 0, LOTS.c.expires_at <= now)
        .limit(batch))))
    count = 0
    for account_id in accounts:
        with unit_of_work():
            _lock_accounts([account_id])
            count += _expire_lots_locked(account_id, now, uuid.uuid4())
    return count


# ---------------------------------------------------------------------------------------------
# Reversals


def reverse_earn(*, action_id: uuid.UUID | None = None, external_ref: str | None = None,
                 reason: str, actor_user_id: uuid.UUID | None,
                 now: dt.datetime | None = None) -> LedgerReversal:
    """Claw back a credited earn, capped at the available balance; the rest is recorded as
    `shortfall`. Reversing the same earn twice is a 409 `already_reversed`."""
    if (action_id is None) == (external_ref is None):
        raise _invalid("action_id", "Give exactly one of action_id or external_ref.")
    _check_reason(reason, maximum=1000)
    now = now or utcnow()
    with unit_of_work():
        query = select(LedgerTransfer).where(LedgerTransfer.kind == "earn")
        if action_id is not None:
            query = query.where(LedgerTransfer.action_id == action_id)
        else:
            query = query.where(LedgerTransfer.external_ref == external_ref)
        earns = list(db.session.scalars(query.limit(2)))
        if not earns:
            raise NotFound("No credited earn to reverse.")
        if len(earns) > 1:
            raise _invalid("action_id", "Several earns carry this action; give external_ref.")
        earn = earns[0]
        account_id = earn.credit_account_id
        issuance = _system_account_id("issuance")
        _lock_accounts([account_id])
        if db.session.execute(select(REVERSALS.c.id)
                              .where(REVERSALS.c.target_transfer_id == earn.id)).first():
            raise Conflict("This earn has already been reversed.", code="already_reversed")
        posting_id = uuid.uuid4()
        _expire_lots_locked(account_id, now, posting_id)
        available = db.session.execute(select(ACCOUNTS.c.balance)
                                       .where(ACCOUNTS.c.id == account_id)).scalar_one()
        clawed, shortfall = rules.clawback(earned=earn.amount, available=available)
        transfer_id = None
        if clawed:
            balance, _ = _move(account_id, balance=-clawed, require_balance=clawed)
            _take_from_lots(account_id, clawed, prefer_earn=earn.id)
            (transfer,) = _insert_transfers([{
                "posting_id": posting_id, "kind": "reversal", "reason": "action_reversed",
                "debit_account_id": account_id, "credit_account_id": issuance, "amount": clawed,
                "citizen_account_id": account_id, "balance_after": balance,
                "action_id": earn.action_id, "reversal_of": earn.id,
                "external_ref": f"reversal:{earn.id}", "event_time": now}])
            transfer_id = transfer.id
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
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise _invalid("points", "Must be a non-zero whole number of points.")
    _check_points(abs(points), "points")
    _check_ref(external_ref)
    if reason not in ADJUSTMENT_REASONS:
        raise _invalid("reason", f"Must be one of {', '.join(ADJUSTMENT_REASONS)}.")
    _check_reason(note, "note", maximum=1000)
    now = now or utcnow()
    amount = abs(points)
    code = f"adjustment_{reason}"
    with unit_of_work():
        account_of, _ = _lock_citizen_accounts({user_id})
        if user_id not in account_of:
            raise NotFound("User not found.")
        account_id = account_of[user_id]
        issuance = _system_account_id("issuance")
        debit, credit = (issuance, account_id) if points > 0 else (account_id, issuance)
        prior = db.session.scalars(select(LedgerTransfer)
                                   .where(LedgerTransfer.external_ref == external_ref)).first()
        if prior is not None:
            if (prior.kind, prior.debit_account_id, prior.credit_account_id, prior.amount,
                    prior.reason) != ("adjustment", debit, credit, amount, code):
                raise _ref_conflict(external_ref)
            return prior
        posting_id = uuid.uuid4()
        if points > 0:
            balance, _ = _move(account_id, balance=amount)
        else:
            _expire_lots_locked(account_id, now, posting_id)  # expired points are not there
            moved = _move(account_id, balance=-amount, require_balance=amount)
            if moved is None:
                raise Conflict("Not enough available points to take back.",
                               code="insufficient_balance")
            balance = moved[0]
            _take_from_lots(account_id, amount)
        (transfer,) = _insert_transfers([{
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


# ---------------------------------------------------------------------------------------------
# Forfeiture (erased accounts)


def forfeit_balance(*, user_id: uuid.UUID, now: dt.datetime | None = None) -> int:
    """Move a citizen's whole available balance to the forfeiture account (`forfeit`), oldest
    lots first, one transfer per lot like `expire`; points already past expiry expire first.
    Refused with 409 `points_reserved` while a hold is pending (cancel the vouchers first).
    Returns the points forfeited; an account with nothing left posts nothing."""
    now = now or utcnow()
    with unit_of_work():
        account_id = db.session.execute(select(ACCOUNTS.c.id)
                                        .where(ACCOUNTS.c.user_id == user_id)).scalar()
        if account_id is None:
            return 0
        account = _lock_accounts([account_id])[account_id]
        if account.reserved:
            raise Conflict("Points are reserved for open vouchers.", code="points_reserved")
        posting_id = uuid.uuid4()
        _expire_lots_locked(account_id, now, posting_id)
        lots = db.session.execute(
            select(LOTS.c.id, LOTS.c.remaining)
            .where(LOTS.c.account_id == account_id, LOTS.c.remaining > 0)
            .order_by(LOTS.c.expires_at, LOTS.c.id)).all()
        total = sum(lot.remaining for lot in lots)
        if not total:
            return 0
        moved = _move(account_id, balance=-total, require_balance=total)
        if moved is None or moved[0] != 0:
            raise Conflict("The balance changed while it was forfeited; retry.",
                           code="ledger_conflict")
        _insert_transfers(_lot_emptying_rows(
            lots, account_id=account_id, to_account_id=_system_account_id("forfeiture"),
            posting_id=posting_id, kind="forfeit", reason="account_erased", balance_after=0,
            external_ref=lambda lot: f"forfeit:lot:{lot.id}:{posting_id}",
            event_time=lambda lot: now))
        db.session.execute(update(LOTS).where(LOTS.c.id == bindparam("b_id"),
                                              LOTS.c.remaining == bindparam("b_left"))
                           .values(remaining=0),
                           [{"b_id": lot.id, "b_left": lot.remaining} for lot in lots])
    return total


# ---------------------------------------------------------------------------------------------
# Reads


def get_balance(*, user_id: uuid.UUID, now: dt.datetime | None = None,
                expiring_limit: int = 50) -> Balance:
    """Available (posted minus open holds, minus points already past expiry), reserved, and
    what expires when: the account row plus the live lots, never the transfer history."""
    now = now or utcnow()
    account = db.session.execute(select(ACCOUNTS.c.id, ACCOUNTS.c.balance, ACCOUNTS.c.reserved)
                                 .where(ACCOUNTS.c.user_id == user_id)).first()
    if account is None:
        return Balance(available=0, reserved=0, expiring=[])
    live = (LOTS.c.account_id == account.id, LOTS.c.remaining > 0)
    overdue = db.session.execute(select(func.coalesce(func.sum(LOTS.c.remaining), 0))
                                 .where(*live, LOTS.c.expires_at <= now)).scalar_one()
    expiring = db.session.execute(
        select(func.sum(LOTS.c.remaining), LOTS.c.expires_at).where(*live, LOTS.c.expires_at > now)
        .group_by(LOTS.c.expires_at).order_by(LOTS.c.expires_at).limit(expiring_limit)).all()
    return Balance(available=account.balance - int(overdue), reserved=account.reserved,
                   expiring=[(int(points), expires_at) for points, expires_at in expiring])


def get_available_balance(*, user_id: uuid.UUID) -> int:
    return get_balance(user_id=user_id, expiring_limit=0).available


def list_statement(*, user_id: uuid.UUID, kind: str | None = None,
                   action_id: uuid.UUID | None = None, redemption_id: uuid.UUID | None = None,
                   since: dt.datetime | None = None, until: dt.datetime | None = None,
                   after: tuple | None = None, limit: int = 50):
    """The citizen's entries newest first, keyset-paginated on `seq`: `(entries, next_key)`."""
    account_id = db.session.execute(select(ACCOUNTS.c.id)
                                    .where(ACCOUNTS.c.user_id == user_id)).scalar()
    if account_id is None:
        return [], None
    query = (select(LedgerTransfer).where(LedgerTransfer.citizen_account_id == account_id)
             .order_by(LedgerTransfer.seq.desc()))
    if kind:
        query = query.where(LedgerTransfer.kind == kind)
    if action_id:
        query = query.where(LedgerTransfer.action_id == action_id)
    if redemption_id:
        query = query.where(LedgerTransfer.redemption_id == redemption_id)
    if since:
        query = query.where(LedgerTransfer.recorded_at >= since)
    if until:
        query = query.where(LedgerTransfer.recorded_at < until)
    if after:
        query = query.where(LedgerTransfer.seq < after[0])
    rows = list(db.session.scalars(query.limit(limit + 1)))
    page, last = take_page(rows, limit, lambda t: (t.seq,))
    return [statement_entry(t, account_id) for t in page], last


def statement_entry(t: LedgerTransfer, account_id: int | None = None) -> StatementEntry:
    """A transfer as the citizen's statement shows it (default: its citizen's side)."""
    account_id = t.citizen_account_id if account_id is None else account_id
    return StatementEntry(id=t.id, seq=t.seq, kind=t.kind, reason=t.reason,
                          amount=t.signed_amount(account_id), points=t.amount,
                          balance_after=t.balance_after, action_id=t.action_id,
                          redemption_id=t.redemption_id, hold_id=t.hold_id,
                          event_time=t.event_time, created_at=t.recorded_at)


# ---------------------------------------------------------------------------------------------
# Hash chain


def _canonical(row) -> str:
    mapping = row._mapping
    return rules.canonical_transfer({name: mapping[name] for name in SEALED_FIELDS})


def seal_pending(*, batch: int = 1000, settle_seconds: int = 300,
                 rescan: bool = False) -> int:
    """Append unsealed transfers to the hash chain; returns how many were sealed.

    Only the sealer locks the chain head, so postings never wait for it. Chain order is seal
    order: a transfer whose transaction commits late is sealed by a later run. The watermark
    (every seq at or below it is sealed) only passes transfers older than `settle_seconds`,
    so no transaction still open can hold a lower seq; `rescan` ignores it."""
    now = utcnow()
    with unit_of_work():
        db.session.execute(_dialect_insert()(HEAD)
                           .values(id=1, position=0, hash=rules.GENESIS_HASH, watermark_seq=0,
                                   updated_at=now)
                           .on_conflict_do_nothing(index_elements=["id"]))
        head = db.session.execute(select(HEAD).where(HEAD.c.id == 1).with_for_update()).one()
        floor = 0 if rescan else head.watermark_seq
        unsealed = db.session.execute(
            select(TRANSFERS).where(TRANSFERS.c.seq > floor,
                                    ~exists().where(SEALS.c.transfer_seq == TRANSFERS.c.seq))
            .order_by(TRANSFERS.c.seq).limit(batch)).all()
        prev, position, seals = head.hash, head.position, []
        for row in unsealed:
            position += 1
            link = rules.chain_hash(prev, _canonical(row))
            seals.append({"position": position, "transfer_seq": row.seq, "prev_hash": prev,
                          "hash": link, "sealed_at": now})
            prev = link
        if seals:
            db.session.execute(insert(SEALS), seals)
        ceiling = unsealed[-1].seq if len(unsealed) == batch else None
        mark = select(func.max(TRANSFERS.c.seq)).where(
            TRANSFERS.c.seq > head.watermark_seq,
            TRANSFERS.c.recorded_at < now - dt.timedelta(seconds=settle_seconds))
        if ceiling is not None:
            mark = mark.where(TRANSFERS.c.seq <= ceiling)
        watermark = db.session.execute(mark).scalar() or head.watermark_seq
        db.session.execute(update(HEAD).where(HEAD.c.id == 1)
                           .values(position=position, hash=prev, watermark_seq=watermark,
                                   updated_at=now))
    return len(seals)


def seal_all(*, batch: int = 1000, settle_seconds: int = 300, rescan: bool = False) -> int:
    """Seal until nothing is left (CLI, jobs)."""
    total = 0
    while True:
        sealed = seal_pending(batch=batch, settle_seconds=settle_seconds, rescan=rescan)
        total += sealed
        if sealed < batch:
            return total


# ---------------------------------------------------------------------------------------------
# Verify


def _signed(row, account_id: int) -> int:
    if row.credit_account_id == account_id:
        return row.amount
    if row.debit_account_id == account_id:
        return -row.amount
    return 0


def verify_ledger() -> VerifyReport:
    """Recompute everything from the transfers: double entry, every stored balance, the
    balance-after walk, holds, lots, reversals and the hash chain. Read-only.

    Unsealed transfers are not a problem (the sealer runs off the hot path); they are counted in
    `pending_seal` and still checked against balances. One below the sealer's watermark is."""
    problems: list[str] = []
    accounts = {row.id: row for row in db.session.execute(select(ACCOUNTS)).all()}
    derived: dict[int, int] = collections.defaultdict(int)
    last_after: dict[int, int] = {}
    count = 0
    for t in db.session.execute(select(TRANSFERS).order_by(TRANSFERS.c.seq)
                                .execution_options(yield_per=2000)):
        count += 1
        label = f"transfer {t.id} (seq {t.seq}, {t.kind})"
        if t.amount is None or t.amount <= 0:
            problems.append(f"{label}: amount {t.amount} is not positive")
            continue
        derived[t.debit_account_id] -= t.amount
        derived[t.credit_account_id] += t.amount
        debit, credit = accounts.get(t.debit_account_id), accounts.get(t.credit_account_id)
        if debit is None or credit is None:
            problems.append(f"{label}: unknown account")
            continue
        shape = TRANSFER_SHAPES.get(t.kind)
        if shape and (debit.kind, credit.kind) != shape:
            problems.append(f"{label}: moves {debit.kind} -> {credit.kind}, expected "
                            f"{shape[0]} -> {shape[1]}")
        if t.kind == "adjustment" and (debit.kind, credit.kind) not in ADJUSTMENT_SHAPES:
            problems.append(f"{label}: moves {debit.kind} -> {credit.kind}, expected issuance "
                            "<-> citizen")
        if t.citizen_account_id is not None:
            expected = last_after.get(t.citizen_account_id, 0) + _signed(t, t.citizen_account_id)
            if t.balance_after != expected:
                problems.append(f"{label}: balance_after {t.balance_after}, the entries before "
                                f"it give {expected}")
            last_after[t.citizen_account_id] = (t.balance_after if t.balance_after is not None
                                                else expected)
    if sum(derived.values()) != 0:
        problems.append(f"double entry broken: balances sum to {sum(derived.values())}, not 0")

    pending_holds = dict(db.session.execute(
        select(HOLDS.c.account_id, func.sum(HOLDS.c.amount))
        .where(HOLDS.c.status == "pending").group_by(HOLDS.c.account_id)).all())
    lot_sums = dict(db.session.execute(
        select(LOTS.c.account_id, func.sum(LOTS.c.remaining)).group_by(LOTS.c.account_id)).all())
    for account in accounts.values():
        name = f"account {account.id} ({account.kind})"
        own = derived.get(account.id, 0)
        if account.balance < 0 or account.reserved < 0:
            problems.append(f"{name}: negative balance {account.balance}/{account.reserved}")
        if account.kind in ("citizen", "merchant") and account.balance != own:
            problems.append(f"{name}: stored balance {account.balance} but its transfers sum "
                            f"to {own}")
        if account.kind == "citizen":
            if account.reserved != int(pending_holds.get(account.id, 0)):
                problems.append(f"{name}: reserved {account.reserved} but pending holds total "
                                f"{int(pending_holds.get(account.id, 0))}")
            if account.balance != int(lot_sums.get(account.id, 0)):
                problems.append(f"{name}: balance {account.balance} but live lots hold "
                                f"{int(lot_sums.get(account.id, 0))}")
            if last_after.get(account.id, 0) != account.balance:
                problems.append(f"{name}: last balance_after {last_after.get(account.id, 0)} "
                                f"differs from the balance {account.balance}")
        if account.kind == "holds" and own != sum(int(v) for v in pending_holds.values()):
            problems.append(f"{name}: holds {own} but pending holds total "
                            f"{sum(int(v) for v in pending_holds.values())}")
        if account.kind in ("expiry", "forfeiture") and own < 0:
            problems.append(f"{name}: {account.kind} account is negative ({own})")
        if account.kind == "issuance" and own > 0:
            problems.append(f"{name}: issuance account is positive ({own})")

    problems += _verify_holds() + _verify_reversals()
    sealed, head_hash, chain_problems = _verify_chain()
    problems += chain_problems
    return VerifyReport(ok=not problems, entries_checked=count, chain_head=head_hash,
                        sealed=sealed, pending_seal=count - sealed, problems=problems)


def _verify_holds() -> list[str]:
    problems = []
    legs = collections.defaultdict(list)
    for hold_id, kind, amount in db.session.execute(
            select(TRANSFERS.c.hold_id, TRANSFERS.c.kind, TRANSFERS.c.amount)
            .where(TRANSFERS.c.hold_id.is_not(None))):
        legs[hold_id].append((kind, amount))
    settle_kind = {"pending": None, "posted": "redeem", "voided": "release", "expired": "release"}
    allocated = dict(db.session.execute(select(HOLD_LOTS.c.hold_id, func.sum(HOLD_LOTS.c.amount))
                                        .group_by(HOLD_LOTS.c.hold_id)).all())
    for hold in db.session.execute(select(HOLDS)):
        expected = [("reserve", hold.amount)]
        if settle_kind[hold.status]:
            expected.append((settle_kind[hold.status], hold.amount))
        if sorted(legs.get(hold.id, [])) != sorted(expected):
            problems.append(f"hold {hold.id} ({hold.status}): transfers {legs.get(hold.id, [])}, "
                            f"expected {expected}")
        if int(allocated.get(hold.id, 0)) != hold.amount:
            problems.append(f"hold {hold.id}: lots allocated {allocated.get(hold.id, 0)}, "
                            f"expected {hold.amount}")
    return problems


def _verify_reversals() -> list[str]:
    problems = []
    rows = db.session.execute(
        select(REVERSALS, TRANSFERS.c.amount.label("clawed_amount"))
        .outerjoin(TRANSFERS, TRANSFERS.c.id == REVERSALS.c.transfer_id)).all()
    for row in rows:
        if row.clawed_back + row.shortfall != row.earned or \
                (row.clawed_amount or 0) != row.clawed_back:
            problems.append(f"reversal {row.id}: earned {row.earned}, clawed back "
                            f"{row.clawed_back} (transfer {row.clawed_amount}), shortfall "
                            f"{row.shortfall} do not add up")
    return problems


def _verify_chain() -> tuple[int, str, list[str]]:
    problems = []
    prev, position = rules.GENESIS_HASH, 0
    for row in db.session.execute(
            select(SEALS.c.position, SEALS.c.prev_hash, SEALS.c.hash.label("seal_hash"),
                   *[TRANSFERS.c[name] for name in SEALED_FIELDS])
            .join(TRANSFERS, TRANSFERS.c.seq == SEALS.c.transfer_seq)
            .order_by(SEALS.c.position).execution_options(yield_per=2000)):
        position += 1
        if row.position != position:
            problems.append(f"hash chain: position {row.position} where {position} was expected")
        if row.prev_hash != prev:
            problems.append(f"hash chain: seal {row.position} does not link to the one before")
        if rules.chain_hash(row.prev_hash, _canonical(row)) != row.seal_hash:
            problems.append(f"hash chain: transfer {row.id} (seq {row.seq}) no longer matches "
                            f"seal {row.position}")
        prev = row.seal_hash
    total_seals = db.session.execute(select(func.count()).select_from(SEALS)).scalar_one()
    if total_seals != position:
        problems.append(f"hash chain: {total_seals - position} seals point at missing transfers")
    head = db.session.execute(select(HEAD).where(HEAD.c.id == 1)).first()
    if head is not None:
        if (head.position, head.hash) != (position, prev):
            problems.append(f"hash chain: head says position {head.position} {head.hash[:12]}, "
                            f"the chain ends at {position} {prev[:12]}")
        behind = db.session.execute(
            select(func.count()).select_from(TRANSFERS)
            .where(TRANSFERS.c.seq <= head.watermark_seq,
                   ~exists().where(SEALS.c.transfer_seq == TRANSFERS.c.seq))).scalar_one()
        if behind:
            problems.append(f"hash chain: {behind} transfers below the watermark are unsealed "
                            f"(run `flask ledger seal --rescan`)")
    elif position:
        problems.append("hash chain: seals exist but the chain head is missing")
    return position, prev, problems
