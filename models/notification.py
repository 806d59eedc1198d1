"""Citizen notifications (docs/notifications.md): reminders and news for one citizen, read or
unread. Personal data: exported with the citizen's data, deleted on erasure, purged after a
retention (docs/privacy.md)."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from carbon_credits.domain.notifications import MAX_DEDUPE_KEY, NOTIFICATION_KINDS
from carbon_credits.domain.vocabulary import sql_in

from .base import UTCDateTime, db, utcnow


class Notification(db.Model):
    """One notification. `dedupe_key` is unique per citizen: the job that writes reminders can
    run again, or on two workers at once, and the database keeps each one single."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(sql_in("kind", NOTIFICATION_KINDS), name="known_kind"),
        UniqueConstraint("user_id", "dedupe_key"),
        # The citizen's list, newest first (and the unread count: few rows per citizen).
        Index("ix_notifications_user", "user_id", "created_at", "id"),
        # Retention (services/notifications.purge_notifications).
        Index("ix_notifications_read_at", "read_at", postgresql_where=text("read_at IS NOT NULL"),
              sqlite_where=text("read_at IS NOT NULL")),
        Index("ix_notifications_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict] = mapped_column(JSON)
    dedupe_key: Mapped[str] = mapped_column(String(MAX_DEDUPE_KEY))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
