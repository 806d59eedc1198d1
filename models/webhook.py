"""Outbound webhooks: subscriptions, the transactional outbox, deliveries and their attempts.
See docs/webhooks.md.

Rules the database keeps by itself:
- one automatic delivery per (subscription, event): the dispatcher's fan-out is idempotent
  (`uq_webhook_deliveries_automatic`, a partial unique index; manual redeliveries are extra);
- a disabled subscription says when; a finished delivery holds no lease and waits for nothing;
- one log row per attempt number of a delivery.
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer,
                        LargeBinary, String, Text, UniqueConstraint, Uuid, false, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carbon_credits.domain.vocabulary import sql_in
from carbon_credits.domain.webhooks import (DELIVERY_STATUSES, ERROR_MAX_LENGTH,
                                            EVENT_TYPE_MAX_LENGTH, SUBSCRIPTION_STATUSES,
                                            URL_MAX_LENGTH)

from .base import UTCDateTime, db, utcnow


class WebhookSubscription(db.Model):
    """Where events are posted. The signing secret is stored encrypted (as partner secrets are)
    and shown once. A partner's subscription receives only that partner's events."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (
        CheckConstraint(sql_in("status", SUBSCRIPTION_STATUSES), name="known_status"),
        CheckConstraint("(status = 'disabled') = (disabled_at IS NOT NULL)",
                        name="disabled_iff_dated"),
        CheckConstraint("consecutive_failures BETWEEN 0 AND 1000000", name="failures_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    url: Mapped[str] = mapped_column(String(URL_MAX_LENGTH))
    partner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("partners.id"),
                                                         index=True)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="active")
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    event_rows: Mapped[list["WebhookSubscriptionEvent"]] = relationship(
        lazy="selectin", order_by="WebhookSubscriptionEvent.event_type",
        cascade="all, delete-orphan")

    @property
    def events(self) -> list[str]:
        return [row.event_type for row in self.event_rows]


class WebhookSubscriptionEvent(db.Model):
    """One row per event type a subscription takes (`*`: all), so matching is a plain join."""

    __tablename__ = "webhook_subscription_events"

    subscription_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhook_subscriptions.id"), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(EVENT_TYPE_MAX_LENGTH), primary_key=True,
                                            index=True)


class WebhookEvent(db.Model):
    """The outbox: an event, written in the transaction of the change it describes, and only
    when an active subscription would receive it. Kept for the retention period (no foreign
    keys: it records facts, and a citizen's erasure or the purge removes it whole)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_unfanned", "created_at",
              postgresql_where=text("fanned_out_at IS NULL"),
              sqlite_where=text("fanned_out_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    event_type: Mapped[str] = mapped_column(String(EVENT_TYPE_MAX_LENGTH))
    partner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    fanned_out_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(db.Model):
    """One event going to one subscription: attempted until delivered or given up, under a
    lease so that two dispatchers never post it at once."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(sql_in("status", DELIVERY_STATUSES), name="known_status"),
        CheckConstraint("(status = 'pending') = (next_attempt_at IS NOT NULL)",
                        name="pending_iff_scheduled"),
        CheckConstraint("(status = 'delivered') = (delivered_at IS NOT NULL)",
                        name="delivered_iff_dated"),
        CheckConstraint("(lease_token IS NULL) = (leased_until IS NULL)", name="lease_whole"),
        CheckConstraint("attempts BETWEEN 0 AND 1000", name="attempts_range"),
        Index("uq_webhook_deliveries_automatic", "subscription_id", "event_id", unique=True,
              postgresql_where=text("manual = false"), sqlite_where=text("manual = 0")),
        Index("ix_webhook_deliveries_due", "next_attempt_at",
              postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
        Index("ix_webhook_deliveries_subscription_created", "subscription_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    subscription_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("webhook_subscriptions.id"))
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("webhook_events.id"), index=True)
    manual: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_token: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    leased_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(ERROR_MAX_LENGTH))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[WebhookEvent] = relationship(lazy="joined")
    attempt_rows: Mapped[list["WebhookDeliveryAttempt"]] = relationship(
        lazy="selectin", order_by="WebhookDeliveryAttempt.attempt_no")


class WebhookDeliveryAttempt(db.Model):
    """The delivery log: each attempt, its answer (status and the first kilobyte) or error."""

    __tablename__ = "webhook_delivery_attempts"
    __table_args__ = (
        UniqueConstraint("delivery_id", "attempt_no"),
        CheckConstraint("attempt_no BETWEEN 1 AND 1000", name="attempt_no_range"),
        CheckConstraint("duration_ms BETWEEN 0 AND 86400000", name="duration_range"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("webhook_deliveries.id"))
    attempt_no: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(ERROR_MAX_LENGTH))
    response_body: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
