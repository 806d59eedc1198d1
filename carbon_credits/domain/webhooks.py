"""Pure rules for outbound webhooks (docs/webhooks.md): the event types, what a subscription may
say, the retry schedule, when a subscription is disabled, which addresses may be called and the
exact bytes a receiver gets."""
from __future__ import annotations

import datetime as dt
import json

from carbon_credits.domain import urls
from carbon_credits.domain.errors import ValidationFailed

# Every event a subscription may ask for. `points.expiring` and `voucher.expiring` are emitted
# by the notifications job; the rest by the change they describe.
EVENT_TYPES = ("action.credited", "action.rejected", "action.reversed", "review.decided",
               "points.expiring", "voucher.expiring", "voucher.reserved", "voucher.redeemed",
               "voucher.expired", "lot.issued", "lot.retired", "adjustment.decided",
               "campaign.bonus_paid", "campaign.bonus_reversed")
ALL_EVENTS = "*"
SUBSCRIPTION_EVENT_NAMES = (*EVENT_TYPES, ALL_EVENTS)
SUBSCRIPTION_STATUSES = ("active", "disabled")
DELIVERY_STATUSES = ("pending", "delivered", "failed")

URL_MAX_LENGTH = 2000
EVENT_TYPE_MAX_LENGTH = 40
# A receiver answers within this (connect, read) many seconds or the attempt failed.
TIMEOUT_SECONDS = (3, 5)
# How long a dispatcher holds a claimed delivery; past it another may try again.
LEASE = dt.timedelta(seconds=60)
# What is kept of a receiver's answer, for the delivery log.
RESPONSE_KEPT_BYTES = 1024
ERROR_MAX_LENGTH = 500
BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(hours=6)
# The citizen's id never leaves for a partner's subscription (docs/privacy.md).
PARTNER_WITHHELD_KEYS = ("user_id",)


def check_url(url: str, *, production: bool) -> str:
    """The address a subscription posts to: http(s) with a host, no credentials, no fragment,
    https in production. Raises ValidationFailed (field `url`)."""
    problem = urls.url_problem(url, schemes=("https",) if production else ("https", "http"),
                               max_length=URL_MAX_LENGTH)
    if problem:
        raise ValidationFailed(problem, code="webhook_url_invalid", errors={"url": [problem]})
    return url


def check_events(events) -> list[str]:
    """The event types subscribed to, sorted and without repeats: known types, or `["*"]` for
    every type. Raises ValidationFailed (field `events`)."""
    def refuse(message: str):
        raise ValidationFailed(message, code="webhook_events_invalid", errors={"events": [message]})

    if not isinstance(events, (list, tuple)) or not events:
        refuse("Name at least one event type, or [\"*\"] for all.")
    if not all(isinstance(e, str) for e in events):
        refuse("Event types are strings.")
    unknown = sorted(set(events) - set(SUBSCRIPTION_EVENT_NAMES))
    if unknown:
        refuse(f"Unknown event type(s): {', '.join(unknown[:5])}.")
    chosen = sorted(set(events))
    if ALL_EVENTS in chosen and len(chosen) > 1:
        refuse("\"*\" already means every event type: send it alone.")
    return chosen


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed attempt: 30 s, 1 min, 2 min... at most 6 h."""
    if attempts < 1:
        raise ValueError("attempts starts at 1")
    if attempts > 20:  # 30 s * 2^19 is past the cap already
        return BACKOFF_CAP
    return min(BACKOFF_BASE * 2 ** (attempts - 1), BACKOFF_CAP)


def after_failure(attempts: int, *, max_attempts: int, now: dt.datetime
                  ) -> tuple[str, dt.datetime | None]:
    """A delivery's (status, next attempt) after its `attempts`-th attempt failed."""
    if attempts >= max_attempts:
        return "failed", None
    return "pending", now + backoff(attempts)


def should_disable(consecutive_failures: int, *, disable_after: int) -> bool:
    return consecutive_failures >= disable_after


def withheld_for(data: dict, *, partner_scoped: bool) -> dict:
    """`data` as a subscription receives it: without the citizen's id for a partner's."""
    if not partner_scoped:
        return data
    return {k: v for k, v in data.items() if k not in PARTNER_WITHHELD_KEYS}


def iso_utc(moment: dt.datetime) -> str:
    """`2026-12-06T04:50:00.123456Z`: aware UTC, as every event time is written."""
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def event_body(*, event_id: str, event_type: str, created_at: dt.datetime, data: dict) -> bytes:
    """The canonical JSON a receiver gets: sorted keys, no spaces, UTF-8."""
    document = {"id": event_id, "type": event_type, "created_at": iso_utc(created_at), "data": data}
    return json.dumps(document, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def delivery_headers(*, event_id: str, event_type: str, subscription_id: str, timestamp: str,
                     signature: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "User-Agent": "carbon-credits-webhooks/1",
            "X-Event-Id": event_id, "X-Event-Type": event_type, "X-Webhook-Id": subscription_id,
            "X-Timestamp": timestamp, "X-Signature": signature}


def short_error(text: str) -> str:
    return text if len(text) <= ERROR_MAX_LENGTH else text[:ERROR_MAX_LENGTH - 1] + "…"


def subscription_takes(*, subscribed: list[str], subscription_partner_id, event_type: str,
                       event_partner_id) -> bool:
    """Whether a subscription receives an event: its type (or `*`), and, for a partner's
    subscription, only events concerning that partner."""
    if event_type not in subscribed and ALL_EVENTS not in subscribed:
        return False
    return subscription_partner_id is None or subscription_partner_id == event_partner_id
