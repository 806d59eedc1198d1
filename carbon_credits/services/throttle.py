"""Attempt throttling shared by every worker: fixed windows counted in Redis when configured,
else in the database (`throttle_counters`), never in a process.

Each count is its own short transaction on its own connection, so it sticks even when the
request that made it fails and rolls back (a wrong password still counts). Callers therefore
count before they open their unit of work, or after it ended: on SQLite a second writer would
wait for the request's own write lock.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import math
import time

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from carbon_credits import kvstore
from carbon_credits.config import get_settings, parse_rate
from carbon_credits.domain.errors import RateLimited
from carbon_credits.services.keys import keyed_hash
from carbon_credits.services.uow import in_unit_of_work
from models import ThrottleCounter, db

log = logging.getLogger(__name__)

REDIS_PREFIX = "cc-limits:throttle:"


@dataclasses.dataclass(frozen=True)
class Rule:
    key: str
    limit: int
    window: int  # seconds


def rule(key: str, rate: str) -> Rule:
    limit, window = parse_rate(rate)
    return Rule(key=key[:200], limit=limit, window=window)


def identifier_key(action: str, identifier: str) -> str:
    """Counters keyed by an identifier hold its keyed hash, never the address itself."""
    return f"{action}:id:{keyed_hash('throttle', identifier)[:40]}"


def address_key(action: str, address: str) -> str:
    return f"{action}:addr:{address}"


def _window(rule_: Rule, now: float) -> tuple[int, int]:
    start = int(now) - int(now) % rule_.window
    return start, max(1, math.ceil(start + rule_.window - now))


def _insert():
    return pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert


def _release_sqlite_lock() -> None:
    """SQLite has one writer and our transactions take its lock up front (BEGIN IMMEDIATE): a
    read transaction the session autobegan outside any unit of work would make our own
    connection wait. It holds no changes (writes happen only in units of work): end it."""
    if db.engine.dialect.name != "sqlite" or not db.session().in_transaction():
        return
    if in_unit_of_work():
        raise RuntimeError("throttle: count before or after the unit of work on SQLite, "
                           "or pass in_session=True")
    db.session.rollback()


def _db_count(rule_: Rule, start: int, *, increment: bool, in_session: bool) -> int:
    if not in_session:
        _release_sqlite_lock()
    with (contextlib.nullcontext(db.session) if in_session else db.engine.begin()) as conn:
        if not increment:
            return conn.scalar(select(ThrottleCounter.count).where(
                ThrottleCounter.key == rule_.key, ThrottleCounter.window_start == start)) or 0
        statement = _insert()(ThrottleCounter).values(
            key=rule_.key, window_start=start, count=1,
            expires_at=dt.datetime.fromtimestamp(start + rule_.window, dt.timezone.utc))
        return conn.scalar(statement.on_conflict_do_update(
            index_elements=[ThrottleCounter.key, ThrottleCounter.window_start],
            set_={"count": ThrottleCounter.count + 1}).returning(ThrottleCounter.count))


def _redis_count(rule_: Rule, start: int, *, increment: bool) -> int:
    store = kvstore.get_store()
    key = f"{REDIS_PREFIX}{rule_.key}:{start}"
    if not increment:
        return int(store.get(key) or 0)
    pipe = store.pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, rule_.window + 5)
    return int(pipe.execute()[0])


def _count(rule_: Rule, start: int, *, increment: bool, in_session: bool = False) -> int:
    if kvstore.is_redis():
        try:
            return _redis_count(rule_, start, increment=increment)
        except kvstore.RedisError:
            log.warning("throttle: Redis unavailable, counting %s in the database", rule_.key)
    return _db_count(rule_, start, increment=increment, in_session=in_session)


def hit(*rules: Rule, now: float | None = None, in_session: bool = False) -> None:
    """Count one attempt against each rule; 429 (RateLimited) if any is now over its limit.
    `in_session`: count inside the caller's transaction (which must then commit) instead of
    a transaction of its own, for callers that already hold the database."""
    now = time.time() if now is None else now
    retry_after = 0
    for rule_ in rules:
        start, remaining = _window(rule_, now)
        if _count(rule_, start, increment=True, in_session=in_session) > rule_.limit:
            retry_after = max(retry_after, remaining)
    if retry_after:
        raise RateLimited("Too many attempts; try again later.", retry_after=retry_after)


def check(*rules: Rule, now: float | None = None, in_session: bool = False) -> None:
    """Refuse (429) if any rule has already reached its limit, without counting."""
    now = time.time() if now is None else now
    retry_after = 0
    for rule_ in rules:
        start, remaining = _window(rule_, now)
        if _count(rule_, start, increment=False, in_session=in_session) >= rule_.limit:
            retry_after = max(retry_after, remaining)
    if retry_after:
        raise RateLimited("Too many attempts; try again later.", retry_after=retry_after)


# The rules of the account endpoints (docs/accounts.md, "Throttling").

def address_rule(action: str, address: str) -> Rule:
    return rule(address_key(action, address), get_settings().throttle_address_limit)


def login_identifier_rule(identifier: str) -> Rule:
    return rule(identifier_key("login", identifier), get_settings().login_rate_limit)


def code_identifier_rule(action: str, identifier: str) -> Rule:
    return rule(identifier_key(action, identifier), get_settings().throttle_code_limit)


def message_identifier_rule(identifier: str) -> Rule:
    return rule(identifier_key("message", identifier), get_settings().throttle_message_limit)


def password_check_rule(user_id) -> Rule:
    """Re-entered passwords (change password): a stolen access token must not be a guessing
    oracle for the password."""
    return rule(f"password:user:{user_id}", get_settings().throttle_code_limit)


def failed_login_rule() -> Rule:
    return rule("login-failed:global", get_settings().throttle_failed_login_limit)


def guard(action: str, *, address: str | None, identifier_rules: tuple[Rule, ...] = ()) -> None:
    """The usual front door: per client address for `action`, then the identifier rules."""
    rules = ((address_rule(action, address),) if address else ()) + identifier_rules
    hit(*rules)
