"""Two-phase spends: `reserve` moves points from available to a pending hold (oldest lots
first); the hold is then posted to a merchant (`redeem`), voided or expired (`release`, back
into the lots it came from). Each transition happens at most once.

Lock order: the citizen's account (and the merchant's, in id order), then the hold row read
again under the lock.
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from carbon_credits.domain import ledger as rules
from carbon_credits.domain.errors import Conflict, NotFound
from carbon_credits.services.ledger.core import (
    HOLD_LOTS, HOLDS, LOTS, citizen_account_ids, expire_lots_locked, insert_transfers,
    lock_accounts, merchant_account_id, move, posted_with_refs, ref_conflict, system_account_id,
    take_from_lots)
from carbon_credits.services.uow import unit_of_work
from models import LedgerHold, LedgerTransfer, db, utcnow


def _hold_row(hold_id: uuid.UUID):
    row = db.session.execute(select(HOLDS).where(HOLDS.c.id == hold_id)).first()
    if row is None:
        raise NotFound("Hold not found.")
    return row


def _settlement_transfer(hold_id: uuid.UUID) -> LedgerTransfer:
    return db.session.scalars(select(LedgerTransfer).where(
        posted_with_refs(f"hold:{hold_id}:settle"))).one()


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
    rules.check_points(amount)
    rules.check_ref(external_ref)
    rules.check_time(expires_at, "expires_at")
    now = now or utcnow()
    if expires_at <= now:
        raise rules.invalid("expires_at", "Must be in the future.")
    with unit_of_work():
        account_id = citizen_account_ids({user_id})[user_id]
        holds = system_account_id("holds")
        lock_accounts([account_id])
        prior = db.session.scalars(select(LedgerHold).where(LedgerHold.external_ref == external_ref)
                                   .execution_options(populate_existing=True)).first()
        if prior is not None:
            if (prior.account_id, prior.amount, prior.redemption_id) != \
                    (account_id, amount, redemption_id):
                raise ref_conflict(external_ref)
            return prior
        posting_id = uuid.uuid4()
        # Points past their expiry are not spendable: sweep them first, in this transaction.
        expire_lots_locked(account_id, now, posting_id)
        moved = move(account_id, balance=-amount, reserved=amount, require_balance=amount)
        if moved is None:
            raise Conflict("Not enough available points.", code="insufficient_balance")
        hold = _new_hold(account_id=account_id, amount=amount, redemption_id=redemption_id,
                         external_ref=external_ref, expires_at=expires_at)
        taken = take_from_lots(account_id, amount)
        db.session.execute(insert(HOLD_LOTS), [{"hold_id": hold.id, "lot_id": lot_id,
                                                "amount": take} for lot_id, take in taken])
        insert_transfers([{"posting_id": posting_id, "kind": "reserve",
                           "reason": "redemption_reserved", "debit_account_id": account_id,
                           "credit_account_id": holds, "amount": amount,
                           "citizen_account_id": account_id, "balance_after": moved[0],
                           "redemption_id": redemption_id, "hold_id": hold.id,
                           "external_ref": external_ref, "event_time": now}])
    return hold


def _new_hold(*, account_id: int, amount: int, redemption_id: uuid.UUID | None,
              external_ref: str, expires_at: dt.datetime) -> LedgerHold:
    hold = LedgerHold(id=uuid.uuid4(), account_id=account_id, amount=amount,
                      status="pending", redemption_id=redemption_id,
                      external_ref=external_ref, expires_at=expires_at, created_at=utcnow())
    db.session.add(hold)
    try:
        db.session.flush()
    except IntegrityError:
        raise ref_conflict(external_ref) from None
    return hold


def post_hold(*, hold_id: uuid.UUID, merchant_partner_id: uuid.UUID,
              now: dt.datetime | None = None) -> LedgerTransfer:
    """Pay a pending hold to the merchant (`redeem`). A voided, expired or overdue hold is a
    409 (`hold_not_pending`, `hold_expired`); posting it again to the same merchant returns the
    first transfer."""
    now = now or utcnow()
    with unit_of_work():
        hold = _hold_row(hold_id)
        merchant = merchant_account_id(merchant_partner_id)
        holds = system_account_id("holds")
        lock_accounts([hold.account_id, merchant])
        hold = _hold_row(hold_id)
        if hold.status != "pending":
            if hold.status == "posted" and hold.merchant_account_id == merchant:
                return _settlement_transfer(hold_id)
            raise Conflict(f"The hold is {hold.status}.", code="hold_not_pending")
        if hold.expires_at <= now:
            raise Conflict("The hold has expired.", code="hold_expired")
        if not _set_hold_status(hold_id, "posted", now, merchant_account_id=merchant):
            raise Conflict("The hold is no longer pending.", code="hold_not_pending")
        balance, _ = move(hold.account_id, reserved=-hold.amount)
        move(merchant, balance=hold.amount)
        (transfer,) = insert_transfers([{
            "posting_id": uuid.uuid4(), "kind": "redeem", "reason": "redemption_confirmed",
            "debit_account_id": holds, "credit_account_id": merchant, "amount": hold.amount,
            "citizen_account_id": hold.account_id, "balance_after": balance,
            "redemption_id": hold.redemption_id, "hold_id": hold_id,
            "external_ref": f"hold:{hold_id}:settle", "event_time": now}])
    return transfer


def _release_hold(hold_id: uuid.UUID, *, expired: bool, now: dt.datetime,
                  quiet: bool = False) -> tuple[LedgerTransfer | None, bool]:
    hold = _hold_row(hold_id)
    holds = system_account_id("holds")
    lock_accounts([hold.account_id])
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
    balance, _ = move(hold.account_id, balance=hold.amount, reserved=-hold.amount)
    allocations = db.session.execute(select(HOLD_LOTS.c.lot_id, HOLD_LOTS.c.amount)
                                     .where(HOLD_LOTS.c.hold_id == hold_id)).all()
    db.session.execute(update(LOTS).where(LOTS.c.id == bindparam("b_id"))
                       .values(remaining=LOTS.c.remaining + bindparam("b_back")),
                       [{"b_id": a.lot_id, "b_back": a.amount} for a in allocations])
    posting_id = uuid.uuid4()
    (transfer,) = insert_transfers([{
        "posting_id": posting_id, "kind": "release",
        "reason": "hold_expired" if expired else "redemption_cancelled",
        "debit_account_id": holds, "credit_account_id": hold.account_id, "amount": hold.amount,
        "citizen_account_id": hold.account_id, "balance_after": balance,
        "redemption_id": hold.redemption_id, "hold_id": hold_id,
        "external_ref": f"hold:{hold_id}:settle", "event_time": now}])
    # Points that went back to lots already past their expiry expire now, in the same posting.
    expire_lots_locked(hold.account_id, now, posting_id)
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
