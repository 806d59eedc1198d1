"""Insights: background CSV exports of reports (the reports themselves are queries)."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from carbon_credits.domain.regions import REGION_CODES
from carbon_credits.domain.vocabulary import REPORT_EXPORT_STATUSES, sql_in

from .base import UTCDateTime, db, utcnow



class ReportExport(db.Model):
    """A requested report CSV: pending -> running -> done | failed, produced by one worker."""

    __tablename__ = "report_exports"
    __table_args__ = (
        CheckConstraint(sql_in("status", REPORT_EXPORT_STATUSES), name="known_status"),
        CheckConstraint("kind IN ('reductions')", name="known_kind"),
        CheckConstraint("date_from <= date_to", name="ordered_range"),
        CheckConstraint("(status = 'done') = (content IS NOT NULL)", name="content_when_done"),
        Index("ix_report_exports_due", "status", "created_at"),
        CheckConstraint(sql_in("region", REGION_CODES), name="known_region"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    date_from: Mapped[dt.date] = mapped_column(Date)
    date_to: Mapped[dt.date] = mapped_column(Date)
    group_by: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # The worker holding the export: only its own finish is accepted (leases can be taken over).
    lease_token: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    filename: Mapped[str | None] = mapped_column(String(128))
    # The finished report as JSON {"header": [...], "rows": [...]}, rendered as CSV on download.
    content: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Only the actions of this district (a district admin's exports always); NULL: the city.
    region: Mapped[str | None] = mapped_column(String(6))
