"""Engagement (docs/engagement.md): campaigns and challenges, their bonus claims, and daily
check-ins. Bonus points come from the `incentive` account and carry no grams."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String,
                        Text, UniqueConstraint, Uuid)
from sqlalchemy.orm import Mapped, mapped_column

from carbon_credits.domain.engagement import (CAMPAIGN_KINDS, CAMPAIGN_STATUSES,
                                              MAX_BONUS_POINTS, MAX_TARGET)
from carbon_credits.domain.vocabulary import (ACTION_TYPES, MAX_BALANCE_POINTS, MAX_POINTS,
                                            sql_in)

from .base import UTCDateTime, db, utcnow
from .ledger import TRANSFER_ID


class Campaign(db.Model):
    """A challenge with a bonus: its rule, window (scheme days) and budget. `spent_points`
    moves by one conditional update per claim and never passes `budget_points`."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(sql_in("kind", CAMPAIGN_KINDS), name="known_kind"),
        CheckConstraint(sql_in("status", CAMPAIGN_STATUSES), name="known_status"),
        CheckConstraint(f"action_type IS NULL OR {sql_in('action_type', ACTION_TYPES)}",
                        name="known_action_type"),
        CheckConstraint("mode IS NULL OR action_type IS NOT NULL", name="mode_needs_type"),
        CheckConstraint(f"target BETWEEN 1 AND {MAX_TARGET}", name="target_range"),
        CheckConstraint("ends_on >= starts_on", name="window_ordered"),
        CheckConstraint(f"bonus_points BETWEEN 1 AND {MAX_BONUS_POINTS}", name="bonus_range"),
        CheckConstraint(f"per_citizen_cap BETWEEN bonus_points AND {MAX_POINTS}",
                        name="cap_range"),
        CheckConstraint(f"budget_points BETWEEN bonus_points AND {MAX_BALANCE_POINTS}",
                        name="budget_range"),
        CheckConstraint("spent_points BETWEEN 0 AND budget_points", name="spent_within_budget"),
        CheckConstraint("claims >= 0", name="claims_counted"),
        CheckConstraint("(status = 'open') = (closed_at IS NULL)", name="closed_iff_dated"),
        Index("ix_campaigns_created", "created_at", "id"),
        Index("ix_campaigns_status_window", "status", "starts_on"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    action_type: Mapped[str | None] = mapped_column(String(16))
    mode: Mapped[str | None] = mapped_column(String(16))
    target: Mapped[int] = mapped_column(Integer)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    bonus_points: Mapped[int] = mapped_column(BigInteger)
    per_citizen_cap: Mapped[int] = mapped_column(BigInteger)
    budget_points: Mapped[int] = mapped_column(BigInteger)
    spent_points: Mapped[int] = mapped_column(BigInteger, default=0)
    claims: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CampaignClaim(db.Model):
    """A citizen's bonus from one campaign: once per citizen per campaign, with the `bonus`
    transfer that paid it (`ledger verify` checks that the two agree)."""

    __tablename__ = "campaign_claims"
    __table_args__ = (
        UniqueConstraint("campaign_id", "user_id"),
        CheckConstraint(f"points BETWEEN 1 AND {MAX_POINTS}", name="points_range"),
        CheckConstraint(f"completions BETWEEN 1 AND {MAX_POINTS}", name="completions_range"),
        CheckConstraint("clawed_back_points BETWEEN 0 AND points", name="clawed_back_range"),
        CheckConstraint("shortfall_points >= 0 AND clawed_back_points + shortfall_points <= points",
                        name="reversed_within_paid"),
        Index("ix_campaign_claims_user", "user_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    points: Mapped[int] = mapped_column(BigInteger)
    completions: Mapped[int] = mapped_column(Integer)
    transfer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(TRANSFER_ID), unique=True)
    # Taken back when actions behind the bonus are reversed: by `bonus_reversal` transfers
    # (their sum, checked by `verify`), and what the balance could not cover.
    clawed_back_points: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    shortfall_points: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CheckIn(db.Model):
    """A citizen's daily check-in: one per scheme day (the primary key). Earns nothing by
    itself; a `check_in_streak` campaign may pay a bonus for a run of them."""

    __tablename__ = "check_ins"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
