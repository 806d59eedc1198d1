"""The transactional outbox: events are written in the unit of work of the change that causes
them, so an event exists if and only if its change committed. (Placeholder: filled in by the
webhooks work.)"""
from __future__ import annotations

import datetime as dt
import uuid


def emit(event_type: str, data: dict, *, partner_id: uuid.UUID | None = None,
         user_id: uuid.UUID | None = None, occurred_at: dt.datetime | None = None) -> None:
    """Record one event in the current unit of work. `data` is JSON-safe (str, int, bool, None,
    lists and dicts of them; ids as strings, times as ISO 8601 UTC); `partner_id` is the partner
    the event concerns (its own subscriptions receive it), `user_id` the citizen it concerns."""
    return None
