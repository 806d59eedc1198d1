"""What every part of the ledger shares: table handles, value objects, accounts and their
locks, balance moves, transfer inserts and FIFO lots.

Concurrency: everything about one citizen is serialised by that citizen's account row, locked
first (`FOR NO KEY UPDATE`, sorted by id when several); then idempotency checks, holds and lots
are read fresh under that lock. System accounts (issuance, holds, expiry, forfeiture) are never
locked and keep no running balance.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Iterable

from sqlalchemy import bindparam, case, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from carbon_credits.domain import ledger as rules
from carbon_credits.domain.errors import Conflict, NotFound
from carbon_credits.services.bulk_rows import copy_rows
from carbon_credits.services.uow import after_commit
from models import (LedgerAccount, LedgerChainHead, LedgerHold, LedgerHoldLot, LedgerLot,
                    LedgerReversal, LedgerSeal, LedgerTransfer, LedgerTransferKey, Partner, User,
                    db, utcnow)

ACCOUNTS = LedgerAccount.__table__
TRANSFERS = LedgerTransfer.__table__
TRANSFER_KEYS = LedgerTransferKey.__table__
HOLDS = LedgerHold.__table__
LOTS = LedgerLot.__table__
HOLD_LOTS = LedgerHoldLot.__table__
REVERSALS = LedgerReversal.__table__
SEALS = LedgerSeal.__table__
HEAD = LedgerChainHead.__table__

MAX_BATCH = 1000


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
    donation_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None  # a `bonus` entry's campaign (docs/engagement.md)


def ref_conflict(ref: str) -> Conflict:
    return Conflict(f"external_ref {ref!r} was already posted with different details.",
                    code="ledger_ref_conflict")


# ---------------------------------------------------------------------------------------------
# Accounts and their locks


def dialect_insert():
    return pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert


# System account ids never change once committed, so each process remembers them: one query
# less on every posting. Only committed ids are remembered (a rolled-back lazy creation must not
# leave a dangling id), keyed by database so two apps in one process never mix them up.
_system_ids: dict[tuple[str, str], int] = {}


def forget_system_accounts() -> None:
    """For a harness that truncates the ledger tables (the ids are then created anew)."""
    _system_ids.clear()


def system_account_id(code: str) -> int:
    """System accounts are created lazily (after a reset too); they are never locked."""
    cache_key = (str(db.session.get_bind().url), code)
    if cache_key in _system_ids:
        return _system_ids[cache_key]
    query = select(ACCOUNTS.c.id).where(ACCOUNTS.c.system_code == code)
    found = db.session.execute(query).scalar()
    if found is None:
        db.session.execute(dialect_insert()(ACCOUNTS)
                           .values(kind=code, system_code=code, balance=0, reserved=0,
                                   created_at=utcnow())
                           .on_conflict_do_nothing(index_elements=["system_code"]))
        found = db.session.execute(query).scalar_one()
    after_commit(lambda: _system_ids.__setitem__(cache_key, found))
    return found


def citizen_account_ids(user_ids: Iterable[uuid.UUID], *, create: bool = True) -> dict:
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
        db.session.execute(dialect_insert()(ACCOUNTS)
                           .values([{"kind": "citizen", "user_id": uid, "balance": 0,
                                     "reserved": 0, "created_at": now} for uid in sorted(known)])
                           .on_conflict_do_nothing(index_elements=["user_id"]))
        found = dict(db.session.execute(query).all())
    return found


def open_citizen_account(user_id: uuid.UUID) -> None:
    """A citizen's account is opened with the citizen, so a first credit finds it."""
    citizen_account_ids({user_id})


def merchant_account_id(partner_id: uuid.UUID) -> int:
    partner = db.session.get(Partner, partner_id)
    if partner is None or partner.kind != "merchant":
        raise NotFound("Merchant partner not found.")
    query = select(ACCOUNTS.c.id).where(ACCOUNTS.c.partner_id == partner_id)
    found = db.session.execute(query).scalar()
    if found is None:
        db.session.execute(dialect_insert()(ACCOUNTS)
                           .values(kind="merchant", partner_id=partner_id, balance=0, reserved=0,
                                   created_at=utcnow())
                           .on_conflict_do_nothing(index_elements=["partner_id"]))
        found = db.session.execute(query).scalar_one()
    return found


def lock_citizen_accounts(user_ids: Iterable[uuid.UUID]) -> tuple[dict, dict]:
    """Find and lock the citizens' accounts in one statement (creating missing ones first):
    (user id -> account id, account id -> locked row)."""
    wanted = set(user_ids)
    query = (select(ACCOUNTS).where(ACCOUNTS.c.user_id.in_(wanted))
             .order_by(ACCOUNTS.c.id).with_for_update(key_share=True))
    rows = db.session.execute(query).all()
    if len(rows) < len(wanted):
        citizen_account_ids(wanted)
        rows = db.session.execute(query).all()
    return {row.user_id: row.id for row in rows}, {row.id: row for row in rows}


def lock_accounts(account_ids: Iterable[int]) -> dict:
    """Lock citizen/merchant rows in id order (FOR NO KEY UPDATE: foreign-key checks of other
    postings still pass). On SQLite BEGIN IMMEDIATE already serialises writers."""
    ids = sorted(set(account_ids))
    rows = db.session.execute(select(ACCOUNTS).where(ACCOUNTS.c.id.in_(ids))
                              .order_by(ACCOUNTS.c.id).with_for_update(key_share=True)).all()
    return {row.id: row for row in rows}


# ---------------------------------------------------------------------------------------------
# Moves and transfers


def move(account_id: int, *, balance: int = 0, reserved: int = 0,
         require_balance: int | None = None) -> tuple[int, int] | None:
    """Atomic increment; with `require_balance` a conditional update (None when it fails)."""
    stmt = (update(ACCOUNTS).where(ACCOUNTS.c.id == account_id)
            .values(balance=ACCOUNTS.c.balance + balance, reserved=ACCOUNTS.c.reserved + reserved)
            .returning(ACCOUNTS.c.balance, ACCOUNTS.c.reserved))
    if require_balance is not None:
        stmt = stmt.where(ACCOUNTS.c.balance >= require_balance)
    row = db.session.execute(stmt).first()
    return None if row is None else (row.balance, row.reserved)


def transfer_values(rows: list[dict]) -> list[dict]:
    """Complete rows for insertion; ids are minted here, so callers know them before insert."""
    now = utcnow()
    return [{"id": uuid.uuid4(), "recorded_at": now, "citizen_account_id": None,
             "balance_after": None, "action_id": None, "redemption_id": None, "hold_id": None,
             "reversal_of": None, **row} for row in rows]


def posted_with_refs(*refs: str):
    """Where-clause: the transfers posted under these external refs. The refs are unique in
    `ledger_transfer_keys`, the one index that finds them across every month's partition."""
    ids = select(TRANSFER_KEYS.c.id).where(TRANSFER_KEYS.c.external_ref.in_(set(refs)))
    return LedgerTransfer.id.in_(ids)


def insert_transfers(rows: list[dict]) -> list[LedgerTransfer]:
    return store_transfers(transfer_values(rows), load=True)


def store_transfers(values: list[dict], *, load: bool) -> list[LedgerTransfer] | None:
    """Insert completed rows; with `load` return the stored transfers in order (RETURNING and
    ORM objects: most of the insert's cost for a 1000-row batch, so skipped when unused)."""
    try:
        if not load:
            copy_rows(TRANSFERS, values)
            return None
        return list(db.session.scalars(
            insert(LedgerTransfer).returning(LedgerTransfer, sort_by_parameter_order=True),
            values))
    except IntegrityError as error:
        if "external_ref" in str(error.orig):
            raise ref_conflict(values[0]["external_ref"] if len(values) == 1 else "(batch)") from None
        raise


# ---------------------------------------------------------------------------------------------
# Lots


def take_from_lots(account_id: int, amount: int, *, prefer_earn: uuid.UUID | None = None):
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


def lot_emptying_rows(lots, *, account_id: int, to_account_id: int, posting_id: uuid.UUID,
                      kind: str, reason: str, balance_after: int, external_ref, event_time) -> list[dict]:
    """One transfer per lot moving what is left in it to `to_account_id`; the citizen's
    balance runs down lot by lot to `balance_after`."""
    balances = rules.balances_while_emptying([lot.remaining for lot in lots], balance_after)
    return [{"posting_id": posting_id, "kind": kind, "reason": reason,
             "debit_account_id": account_id, "credit_account_id": to_account_id,
             "amount": lot.remaining, "citizen_account_id": account_id,
             "balance_after": running, "external_ref": external_ref(lot),
             "event_time": event_time(lot)} for lot, running in zip(lots, balances)]


def expire_lots_locked(account_id: int, now: dt.datetime, posting_id: uuid.UUID) -> int:
    """Post `expire` for what is left in this account's due lots. Caller holds the lock."""
    due = db.session.execute(
        select(LOTS.c.id, LOTS.c.remaining, LOTS.c.expired_amount, LOTS.c.expires_at)
        .where(LOTS.c.account_id == account_id, LOTS.c.remaining > 0, LOTS.c.expires_at <= now)
        .order_by(LOTS.c.expires_at, LOTS.c.id)).all()
    if not due:
        return 0
    total = sum(lot.remaining for lot in due)
    balance_after, _ = move(account_id, balance=-total)
    insert_transfers(lot_emptying_rows(
        due, account_id=account_id, to_account_id=system_account_id("expiry"),
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
