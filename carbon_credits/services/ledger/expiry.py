"""Points that leave a citizen unspent: lots past their expiry (`expire`, swept in batches)
and an erased account's remaining balance (`forfeit`). Both post one transfer per lot."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import bindparam, select, update

from carbon_credits.domain.errors import Conflict
from carbon_credits.services.ledger.core import (
    ACCOUNTS, LOTS, expire_lots_locked, insert_transfers, lock_accounts, lot_emptying_rows, move,
    system_account_id)
from carbon_credits.services.uow import unit_of_work
from models import db, utcnow


def expire_due_lots(*, now: dt.datetime | None = None, batch: int = 500) -> int:
    """Post `expire` for what is left in lots past their expiry; returns lots expired."""
    now = now or utcnow()
    accounts = sorted(set(db.session.scalars(
        select(LOTS.c.account_id).where(LOTS.c.remaining > 0, LOTS.c.expires_at <= now)
        .limit(batch))))
    count = 0
    for account_id in accounts:
        with unit_of_work():
            lock_accounts([account_id])
            count += expire_lots_locked(account_id, now, uuid.uuid4())
    return count


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
        account = lock_accounts([account_id])[account_id]
        if account.reserved:
            raise Conflict("Points are reserved for open vouchers.", code="points_reserved")
        posting_id = uuid.uuid4()
        expire_lots_locked(account_id, now, posting_id)
        lots = db.session.execute(
            select(LOTS.c.id, LOTS.c.remaining)
            .where(LOTS.c.account_id == account_id, LOTS.c.remaining > 0)
            .order_by(LOTS.c.expires_at, LOTS.c.id)).all()
        total = sum(lot.remaining for lot in lots)
        if not total:
            return 0
        moved = move(account_id, balance=-total, require_balance=total)
        if moved is None or moved[0] != 0:
            raise Conflict("The balance changed while it was forfeited; retry.",
                           code="ledger_conflict")
        insert_transfers(lot_emptying_rows(
            lots, account_id=account_id, to_account_id=system_account_id("forfeiture"),
            posting_id=posting_id, kind="forfeit", reason="account_erased", balance_after=0,
            external_ref=lambda lot: f"forfeit:lot:{lot.id}:{posting_id}",
            event_time=lambda lot: now))
        db.session.execute(update(LOTS).where(LOTS.c.id == bindparam("b_id"),
                                              LOTS.c.remaining == bindparam("b_left"))
                           .values(remaining=0),
                           [{"b_id": lot.id, "b_left": lot.remaining} for lot in lots])
    return total
