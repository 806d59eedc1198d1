"""Public-good projects and the citizens' donations of points to them (docs/donations.md)."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from carbon_credits.domain.vocabulary import (MAX_BALANCE_POINTS, MAX_POINTS, PROJECT_STATUSES,
                                            sql_in)

from .base import UTCDateTime, db, utcnow
from .ledger import TRANSFER_ID


class PublicProject(db.Model):
    """A public-good project citizens give points to (tree planting, a school's solar roof...).

    Its ledger account (kind `project`) receives the `donate` transfers; `donated_points` is
    their running total, moved by a conditional update that never passes the target."""

    __tablename__ = "public_projects"
    __table_args__ = (
        CheckConstraint(sql_in("status", PROJECT_STATUSES), name="known_status"),
        CheckConstraint(f"target_points BETWEEN 1 AND {MAX_BALANCE_POINTS}", name="target_range"),
        CheckConstraint("donated_points BETWEEN 0 AND target_points", name="donated_within_target"),
        CheckConstraint("donations >= 0", name="donations_counted"),
        CheckConstraint("(status = 'open') = (ended_at IS NULL)", name="ended_iff_not_open"),
        CheckConstraint("status <> 'completed' OR donated_points = target_points",
                        name="completed_at_target"),
        Index("ix_public_projects_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    beneficiary: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    region: Mapped[str | None] = mapped_column(String(6))
    target_points: Mapped[int] = mapped_column(BigInteger)
    donated_points: Mapped[int] = mapped_column(BigInteger, default=0)
    donations: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), unique=True)
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Donation(db.Model):
    """One citizen's gift of points to a project: the `donate` transfer and its receipt."""

    __tablename__ = "donations"
    __table_args__ = (
        CheckConstraint(f"points BETWEEN 1 AND {MAX_POINTS}", name="points_range"),
        Index("ix_donations_user", "user_id", "created_at", "id"),
        Index("ix_donations_project", "project_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("public_projects.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    points: Mapped[int] = mapped_column(BigInteger)
    transfer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(TRANSFER_ID), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
