"""The webhook dispatcher (docs/webhooks.md): fan the outbox out into deliveries, claim the due
ones under a lease, post each outside any transaction, record the outcome while still holding
the lease. At-least-once: a dispatcher that dies mid-post leaves its lease to expire and the
delivery is tried again; receivers deduplicate on `X-Event-Id`.

Lock order: a subscription row before its deliveries (recording an outcome, re-enabling).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid

import requests
from sqlalchemy import delete, insert, or_, select, update

from carbon_credits.config import Settings, get_settings
from carbon_credits.domain import webhooks as rules
from carbon_credits.domain.partners import sign
from carbon_credits.services import keys
from carbon_credits.services.audit import record_audit
from carbon_credits.services.uow import unit_of_work
from carbon_credits.services.webhooks import transport, wakeup
from models import (WebhookDelivery, WebhookDeliveryAttempt, WebhookEvent, WebhookSubscription, db,
                    utcnow)

CLAIM_BATCH = 50
MAX_ROUNDS = 20
FAN_OUT_BATCH = 500


@dataclasses.dataclass(frozen=True)
class Claimed:
    """A delivery this dispatcher holds the lease of, with what it takes to post it."""

    delivery_id: uuid.UUID
    lease_token: uuid.UUID
    attempt_no: int
    subscription_id: uuid.UUID
    url: str
    secret: str
    partner_scoped: bool
    event_id: uuid.UUID
    event_type: str
    created_at: dt.datetime
    data: dict

    def body(self) -> bytes:
        return rules.event_body(event_id=str(self.event_id), event_type=self.event_type,
                                created_at=self.created_at,
                                data=rules.withheld_for(self.data, partner_scoped=self.partner_scoped))


@dataclasses.dataclass(frozen=True)
class Result:
    status_code: int | None
    error: str | None
    response_body: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def dispatch_due(*, now: dt.datetime | None = None) -> int:
    """Fan out new events, then deliver what is due; returns the attempts made."""
    now = now or utcnow()
    settings = get_settings()
    wakeup.dispatcher_starting()
    for _ in range(MAX_ROUNDS):  # a backlog of events drains batch by batch
        if fan_out(now=now) < FAN_OUT_BATCH:
            break
    attempts = 0
    for _ in range(MAX_ROUNDS):
        claimed = claim_due(now=now, limit=CLAIM_BATCH)
        for delivery in claimed:
            record_outcome(delivery, post(delivery, settings=settings), now=now, settings=settings)
        attempts += len(claimed)
        if len(claimed) < CLAIM_BATCH:
            break
    return attempts


def fan_out(*, now: dt.datetime, limit: int = FAN_OUT_BATCH) -> int:
    """One automatic delivery per (matching active subscription, new event); returns the
    events fanned out. Two dispatchers skip each other's events (PostgreSQL SKIP LOCKED)."""
    with unit_of_work():
        events = db.session.execute(
            select(WebhookEvent.id, WebhookEvent.event_type, WebhookEvent.partner_id)
            .where(WebhookEvent.fanned_out_at.is_(None)).order_by(WebhookEvent.created_at)
            .limit(limit).with_for_update(skip_locked=True)).all()
        if not events:
            return 0
        subscriptions = db.session.scalars(select(WebhookSubscription)
                                           .where(WebhookSubscription.status == "active")).all()
        rows = [{"id": uuid.uuid4(), "subscription_id": s.id, "event_id": e.id, "manual": False,
                 "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
                for e in events for s in subscriptions
                if rules.subscription_takes(subscribed=s.events, subscription_partner_id=s.partner_id,
                                            event_type=e.event_type, event_partner_id=e.partner_id)]
        if rows:
            db.session.execute(insert(WebhookDelivery), rows)
        db.session.execute(update(WebhookEvent).where(WebhookEvent.id.in_([e.id for e in events]))
                           .values(fanned_out_at=now).execution_options(synchronize_session=False))
    return len(events)


def _due(now: dt.datetime):
    return (WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.leased_until.is_(None), WebhookDelivery.leased_until <= now))


def claim_due(*, now: dt.datetime, limit: int) -> list[Claimed]:
    """Take the lease of up to `limit` due deliveries of active subscriptions, in a short
    transaction. PostgreSQL skips rows another dispatcher is claiming; the conditional update
    is what decides on every database."""
    token = uuid.uuid4()
    with unit_of_work():
        ids = db.session.scalars(
            select(WebhookDelivery.id)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(*_due(now), WebhookSubscription.status == "active")
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)
            .with_for_update(of=WebhookDelivery, skip_locked=True)).all()
        if not ids:
            return []
        db.session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id.in_(ids), *_due(now))
            .values(lease_token=token, leased_until=now + rules.LEASE,
                    attempts=WebhookDelivery.attempts + 1)
            .execution_options(synchronize_session=False))
        rows = db.session.execute(
            select(WebhookDelivery.id, WebhookDelivery.attempts, WebhookSubscription.id,
                   WebhookSubscription.url, WebhookSubscription.secret_encrypted,
                   WebhookSubscription.partner_id, WebhookEvent.id, WebhookEvent.event_type,
                   WebhookEvent.created_at, WebhookEvent.payload)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.lease_token == token)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)).all()
    return [Claimed(delivery_id=r[0], lease_token=token, attempt_no=r[1], subscription_id=r[2],
                    url=r[3], secret=keys.decrypt(r[4]), partner_scoped=r[5] is not None,
                    event_id=r[6], event_type=r[7], created_at=r[8], data=r[9]) for r in rows]


def post(delivery: Claimed, *, settings: Settings) -> Result:
    """POST the signed event; never inside a transaction. The target is resolved once and,
    unless private targets are allowed, its addresses checked; the connection goes to a checked
    address (`transport`). Redirects are not followed."""
    body = delivery.body()
    timestamp = str(int(time.time()))
    headers = rules.delivery_headers(event_id=str(delivery.event_id), event_type=delivery.event_type,
                                     subscription_id=str(delivery.subscription_id),
                                     timestamp=timestamp,
                                     signature=sign(delivery.secret, timestamp, body))
    started = time.monotonic()

    def elapsed() -> int:
        return min(int((time.monotonic() - started) * 1000), 86_400_000)

    try:
        target = transport.resolve_target(
            delivery.url, allow_private=settings.webhook_allow_private_targets)
        code, kept = transport.post(target, body=body, headers=headers)
    except transport.TargetRefused as refused:
        return Result(None, rules.short_error(str(refused)), None, elapsed())
    except requests.RequestException as error:
        return Result(None, rules.short_error(f"{type(error).__name__}: {error}"), None, elapsed())
    return Result(code, None if 200 <= code < 300 else f"HTTP {code}",
                  kept.decode("utf-8", "replace"), elapsed())


def record_outcome(delivery: Claimed, result: Result, *, now: dt.datetime,
                   settings: Settings) -> bool:
    """Record the attempt if this dispatcher still holds the lease (False: it lost it, and the
    holder records instead); count the subscription's failures, disabling it past the limit."""
    with unit_of_work():
        subscription = db.session.scalars(
            select(WebhookSubscription).where(WebhookSubscription.id == delivery.subscription_id)
            .with_for_update()).one()
        if result.ok:
            values = {"status": "delivered", "next_attempt_at": None, "delivered_at": now}
        else:
            status, next_at = rules.after_failure(delivery.attempt_no, now=now,
                                                  max_attempts=settings.webhook_max_attempts)
            values = {"status": status, "next_attempt_at": next_at}
        held = db.session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery.delivery_id,
                                          WebhookDelivery.lease_token == delivery.lease_token)
            .values(lease_token=None, leased_until=None, last_status_code=result.status_code,
                    last_error=result.error, **values)
            .execution_options(synchronize_session=False)).rowcount
        if held != 1:
            return False
        db.session.add(WebhookDeliveryAttempt(
            delivery_id=delivery.delivery_id, attempt_no=delivery.attempt_no, attempted_at=now,
            status_code=result.status_code, error=result.error,
            response_body=result.response_body, duration_ms=result.duration_ms))
        _count(subscription, result.ok, now=now, settings=settings)
    return True


def _count(subscription: WebhookSubscription, ok: bool, *, now: dt.datetime,
           settings: Settings) -> None:
    if ok:
        subscription.consecutive_failures = 0
        return
    subscription.consecutive_failures += 1
    if subscription.status == "active" and rules.should_disable(
            subscription.consecutive_failures, disable_after=settings.webhook_disable_after):
        subscription.status, subscription.disabled_at = "disabled", now
        subscription.disabled_reason = (f"{subscription.consecutive_failures} consecutive failed "
                                        "deliveries")
        record_audit(action="webhook.disabled", object_type="webhook_subscription",
                     object_id=subscription.id,
                     details={"consecutive_failures": subscription.consecutive_failures})


def purge_expired_events(*, now: dt.datetime | None = None) -> int:
    """Delete events older than the retention period with their deliveries and attempts
    (docs/privacy.md); returns the events deleted."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=get_settings().webhook_retention_days)
    old = select(WebhookEvent.id).where(WebhookEvent.created_at < cutoff)
    with unit_of_work():
        deliveries = select(WebhookDelivery.id).where(WebhookDelivery.event_id.in_(old))
        db.session.execute(delete(WebhookDeliveryAttempt)
                           .where(WebhookDeliveryAttempt.delivery_id.in_(deliveries))
                           .execution_options(synchronize_session=False))
        db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(old))
                           .execution_options(synchronize_session=False))
        return db.session.execute(delete(WebhookEvent).where(WebhookEvent.created_at < cutoff)
                                  .execution_options(synchronize_session=False)).rowcount
