"""Leaderboards: top citizens by credited reduction this day, week (ISO, from Monday) or month.

The database is the truth: a period's board is `SUM(credited_mg)` of credited actions whose
scheme day falls in it. Redis sorted sets (`cc:lb:<period>:<first day>`, member = user id,
score = milligrams) serve it fast: the actions service calls `record_after_commit` inside its
unit of work, and the increments reach Redis only once the transaction has committed. A board
is read from Redis only while its `ready` marker exists, which `rebuild` sets after writing
the whole set from the database; a flushed or expired board is therefore served from SQL and
rebuilt in the background (`jobs run-due` also rebuilds the current boards every run, which
also repairs any increment lost between a rebuild's read and its write). Without Redis
(the embedded default, where each process would have its own store) boards come from SQL.
The totals, for a rebuild or a board served from SQL, may be read on the read replica
(services/replica.py); who may be listed is always read on the primary.

Only display names leave this module: no ids, no contact data. Each citizen chooses how they
appear (PIPL art. 44): `named` under their display name, `pseudonym` under a stable name derived
from their id by a keyed hash (it cannot be turned back into the id), `hidden` not at all;
suspended and erased accounts are never listed. The boards store everyone's totals and the choice
is applied when a board is read, so a change shows at once (no rebuild) and `limit` still gives
`limit` listed citizens when some above them are hidden.
"""
from __future__ import annotations

import collections
import datetime as dt
import logging
import uuid
import zoneinfo

from sqlalchemy import func, select

from carbon_credits import kvstore
from carbon_credits.config import get_settings
from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.vocabulary import mg_to_grams
from carbon_credits.services import keys, queue
from carbon_credits.services.replica import read_session
from carbon_credits.services.uow import after_commit
from models import Action, User, db, utcnow

log = logging.getLogger(__name__)

PERIODS = ("day", "week", "month")
MAX_LIMIT = 100
KEY_TTL = {"day": 3 * 86400, "week": 15 * 86400, "month": 70 * 86400}
REBUILD_LOCK_SECONDS = 60
_ZADD_CHUNK = 5000
# Reading a board from Redis: at least this many members per ZREVRANGE (past hidden ones).
READ_CHUNK = 50


def period_bounds(period: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """[first day, first day of the next period) of the period containing `day`."""
    if period == "day":
        return day, day + dt.timedelta(days=1)
    if period == "week":
        start = day - dt.timedelta(days=day.weekday())
        return start, start + dt.timedelta(days=7)
    if period == "month":
        start = day.replace(day=1)
        return start, (start + dt.timedelta(days=32)).replace(day=1)
    raise ValidationFailed("period must be day, week or month.",
                           errors={"period": ["Must be one of: day, week, month."]})


def scheme_today(now: dt.datetime | None = None) -> dt.date:
    tz = zoneinfo.ZoneInfo(get_settings().scheme_timezone)
    return (now or utcnow()).astimezone(tz).date()


def board_key(period: str, start: dt.date) -> str:
    return f"cc:lb:{period}:{start.isoformat()}"


def ready_key(period: str, start: dt.date) -> str:
    return f"cc:lb:ready:{period}:{start.isoformat()}"


def sorted_sets_enabled() -> bool:
    """Boards live in Redis only where Redis is shared by every process."""
    return kvstore.is_redis()


# ---------------------------------------------------------------------------------------------
# Writes: increments after commit


def record_after_commit(changes) -> None:
    """Queue `(user_id, scheme_day, delta_mg)` changes for Redis once the unit of work commits
    (credited: +credited_mg; reversed: -credited_mg). A rolled-back change never reaches it."""
    changes = [(u, d, int(mg)) for u, d, mg in changes if mg]
    if changes:
        after_commit(lambda: apply_changes(changes))


def apply_changes(changes) -> None:
    if not sorted_sets_enabled():
        return
    deltas: dict[tuple[str, str, str], int] = collections.defaultdict(int)
    for user_id, day, mg in changes:
        for period in PERIODS:
            deltas[(period, board_key(period, period_bounds(period, day)[0]), str(user_id))] += mg
    store = kvstore.get_store()
    try:
        pipe = store.pipeline(transaction=False) if kvstore.is_redis() else store
        ttl_set: set[str] = set()
        for (period, key, member), mg in deltas.items():
            if mg:
                pipe.zincrby(key, mg, member)
                if key not in ttl_set:  # once per board, not once per citizen
                    pipe.expire(key, KEY_TTL[period])
                    ttl_set.add(key)
        if pipe is not store:
            pipe.execute()
    except kvstore.RedisError:
        # The database has the change; the next rebuild puts it on the board.
        log.warning("leaderboard increment failed; the next rebuild repairs it", exc_info=True)


# ---------------------------------------------------------------------------------------------
# Rebuild from the database


def _totals_query(start: dt.date, end: dt.date):
    total = func.sum(Action.credited_mg)
    return (select(Action.user_id, total.label("total_mg"))
            .where(Action.status == "credited", Action.scheme_day >= start,
                   Action.scheme_day < end)
            .group_by(Action.user_id)
            .having(total > 0))


def rebuild(*, period: str, start: dt.date) -> int:
    """Rewrite one board from the database; returns how many citizens are on it."""
    end = period_bounds(period, start)[1]
    with read_session() as session:
        totals = {str(user_id): int(mg)
                  for user_id, mg in session.execute(_totals_query(start, end))}
    db.session.rollback()  # end the read transaction; nothing was written
    if not sorted_sets_enabled():
        return len(totals)
    store = kvstore.get_store()
    key, ready = board_key(period, start), ready_key(period, start)
    # Readers fall back to SQL from the moment the marker goes until it is back.
    store.delete(ready, key)
    items = list(totals.items())
    for i in range(0, len(items), _ZADD_CHUNK):
        store.zadd(key, dict(items[i:i + _ZADD_CHUNK]))
    store.expire(key, KEY_TTL[period])
    store.set(ready, "1", ex=KEY_TTL[period])
    return len(totals)


def rebuild_current(*, now: dt.datetime | None = None) -> int:
    """Due job: rebuild today's, this week's and this month's boards; returns entries written."""
    today = scheme_today(now)
    return sum(rebuild(period=p, start=period_bounds(p, today)[0]) for p in PERIODS)


def _schedule_rebuild(period: str, start: dt.date) -> None:
    """Once a minute at most: ask an RQ worker to rebuild the current boards."""
    if not kvstore.is_redis():
        return
    store = kvstore.get_store()
    if not store.set(f"cc:lb:rebuilding:{period}:{start.isoformat()}", "1",
                     ex=REBUILD_LOCK_SECONDS, nx=True):
        return
    queue.enqueue("run_job", "rebuild_leaderboards", description="rebuild leaderboards")


# ---------------------------------------------------------------------------------------------
# Reads


def leaderboard_pseudonym(user_id: uuid.UUID) -> str:
    """The stable name shown for `pseudonym` visibility: a keyed hash of the id, not reversible
    without the application secret and not linkable to the display name."""
    return "Citizen " + keys.keyed_hash("leaderboard-pseudonyms", str(user_id))[:8]


def _listable():
    return (User.leaderboard_visibility != "hidden", User.suspended_at.is_(None),
            User.erased_at.is_(None))


def _shown_names(user_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The listable among `user_ids`, with the name each is shown under."""
    if not user_ids:
        return {}
    rows = db.session.execute(select(User.id, User.display_name, User.leaderboard_visibility)
                              .where(User.id.in_(user_ids), *_listable()))
    return {user_id: name if visibility == "named" else leaderboard_pseudonym(user_id)
            for user_id, name, visibility in rows}


def _top_from_store(period: str, start: dt.date,
                    limit: int) -> list[tuple[uuid.UUID, str, int]] | None:
    """The board's top `limit` listable citizens, reading further down the sorted set past
    those who are hidden, suspended or erased."""
    store = kvstore.get_store()
    if not store.exists(ready_key(period, start)):
        return None
    key, chunk, position, top = board_key(period, start), max(2 * limit, READ_CHUNK), 0, []
    while len(top) < limit:
        rows = store.zrevrange(key, position, position + chunk - 1, withscores=True)
        position += chunk
        scored = [(uuid.UUID(member.decode()), int(score)) for member, score in rows
                  if int(score) > 0]
        names = _shown_names([user_id for user_id, _ in scored])
        top += [(user_id, names[user_id], mg) for user_id, mg in scored if user_id in names]
        if len(rows) < chunk or len(scored) < len(rows):
            break
    return top[:limit]


def _top_from_sql(start: dt.date, end: dt.date, limit: int) -> list[tuple[uuid.UUID, str, int]]:
    query = _totals_query(start, end).join(User, User.id == Action.user_id).where(*_listable())
    total = query.selected_columns.total_mg
    with read_session() as session:
        rows = session.execute(query.order_by(total.desc(), Action.user_id.desc())
                               .limit(limit)).all()
    # Who may be listed is read on the primary: a citizen's choice to hide shows at once.
    names = _shown_names([user_id for user_id, _ in rows])
    return [(user_id, names[user_id], int(mg)) for user_id, mg in rows if user_id in names]


def get_leaderboard(*, period: str, limit: int = 10, now: dt.datetime | None = None) -> dict:
    """The top `limit` listed citizens of the current period: rank, the name they chose to be
    shown under, credited grams."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be 1-{MAX_LIMIT}.",
                               errors={"limit": [f"Must be between 1 and {MAX_LIMIT}."]})
    start, end = period_bounds(period, scheme_today(now))
    top, source = None, "database"
    if sorted_sets_enabled():
        try:
            top = _top_from_store(period, start, limit)
            if top is None:
                _schedule_rebuild(period, start)
            else:
                source = "redis"
        except kvstore.RedisError:
            log.warning("leaderboard read from Redis failed; serving from the database",
                        exc_info=True)
            top = None
    if top is None:
        top = _top_from_sql(start, end, limit)
    items = [{"rank": rank, "display_name": name, "reduction_g": mg_to_grams(mg)}
             for rank, (_, name, mg) in enumerate(top, start=1)]
    return {"period": period, "from": start, "to": end - dt.timedelta(days=1),
            "timezone": get_settings().scheme_timezone, "source": source, "items": items}


def get_my_rank(*, user_id: uuid.UUID, period: str, now: dt.datetime | None = None) -> dict:
    """The citizen's place on the current board, as `get_leaderboard` orders it (grams, then
    the tie-break of both read paths): 1 + the listed citizens above. Read from the database
    (the truth), so it works without Redis. A citizen who is not listed (hidden, suspended)
    still sees where they would stand; with no credited grams this period they have no rank."""
    start, end = period_bounds(period, scheme_today(now))
    totals = _totals_query(start, end).subquery()
    listed = select(func.count()).select_from(totals).join(User, User.id == totals.c.user_id) \
        .where(*_listable())
    with read_session() as session:
        mine = session.execute(select(func.coalesce(func.sum(Action.credited_mg), 0)).where(
            Action.user_id == user_id, Action.status == "credited", Action.scheme_day >= start,
            Action.scheme_day < end)).scalar_one()
        mine = int(mine)
        size = session.execute(listed).scalar_one()
        above = session.execute(listed.where(
            (totals.c.total_mg > mine)
            | ((totals.c.total_mg == mine) & (totals.c.user_id > user_id)))).scalar_one() \
            if mine > 0 else None
    shown = db.session.execute(select(func.count()).select_from(User).where(
        User.id == user_id, *_listable())).scalar_one() == 1
    return {"period": period, "from": start, "to": end - dt.timedelta(days=1),
            "timezone": get_settings().scheme_timezone, "rank": None if above is None else above + 1,
            "reduction_g": mg_to_grams(mine), "board_size": size, "listed": shown}
