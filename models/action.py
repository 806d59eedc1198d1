"""Green actions as recorded, with everything needed to explain their credit years later."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer,
                        String, Text, Uuid, text)
from sqlalchemy.orm import Mapped, mapped_column

from carbon_credits.domain.regions import REGION_CODES
from carbon_credits.domain.vocabulary import ACTION_STATUSES, ACTION_TYPES, CHANNELS, MAX_ACTION_MG, sql_in

from .base import UTCDateTime, db, utcnow



class Action(db.Model):
    __tablename__ = "actions"
    __table_args__ = (
        CheckConstraint(sql_in("status", ACTION_STATUSES), name="known_status"),
        CheckConstraint(sql_in("channel", CHANNELS), name="known_channel"),
        CheckConstraint(sql_in("action_type", ACTION_TYPES),
                        name="known_action_type"),
        CheckConstraint("(channel = 'partner') = (partner_id IS NOT NULL AND external_id IS NOT NULL)",
                        name="partner_records_have_ids"),
        CheckConstraint(f"reduction_mg IS NULL OR reduction_mg BETWEEN 0 AND {MAX_ACTION_MG}",
                        name="reduction_range"),
        CheckConstraint(f"credited_mg BETWEEN 0 AND {MAX_ACTION_MG}", name="credited_range"),
        CheckConstraint("reduction_mg IS NULL OR credited_mg <= reduction_mg",
                        name="credited_within_reduction"),
        CheckConstraint(f"points BETWEEN 0 AND {MAX_ACTION_MG}", name="points_range"),
        CheckConstraint(sql_in("region", REGION_CODES), name="known_region"),
        CheckConstraint("status = 'credited' OR status = 'reversed' OR points = 0",
                        name="points_only_when_credited"),
        # What each index serves: docs/indexes.md.
        Index("ix_actions_user_created", "user_id", "created_at", "id"),
        # Overlap checks read windows by start; actions without a window never match one.
        Index("ix_actions_user_scope_started", "user_id", "scope_key", "started_at",
              postgresql_where=text("started_at IS NOT NULL"),
              sqlite_where=text("started_at IS NOT NULL")),
        Index("ix_actions_status_created", "status", "created_at"),
        # Certificate lots take a version's credited actions over a range of scheme days.
        Index("ix_actions_methodology_day", "methodology_version_id", "scheme_day"),
        # Reports and leaderboards read ranges of scheme days (migration 0006).
        Index("ix_actions_scheme_day", "scheme_day"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str] = mapped_column(String(8))
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("partners.id"))
    external_id: Mapped[str | None] = mapped_column(String(128))
    # The binding (card or account, and its consent) that routed a partner record to the citizen.
    binding_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bindings.id"))
    action_type: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str | None] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(16))
    scope_key: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    scheme_day: Mapped[dt.date] = mapped_column(Date)
    # The claim as received (decimals as strings), so the credit can be recomputed.
    inputs: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    methodology_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("methodology_versions.id"))
    methodology_code: Mapped[str | None] = mapped_column(String(64))
    methodology_version: Mapped[int | None] = mapped_column(Integer)
    breakdown: Mapped[list | None] = mapped_column(JSON)
    # Grams CO2e as integer milligrams: the methodology's result and what was credited (cap).
    reduction_mg: Mapped[int | None] = mapped_column(BigInteger)
    credited_mg: Mapped[int] = mapped_column(BigInteger, default=0)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    points_per_gram: Mapped[int] = mapped_column(Integer)
    duplicate_of: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    review_reason: Mapped[str | None] = mapped_column(Text)
    credited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reversed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    reversed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reversal_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The district it counts for, decided once when recorded (docs/districts.md); NULL: none.
    region: Mapped[str | None] = mapped_column(String(6))


class ActionKey(db.Model):
    """What must be unique across every month of `actions`: an action's id and a partner's
    record id (per partner; resending a batch, even months later, is harmless). The database
    writes it (a trigger on each action insert, in the same statement); rows referring to an
    action point here. The id and the partner record id of an action never change (trigger);
    its scheme day may, at approval. See docs/operations.md, "Partitioning by month"."""

    __tablename__ = "action_keys"
    __table_args__ = (
        # Partial: app claims (most rows) have no partner record id to be unique against.
        Index("uq_actions_partner_external_id", "partner_id", "external_id", unique=True,
              postgresql_where=text("partner_id IS NOT NULL"),
              sqlite_where=text("partner_id IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    partner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    external_id: Mapped[str | None] = mapped_column(String(128))


class DailyCredit(db.Model):
    """What a citizen was credited per scope and scheme day: the daily cap's ledger.

    Its row is also the lock that serialises crediting for one citizen, scope and day, so two
    channels reporting the same trip at once cannot both credit it.
    """

    __tablename__ = "daily_credits"
    __table_args__ = (
        CheckConstraint(f"credited_mg BETWEEN 0 AND {MAX_ACTION_MG}", name="credited_range"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    scope_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    scheme_day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    credited_mg: Mapped[int] = mapped_column(BigInteger, default=0)
