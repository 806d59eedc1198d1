"""The transactional outbox: events are written in the unit of work of the change that causes
them, so an event exists if and only if its change committed (docs/webhooks.md).

An event is written only when an active subscription would receive it (its type or `*`; no
partner on the subscription, or the event's partner): the statement is one
`INSERT ... SELECT ... WHERE EXISTS (a matching subscription)`, so a change nobody listens to
pays one cheap statement and writes nothing. The statement is deferred
(`services/statements`): on the citizen's hot path it leaves with the claim's last group and
the COMMIT, without a round trip of its own. With Redis, the dispatcher is woken after the
commit (`wakeup`), so deliveries do not wait for the scheduler's next tick.
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, Uuid, and_, bindparam, cast, exists, insert, literal, or_, select, type_coerce

from carbon_credits.domain import webhooks as rules
from carbon_credits.services.statements import Statement, defer
from carbon_credits.services.webhooks import wakeup
from models import UTCDateTime, WebhookEvent, WebhookSubscription, WebhookSubscriptionEvent, utcnow

EVENTS = WebhookEvent.__table__
_SUBS = WebhookSubscription.__table__
_SUB_EVENTS = WebhookSubscriptionEvent.__table__
_COLUMNS = ("id", "event_type", "partner_id", "user_id", "payload", "created_at")
_TYPES = {"id": Uuid(), "event_type": EVENTS.c.event_type.type, "partner_id": Uuid(),
          "user_id": Uuid(), "payload": JSON(), "created_at": UTCDateTime()}


def listening_clause(event_type, partner_id):
    """An active subscription takes events of `event_type` (or `*`) concerning `partner_id`."""
    return exists(
        select(literal(1)).select_from(_SUBS.join(_SUB_EVENTS,
                                                  _SUB_EVENTS.c.subscription_id == _SUBS.c.id))
        .where(_SUBS.c.status == "active",
               or_(_SUB_EVENTS.c.event_type == event_type, _SUB_EVENTS.c.event_type == rules.ALL_EVENTS),
               or_(_SUBS.c.partner_id.is_(None), and_(partner_id.is_not(None),
                                                      _SUBS.c.partner_id == partner_id))))


def _insert_if_listened(dialect: str):
    # PostgreSQL types a bare parameter in a SELECT list as text: each is cast to its column's
    # type. SQLite has no such types (a CAST there would change the value): coerced only.
    wrap = cast if dialect == "postgresql" else type_coerce
    values = {c: wrap(bindparam(f"b_{c}", type_=_TYPES[c]), _TYPES[c]) for c in _COLUMNS}
    query = select(*[values[c].label(c) for c in _COLUMNS]).where(
        listening_clause(values["event_type"], values["partner_id"]))
    return insert(EVENTS).from_select(list(_COLUMNS), query)


_INSERT_IF_LISTENED = Statement({"postgresql": _insert_if_listened("postgresql"),
                                 "sqlite": _insert_if_listened("sqlite")},
                                name="webhook_events: insert if listened to")


def event_params(event_type: str, data: dict, *, partner_id: uuid.UUID | None = None,
                 user_id: uuid.UUID | None = None, occurred_at: dt.datetime | None = None) -> dict:
    """The parameters of one event for `_INSERT_IF_LISTENED`."""
    if event_type not in rules.EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    return {"b_id": uuid.uuid4(), "b_event_type": event_type, "b_partner_id": partner_id,
            "b_user_id": user_id, "b_payload": data, "b_created_at": occurred_at or utcnow()}


def emit_call(event_type: str, data: dict, *, partner_id: uuid.UUID | None = None,
              user_id: uuid.UUID | None = None, occurred_at: dt.datetime | None = None
              ) -> tuple[Statement, dict]:
    """`(statement, params)` writing the event if anyone listens, to join a group of
    statements (`statements.defer` or `run_together`). With Redis, the dispatcher is woken
    once the unit of work commits (`wakeup`)."""
    params = event_params(event_type, data, partner_id=partner_id, user_id=user_id,
                          occurred_at=occurred_at)
    wakeup.note_emitted((event_type,))
    return _INSERT_IF_LISTENED, params


def emit(event_type: str, data: dict, *, partner_id: uuid.UUID | None = None,
         user_id: uuid.UUID | None = None, occurred_at: dt.datetime | None = None) -> None:
    """Record one event in the current unit of work. `data` is JSON-safe (str, int, bool, None,
    lists and dicts of them; ids as strings, times as ISO 8601 UTC); `partner_id` is the partner
    the event concerns (its own subscriptions receive it), `user_id` the citizen it concerns."""
    defer(*emit_call(event_type, data, partner_id=partner_id, user_id=user_id,
                     occurred_at=occurred_at))


def emit_many(events: list[dict]) -> None:
    """Many events (each the keyword arguments of `emit`) in one deferred statement, executed
    for each: a partner batch's events cost no round trip of their own."""
    if events:
        defer(_INSERT_IF_LISTENED, [event_params(**e) for e in events])
        wakeup.note_emitted({e["event_type"] for e in events})
