"""Citizen notifications (docs/notifications.md): the due job that tells citizens of points about
to lapse and vouchers about to expire, `notify` for other services, the citizen's list (newest
first, read / unread) and what privacy needs (export, erasure, retention).

Each notification is single per (citizen, dedupe key): the database refuses the second
(`INSERT ... ON CONFLICT DO NOTHING`, both dialects), so a rerun of the job, or two workers at
once, write it once, and only the one that wrote it emits its webhook event."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from carbon_credits.config import get_settings
from carbon_credits.domain import notifications as rules
from carbon_credits.domain.errors import NotFound
from carbon_credits.services import webhooks
from carbon_credits.services.pagination import keyset_after, newest_first_page
from carbon_credits.services.uow import unit_of_work
from models import LedgerAccount, LedgerLot, Notification, Redemption, Reward, User, db, utcnow

# New notifications per kind and run at most: a backlog (the first run, a million citizens
# whose points lapse on one day) is worked off over the next runs, soonest first.
NOTIFY_BATCH = 1000
_TABLE = Notification.__table__


def _row(*, user_id: uuid.UUID, kind: str, data: dict, dedupe_key: str,
         now: dt.datetime) -> dict:
    if kind not in rules.NOTIFICATION_KINDS:
        raise ValueError(f"unknown notification kind: {kind}")
    if not dedupe_key or len(dedupe_key) > rules.MAX_DEDUPE_KEY:
        raise ValueError("a dedupe key is 1 to 200 characters")
    return {"id": uuid.uuid4(), "user_id": user_id, "kind": kind, "data": data,
            "dedupe_key": dedupe_key, "created_at": now}


def _insert_new(rows: list[dict]) -> set[uuid.UUID]:
    """Insert the rows whose (user_id, dedupe_key) is free; returns the ids inserted. In key
    order, so two workers writing the same keys wait on each other rather than deadlock."""
    if not rows:
        return set()
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (insert(_TABLE).values(sorted(rows, key=lambda r: (str(r["user_id"]),
                                                                  r["dedupe_key"])))
                 .on_conflict_do_nothing(index_elements=["user_id", "dedupe_key"])
                 .returning(_TABLE.c.id))
    return set(db.session.scalars(statement))


def _live_citizens(user_ids) -> set[uuid.UUID]:
    """The citizens among `user_ids` not erased, their rows held (FOR SHARE) until commit: an
    erasure (which deletes their notifications) waits for this unit of work, or went first and
    is seen here."""
    return set(db.session.scalars(
        select(User.id).where(User.id.in_(user_ids), User.erased_at.is_(None))
        .order_by(User.id).with_for_update(read=True)))


def notify(*, user_id: uuid.UUID, kind: str, data: dict, dedupe_key: str,
           now: dt.datetime | None = None) -> uuid.UUID | None:
    """Write one notification for a citizen, in the caller's unit of work (or its own); `data`
    is JSON-safe. Returns its id, or None when one with this dedupe key exists (or the citizen
    is erased). Emits no webhook event: the caller emits its own."""
    row = _row(user_id=user_id, kind=kind, data=data, dedupe_key=dedupe_key, now=now or utcnow())
    with unit_of_work():
        erased = db.session.scalar(select(User.erased_at).where(User.id == user_id))
        if erased is not None:
            return None
        inserted = _insert_new([row])
    return row["id"] if inserted else None


# ---------------------------------------------------------------------------------------------
# The due job


def notify_expiring(*, now: dt.datetime | None = None, batch: int = NOTIFY_BATCH) -> int:
    """Due job: a `points_expiring` notification per citizen and scheme day on which their
    points lapse, from today to `NOTIFY_POINTS_EXPIRING_DAYS` ahead, and a `voucher_expiring`
    one per reserved voucher whose validity ends within the hour; each with its webhook event.
    At most `batch` of each kind per run; returns how many were written."""
    now = now or utcnow()
    return _notify_points_expiring(now, batch) + _notify_vouchers_expiring(now, batch)


def _due_points(day_start: dt.datetime, day_end: dt.datetime, key: str, now: dt.datetime,
                limit: int) -> list:
    """Per citizen not yet told (no notification with `key`): the points left in lots that
    lapse within the day and after `now`, in citizen order."""
    told = (select(Notification.id).where(Notification.user_id == LedgerAccount.user_id,
                                          Notification.dedupe_key == key).exists())
    return db.session.execute(
        select(LedgerAccount.user_id, func.sum(LedgerLot.remaining).label("points"),
               func.min(LedgerLot.expires_at).label("first"), func.count().label("lots"))
        .join(LedgerAccount, LedgerAccount.id == LedgerLot.account_id)
        .join(User, User.id == LedgerAccount.user_id)
        .where(LedgerLot.remaining > 0, LedgerLot.expires_at >= day_start,
               LedgerLot.expires_at < day_end, LedgerLot.expires_at > now,
               User.erased_at.is_(None), ~told)
        .group_by(LedgerAccount.user_id).order_by(LedgerAccount.user_id).limit(limit)).all()


def _notify_points_expiring(now: dt.datetime, batch: int) -> int:
    settings = get_settings()
    made = 0
    for day, start, end in rules.expiry_days(now, settings.notify_points_expiring_days,
                                             settings.scheme_timezone):
        if made >= batch:
            break
        key = rules.points_expiring_key(day)
        due = _due_points(start, end, key, now, batch - made)
        if not due:
            continue
        rows = [_row(user_id=d.user_id, kind="points_expiring", dedupe_key=key, now=now,
                     data={"points": int(d.points), "expires_on": day.isoformat(),
                           "first_expires_at": d.first.isoformat(), "lots": int(d.lots)})
                for d in due]
        with unit_of_work():
            made += _write(rows, "points.expiring", now)
    return made


def _write(rows: list[dict], event_type: str, now: dt.datetime,
           partners: dict | None = None) -> int:
    """Insert `rows` for the citizens still there; emit `event_type` for each one written."""
    live = _live_citizens({row["user_id"] for row in rows})
    inserted = _insert_new([row for row in rows if row["user_id"] in live])
    for row in rows:
        if row["id"] in inserted:
            webhooks.emit(event_type, {**row["data"], "notification_id": str(row["id"]),
                                       "user_id": str(row["user_id"])},
                          user_id=row["user_id"], occurred_at=now,
                          **({"partner_id": partners[row["id"]]} if partners else {}))
    return len(inserted)


def _due_vouchers(now: dt.datetime, after: tuple | None, limit: int) -> list:
    query = (select(Redemption.id, Redemption.user_id, Redemption.partner_id,
                    Redemption.reward_id, Redemption.points, Redemption.expires_at,
                    Reward.title)
             .join(Reward, Reward.id == Redemption.reward_id)
             .where(Redemption.status == "reserved", Redemption.expires_at > now,
                    Redemption.expires_at <= now + rules.VOUCHER_NOTICE)
             .order_by(Redemption.expires_at, Redemption.id).limit(limit))
    if after:
        query = query.where(keyset_after([Redemption.expires_at, Redemption.id], after,
                                         descending=False))
    return db.session.execute(query).all()


def _notify_vouchers_expiring(now: dt.datetime, batch: int) -> int:
    made, after = 0, None
    while made < batch:
        page = _due_vouchers(now, after, batch)
        if not page:
            break
        after = (page[-1].expires_at, page[-1].id)
        keys = {rules.voucher_expiring_key(v.id): v for v in page}
        told = set(db.session.scalars(select(Notification.dedupe_key).where(
            Notification.user_id.in_({v.user_id for v in page}),
            Notification.dedupe_key.in_(list(keys)))))
        fresh = [(key, v) for key, v in keys.items() if key not in told][:batch - made]
        rows = [_row(user_id=v.user_id, kind="voucher_expiring", dedupe_key=key, now=now,
                     data={"redemption_id": str(v.id), "reward_id": str(v.reward_id),
                           "reward_title": v.title, "points": v.points,
                           "expires_at": v.expires_at.isoformat()})
                for key, v in fresh]
        if rows:
            partners = {row["id"]: v.partner_id for row, (_, v) in zip(rows, fresh)}
            with unit_of_work():
                made += _write(rows, "voucher.expiring", now, partners)
        if len(page) < batch:
            break
    return made


# ---------------------------------------------------------------------------------------------
# The citizen's list


def list_notifications(*, user_id: uuid.UUID, unread: bool = False, after: tuple | None = None,
                       limit: int = 50) -> tuple[list[Notification], tuple | None]:
    """The citizen's notifications, newest first (only the unread with `unread`): (page,
    cursor of its last)."""
    query = (select(Notification).where(Notification.user_id == user_id)
             .order_by(Notification.created_at.desc(), Notification.id.desc()))
    if unread:
        query = query.where(Notification.read_at.is_(None))
    return newest_first_page(query, Notification.created_at, Notification.id, after=after,
                             limit=limit)


def unread_count(*, user_id: uuid.UUID) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)))


def mark_read(*, user_id: uuid.UUID, notification_id: uuid.UUID,
              now: dt.datetime | None = None) -> Notification:
    """Mark one of the citizen's notifications read (again: it keeps its first `read_at`).
    Anyone else's, or none: 404, nothing changed."""
    with unit_of_work():
        db.session.execute(update(Notification).where(
            Notification.id == notification_id, Notification.user_id == user_id,
            Notification.read_at.is_(None)).values(read_at=now or utcnow())
            .execution_options(synchronize_session=False))
        notification = db.session.get(Notification, notification_id, populate_existing=True)
        if notification is None or notification.user_id != user_id:
            raise NotFound("Notification not found.")
    return notification


def mark_all_read(*, user_id: uuid.UUID, now: dt.datetime | None = None) -> int:
    """Mark every unread notification of the citizen read; returns how many."""
    with unit_of_work():
        return db.session.execute(update(Notification).where(
            Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=now or utcnow()).execution_options(synchronize_session=False)).rowcount


# ---------------------------------------------------------------------------------------------
# Personal data (docs/privacy.md)


def export_query(user_id: uuid.UUID) -> Select:
    """The citizen's notifications for the personal-data export, oldest first."""
    return (select(_TABLE).where(_TABLE.c.user_id == user_id)
            .order_by(_TABLE.c.created_at, _TABLE.c.id))


def delete_for_user(*, user_id: uuid.UUID) -> int:
    """Erasure: delete every notification of the citizen, in the caller's unit of work."""
    with unit_of_work():
        return db.session.execute(delete(Notification)
                                  .where(Notification.user_id == user_id)).rowcount


def purge_notifications(*, now: dt.datetime | None = None) -> int:
    """Retention: delete notifications read more than 30 days ago and any older than 180 days;
    returns how many."""
    now = now or utcnow()
    with unit_of_work():
        return db.session.execute(delete(Notification).where(or_(
            Notification.read_at < now - rules.READ_RETENTION,
            Notification.created_at < now - rules.MAX_AGE))).rowcount
