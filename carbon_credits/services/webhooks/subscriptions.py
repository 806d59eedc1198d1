"""Webhook subscriptions: creation with a secret shown once, changes (re-enabling after an
automatic disabling), secret rotation, the delivery log and manual redelivery."""
from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import uuid

from sqlalchemy import delete, select, update

from carbon_credits.config import get_settings
from carbon_credits.domain import webhooks as rules
from carbon_credits.domain.errors import Conflict, NotFound, ValidationFailed
from carbon_credits.services import keys
from carbon_credits.services.audit import record_audit
from carbon_credits.services.pagination import newest_first_page
from carbon_credits.services.queue import enqueue_after_commit
from carbon_credits.services.uow import unit_of_work
from carbon_credits.services.webhooks import wakeup
from models import (Partner, WebhookDelivery, WebhookSubscription, WebhookSubscriptionEvent, db,
                    utcnow)


@dataclasses.dataclass(frozen=True)
class IssuedWebhookSecret:
    subscription: WebhookSubscription
    secret: str


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _production() -> bool:
    return get_settings().environment == "production"


def create_subscription(*, url: str, events: list[str], partner_id: uuid.UUID | None,
                        actor_user_id: uuid.UUID | None) -> IssuedWebhookSecret:
    """A new active subscription; its signing secret is returned this once."""
    url = rules.check_url(url, production=_production())
    chosen = rules.check_events(events)
    secret = _new_secret()
    now = utcnow()
    with unit_of_work():
        if partner_id is not None and db.session.get(Partner, partner_id) is None:
            raise ValidationFailed("No such partner.", errors={"partner_id": ["Unknown partner."]})
        subscription = WebhookSubscription(id=uuid.uuid4(), url=url, partner_id=partner_id,
                                           secret_encrypted=keys.encrypt(secret), status="active",
                                           consecutive_failures=0, created_by=actor_user_id,
                                           created_at=now, updated_at=now)
        subscription.event_rows = [WebhookSubscriptionEvent(event_type=e) for e in chosen]
        db.session.add(subscription)
        db.session.flush()
        record_audit(action="webhook.create", object_type="webhook_subscription",
                     object_id=subscription.id, actor_user_id=actor_user_id,
                     details={"url": url, "events": chosen,
                              "partner_id": str(partner_id) if partner_id else None})
        wakeup.forget_listened_types()
    return IssuedWebhookSecret(subscription=subscription, secret=secret)


def list_subscriptions() -> list[WebhookSubscription]:
    return list(db.session.scalars(select(WebhookSubscription)
                                   .order_by(WebhookSubscription.created_at, WebhookSubscription.id)))


def get_subscription_or_raise(subscription_id: uuid.UUID) -> WebhookSubscription:
    subscription = db.session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        raise NotFound("Webhook subscription not found.")
    return subscription


def _lock(subscription_id: uuid.UUID) -> WebhookSubscription:
    subscription = db.session.scalars(select(WebhookSubscription)
                                      .where(WebhookSubscription.id == subscription_id)
                                      .with_for_update()).one_or_none()
    if subscription is None:
        raise NotFound("Webhook subscription not found.")
    return subscription


def update_subscription(*, subscription_id: uuid.UUID, changes: dict,
                        actor_user_id: uuid.UUID) -> WebhookSubscription:
    """Change the URL, the events or the status; re-enabling resets the failure count and makes
    the deliveries left pending due now."""
    url = changes.get("url")
    if url is not None:
        rules.check_url(url, production=_production())
    chosen = rules.check_events(changes["events"]) if "events" in changes else None
    status = changes.get("status")
    if status is not None and status not in rules.SUBSCRIPTION_STATUSES:
        raise ValidationFailed("status is active or disabled.", errors={"status": ["Unknown status."]})
    now = utcnow()
    with unit_of_work():
        subscription = _lock(subscription_id)
        if url is not None:
            subscription.url = url
        if chosen is not None:
            db.session.execute(delete(WebhookSubscriptionEvent).where(
                WebhookSubscriptionEvent.subscription_id == subscription.id))
            db.session.add_all(WebhookSubscriptionEvent(subscription_id=subscription.id,
                                                        event_type=e) for e in chosen)
        if status is not None and status != subscription.status:
            _set_status(subscription, status, now)
        subscription.updated_at = now
        wakeup.forget_listened_types()
        record_audit(action="webhook.update", object_type="webhook_subscription",
                     object_id=subscription.id, actor_user_id=actor_user_id,
                     details={k: v for k, v in (("url", url), ("events", chosen), ("status", status))
                              if v is not None})
    db.session.refresh(subscription)
    return subscription


def _set_status(subscription: WebhookSubscription, status: str, now: dt.datetime) -> None:
    subscription.status = status
    if status == "disabled":
        subscription.disabled_at, subscription.disabled_reason = now, "disabled by an admin"
        return
    subscription.disabled_at = subscription.disabled_reason = None
    subscription.consecutive_failures = 0
    db.session.execute(update(WebhookDelivery).where(
        WebhookDelivery.subscription_id == subscription.id, WebhookDelivery.status == "pending")
        .values(next_attempt_at=now))
    _kick_dispatcher()


def rotate_secret(*, subscription_id: uuid.UUID, actor_user_id: uuid.UUID) -> IssuedWebhookSecret:
    """A new signing secret, returned this once; the old one stops at once."""
    secret = _new_secret()
    with unit_of_work():
        subscription = _lock(subscription_id)
        subscription.secret_encrypted = keys.encrypt(secret)
        subscription.updated_at = utcnow()
        record_audit(action="webhook.rotate_secret", object_type="webhook_subscription",
                     object_id=subscription.id, actor_user_id=actor_user_id, details={})
    return IssuedWebhookSecret(subscription=subscription, secret=secret)


def list_deliveries(*, subscription_id: uuid.UUID, status: str | None, after: tuple | None,
                    limit: int) -> tuple[list[WebhookDelivery], tuple | None]:
    """A subscription's deliveries, newest first, with their attempts."""
    get_subscription_or_raise(subscription_id)
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    query = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    return newest_first_page(query, WebhookDelivery.created_at, WebhookDelivery.id,
                             after=after, limit=limit)


def redeliver(*, subscription_id: uuid.UUID, delivery_id: uuid.UUID,
              actor_user_id: uuid.UUID) -> WebhookDelivery:
    """A new delivery of the same event (same event id) to the same subscription, due now."""
    now = utcnow()
    with unit_of_work():
        subscription = _lock(subscription_id)
        original = db.session.get(WebhookDelivery, delivery_id)
        if original is None or original.subscription_id != subscription.id:
            raise NotFound("Delivery not found.")
        if subscription.status != "active":
            raise Conflict("The subscription is disabled: enable it first.", code="webhook_disabled")
        delivery = WebhookDelivery(id=uuid.uuid4(), subscription_id=subscription.id,
                                   event_id=original.event_id, manual=True, status="pending",
                                   attempts=0, next_attempt_at=now, created_by=actor_user_id,
                                   created_at=now)
        db.session.add(delivery)
        db.session.flush()
        record_audit(action="webhook.redeliver", object_type="webhook_subscription",
                     object_id=subscription.id, actor_user_id=actor_user_id,
                     details={"delivery_id": str(delivery.id), "of": str(original.id),
                              "event_id": str(original.event_id)})
        _kick_dispatcher()
    return delivery


def _kick_dispatcher() -> None:
    """With Redis, a worker dispatches right after the commit; `jobs run-due` does otherwise."""
    enqueue_after_commit("run_job", "dispatch_webhooks", description="dispatch webhooks")
