"""Reads that may be served by a PostgreSQL streaming replica (`DATABASE_REPLICA_URL`).

A read that tolerates a few seconds of staleness (a statement, a report, a leaderboard's totals,
the business figures) opens `read_session()` and queries through the session it is given. That
is a session on the replica when all of these hold, and the primary's own `db.session` (exactly
as without a replica) otherwise:

- a replica is configured (the app factory binds it as `SQLALCHEMY_BINDS["replica"]`);
- no write is under way in this context: no unit of work is open and the primary session holds
  no unflushed change, because what is read then may decide a write;
- the server is a standby (`pg_is_in_recovery()`: a promoted or mistaken primary may have
  diverged) whose replay lag is within `DATABASE_REPLICA_MAX_LAG_SECONDS`;
- it answered: an unreachable replica is not tried again for `RETRY_AFTER_SECONDS`.

Lag is measured on the replica, in the transaction that then serves the read: 0 while a WAL
receiver is streaming and everything received has been replayed (an idle primary is not lag),
else the age of the last replayed commit. What is routed and why: docs/operations.md, "Read
replica".
"""
from __future__ import annotations

import contextlib
import logging
import time
from typing import Iterator

from sqlalchemy import exc, text
from sqlalchemy.orm import Session

from carbon_credits.config import get_settings
from carbon_credits.engine_options import engine_options
from carbon_credits.services.uow import in_unit_of_work
from models import db

log = logging.getLogger(__name__)

BIND_KEY = "replica"
CONNECT_TIMEOUT_SECONDS = 2
RETRY_AFTER_SECONDS = 5.0

LAG_CHECK = text(
    "SELECT pg_is_in_recovery() AS standby,"
    " (CASE WHEN pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn()"
    "            AND EXISTS (SELECT FROM pg_stat_wal_receiver) THEN 0"
    "       ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END)::float8"
    " AS lag_seconds")

# Per replica URL: when it may be tried again after failing, and whether it was lagging (to log
# a change of state once, not every read).
_unreachable_until: dict[str, float] = {}
_lagging: dict[str, bool] = {}


def bind_config(settings) -> dict:
    """`SQLALCHEMY_BINDS` for the app factory: the replica's engine when one is configured."""
    url = settings.database_replica_url
    if not url:
        return {}
    options = engine_options(url)
    connect_args = {**options.get("connect_args", {}), "connect_timeout": CONNECT_TIMEOUT_SECONDS}
    return {BIND_KEY: {**options, "url": url, "connect_args": connect_args}}


def replica_is_usable(*, standby: bool, lag_seconds: float | None, max_lag_seconds: int) -> bool:
    """A standby whose replay lag is known and within the bound."""
    return bool(standby) and lag_seconds is not None and lag_seconds <= max_lag_seconds


@contextlib.contextmanager
def read_session() -> Iterator:
    """A session for a read that may be up to `DATABASE_REPLICA_MAX_LAG_SECONDS` stale: the
    replica's when it qualifies (module docstring), else the primary's `db.session`. A replica
    session is closed on exit; the primary's is left as the caller's code would leave it."""
    session = _replica_session()
    if session is None:
        yield db.session
        return
    try:
        yield session
    finally:
        session.close()


def _replica_session() -> Session | None:
    engine = db.engines.get(BIND_KEY)
    if engine is None or _inside_a_write():
        return None
    key = engine.url.render_as_string()
    if time.monotonic() < _unreachable_until.get(key, 0.0):
        return None
    failure = None
    for _ in range(2):  # a pooled connection the replica dropped (a restart) is retried once
        session = Session(bind=engine, autoflush=False)
        try:
            standby, lag_seconds = session.execute(LAG_CHECK).one()
        except exc.DBAPIError as error:
            session.close()
            failure = error
            if error.connection_invalidated:
                continue
            break
        if _usable_now(key, standby, lag_seconds):
            return session
        session.close()
        return None
    _unreachable_until[key] = time.monotonic() + RETRY_AFTER_SECONDS
    log.warning("read replica unreachable (%s): reading the primary for the next %ss",
                failure.orig if failure is not None else "?", RETRY_AFTER_SECONDS)
    return None


def _inside_a_write() -> bool:
    """What is read inside a unit of work, or beside unflushed changes, may decide a write."""
    session = db.session
    return in_unit_of_work() or bool(session.new or session.dirty or session.deleted)


def _usable_now(key: str, standby: bool, lag_seconds: float | None) -> bool:
    """Whether the replica may serve this read; a change of state is logged once."""
    bound = get_settings().database_replica_max_lag_seconds
    usable = replica_is_usable(standby=standby, lag_seconds=lag_seconds, max_lag_seconds=bound)
    if _lagging.get(key, False) == usable:  # it was lagging and is not, or the reverse
        _lagging[key] = not usable
        if usable:
            log.info("read replica caught up: reads are routed to it again")
        else:
            log.warning("read replica not usable (standby=%s, lag=%ss, bound %ss): reading "
                        "the primary", standby, lag_seconds, bound)
    return usable
