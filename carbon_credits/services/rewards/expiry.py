"""Voucher expiry: reservations that end without a merchant. The due-work job expires those past
`expires_at` (hold released, stock and claim returned); erasure (DELETE /me) closes all of a
citizen's open ones, expiring the overdue and cancelling the rest. The rules of the expiry
instant are in domain/vouchers.py."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from carbon_credits.domain import vouchers
from carbon_credits.services import ledger
from carbon_credits.services.audit import record_audit
from carbon_credits.services.webhooks.payloads import emit_redemption
from carbon_credits.services.rewards.redemptions import give_back, refreshed, transition
from carbon_credits.services.uow import unit_of_work
from models import Redemption, db, utcnow


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def release_expired_reservations(*, now: dt.datetime | None = None, batch: int = 500) -> int:
    """Expire reservations past `expires_at`: hold released, stock and claim returned. Each in
    its own transaction (the lock order of a cancel); safe on several workers at once: a row
    another worker holds is skipped, and the conditional update lets each expire only once."""
    now = now or utcnow()
    # Expired (vouchers.is_expired), stated in SQL: expires_at <= now.
    due = list(db.session.scalars(
        select(Redemption.id).where(Redemption.status == "reserved", Redemption.expires_at <= now)
        .order_by(Redemption.expires_at).limit(batch)))
    released = 0
    for redemption_id in due:
        with unit_of_work():
            lock = select(Redemption.id).where(Redemption.id == redemption_id,
                                               Redemption.status == "reserved")
            if _is_postgres() and db.session.scalar(lock.with_for_update(skip_locked=True)) is None:
                continue
            if not transition(redemption_id, to="expired", now=now,
                              where=(Redemption.expires_at <= now,)):
                continue
            redemption = refreshed(redemption_id)
            give_back(redemption)
            ledger.void_hold(hold_id=redemption.hold_id, expired=True, now=now)
            record_audit(action="redemption.expire", object_type="redemption",
                         object_id=redemption_id, actor_user_id=None,
                         details={"reward_id": str(redemption.reward_id),
                                  "points": redemption.points})
            emit_redemption("voucher.expired", redemption)
            released += 1
    return released


def cancel_open_redemptions(*, user_id: uuid.UUID, now: dt.datetime | None = None) -> int:
    """Erasure (DELETE /me): cancel every reserved voucher of the citizen (overdue ones expire
    instead), inside the caller's unit of work; returns how many. Several at once keep the lock
    order of a single cancel: all the redemption rows (by id), then the rewards and claims, then
    the ledger. One a merchant confirmed first stays redeemed (the conditional update lets
    exactly one win); one reserved meanwhile leaves points reserved, which the caller detects."""
    now = now or utcnow()
    with unit_of_work():
        query = (select(Redemption.id).where(Redemption.user_id == user_id,
                                             Redemption.status == "reserved")
                 .order_by(Redemption.id))
        if _is_postgres():
            query = query.with_for_update()
        closed = []
        for redemption_id in list(db.session.scalars(query)):
            redemption = refreshed(redemption_id)
            to = vouchers.withdrawn_status(redemption.expires_at, now)
            if transition(redemption_id, to=to, now=now):
                closed.append((refreshed(redemption_id), to))
        for redemption, _ in sorted(closed, key=lambda c: (str(c[0].reward_id), str(c[0].id))):
            give_back(redemption)
        for redemption, to in closed:
            ledger.void_hold(hold_id=redemption.hold_id, expired=to == "expired", now=now)
            record_audit(action="redemption.cancel" if to == "cancelled" else "redemption.expire",
                         object_type="redemption", object_id=redemption.id,
                         actor_user_id=user_id if to == "cancelled" else None,
                         details={"reward_id": str(redemption.reward_id),
                                  "points": redemption.points})
    return len(closed)
