"""Waking the dispatcher when events are written, so a delivery leaves within seconds instead of
at the next scheduler tick (docs/webhooks.md, "Delivery latency"). Redis (RQ) only: without it
the embedded loop ticks every 30 seconds and nothing here runs.

After the unit of work that emitted events commits (never for one rolled back; once per unit of
work), one Redis script decides in one round trip:

- whether an active subscription may take any of those event types: the types active
  subscriptions take are kept in Redis (`LISTENED_KEY`, rewritten by every dispatcher run; a
  subscription change deletes it, and a missing set means "maybe": wake);
- whether a dispatch is already queued: a `SET NX EX` guard, so a burst of a thousand credits
  enqueues one job. The dispatcher deletes the guard as it starts, so events committed while it
  runs wake the next one.

A lost wake-up costs latency only (the tick still runs); a spare one costs an idle run (claims
are leased). No SQL is sent here: the citizen's credit keeps its statements and round trips.
"""
from __future__ import annotations

import contextvars
import dataclasses
import logging
from typing import Iterable

from sqlalchemy import select

from carbon_credits import kvstore
from carbon_credits.services import queue
from carbon_credits.services.uow import after_commit, in_unit_of_work, unit_of_work
from models import WebhookSubscription, WebhookSubscriptionEvent, db

log = logging.getLogger(__name__)

LISTENED_KEY = "cc:webhooks:listened"  # event types active subscriptions take, + a sentinel
GUARD_KEY = "cc:webhooks:dispatch-queued"
GUARD_SECONDS = 60  # a queued job no worker ran stops suppressing wake-ups after this
_SENTINEL = "-"  # keeps the set present when no subscription is active

# KEYS: listened set, guard. ARGV: guard seconds, the event types of the unit of work.
_WAKE = """
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('SISMEMBER', KEYS[1], '*') == 0 then
  local listened = false
  for i = 2, #ARGV do
    if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 1 then listened = true break end
  end
  if not listened then return 0 end
end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[1])) then return 1 end
return 0
"""


@dataclasses.dataclass(eq=False)
class _Emitted:
    transaction: object  # the session transaction the events were written in
    event_types: set[str]


_emitted: contextvars.ContextVar[_Emitted | None] = contextvars.ContextVar("webhooks_emitted",
                                                                            default=None)


def note_emitted(event_types: Iterable[str]) -> None:
    """The outbox wrote (or may have written) events of these types in the current unit of
    work: wake the dispatcher once it commits."""
    if not in_unit_of_work() or not kvstore.is_redis():
        return
    db.session.connection()  # begins the transaction the event joins (as `defer` would)
    transaction = db.session().get_transaction()
    emitted = _emitted.get()
    if emitted is None or emitted.transaction is not transaction:
        emitted = _Emitted(transaction, set())
        _emitted.set(emitted)
        after_commit(lambda: wake(emitted.event_types))
    emitted.event_types.update(event_types)


def wake(event_types: Iterable[str]) -> bool:
    """Enqueue one `dispatch_webhooks` job unless nobody listens to these types or one is
    queued already; True if it enqueued."""
    store = kvstore.get_store()
    woken = 0
    try:
        woken = store.register_script(_WAKE)(keys=[LISTENED_KEY, GUARD_KEY],
                                             args=[GUARD_SECONDS, *sorted(event_types)])
        if woken:
            queue.enqueue("run_job", "dispatch_webhooks", description="dispatch webhooks")
    except kvstore.RedisError:
        log.warning("could not wake the webhook dispatcher; the next tick delivers",
                    exc_info=True)
        if woken:  # the guard is set but no job was queued: let the next commit try again
            _forget(GUARD_KEY)
        return False
    return bool(woken)


def _forget(key: str) -> None:
    try:
        kvstore.get_store().delete(key)
    except kvstore.RedisError:
        log.warning("could not reset the webhook wake-up state", exc_info=True)


def dispatcher_starting() -> None:
    """At the start of each dispatcher run: events committed from now on wake another run, and
    the listened types are brought up to date from the database."""
    if not kvstore.is_redis():
        return
    with unit_of_work():
        types = sorted(set(db.session.scalars(
            select(WebhookSubscriptionEvent.event_type)
            .join(WebhookSubscription,
                  WebhookSubscription.id == WebhookSubscriptionEvent.subscription_id)
            .where(WebhookSubscription.status == "active"))))
    try:
        pipe = kvstore.get_store().pipeline(transaction=True)
        pipe.delete(GUARD_KEY, LISTENED_KEY)
        pipe.sadd(LISTENED_KEY, _SENTINEL, *types)
        pipe.execute()
    except kvstore.RedisError:
        log.warning("could not refresh the webhook wake-up state", exc_info=True)


def forget_listened_types() -> None:
    """After a subscription change commits: until the next dispatcher run, every event wakes."""
    if not kvstore.is_redis():
        return
    after_commit(lambda: _forget(LISTENED_KEY))
