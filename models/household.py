"""Households that share a metered utility account, their members, and the monthly meter
readings a utility posts for the account (docs/households.md)."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer,
                        String, Uuid, text)
from sqlalchemy.orm import Mapped, mapped_column

from carbon_credits.domain.vocabulary import (HOUSEHOLD_SPLITS, MAX_ACTION_MG, MAX_READING_MILLI,
                                            METERED_UTILITIES, READING_STATUSES, sql_in)

from .base import UTCDateTime, db, utcnow


class Household(db.Model):
    """A home whose members share the credit of its metered savings, split by its rule."""

    __tablename__ = "households"
    __table_args__ = (
        CheckConstraint(sql_in("split_rule", HOUSEHOLD_SPLITS), name="known_split_rule"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(80))
    # The member who created it: the only one who sets the split and invites.
    holder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    split_rule: Mapped[str] = mapped_column(String(16), default="equal")
    # A join code for the next member, keyed-hashed, valid until its expiry; cleared when used.
    invitation_hash: Mapped[str | None] = mapped_column(String(64))
    invitation_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class HouseholdMember(db.Model):
    """One citizen's membership of a household over time; `share` weighs them when the split
    rule is `shares`. A citizen belongs to at most one household at a time."""

    __tablename__ = "household_members"
    __table_args__ = (
        Index("uq_household_members_one_home", "user_id", unique=True,
              postgresql_where=text("left_at IS NULL"), sqlite_where=text("left_at IS NULL")),
        Index("ix_household_members_household", "household_id", "joined_at"),
        CheckConstraint("share BETWEEN 1 AND 100", name="share_range"),
        CheckConstraint("left_at IS NULL OR left_at >= joined_at", name="left_after_joining"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    share: Mapped[int] = mapped_column(Integer, default=1)
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class MeterReading(db.Model):
    """One month of one metered account as the utility reported it, and what it was credited.

    One reading per account, utility and month: a second report of the same month is refused,
    so a month cannot be credited twice. Readings of months before the account was bound are
    kept as `history` (the baseline's references), never credited."""

    __tablename__ = "meter_readings"
    __table_args__ = (
        Index("uq_meter_readings_external_id", "partner_id", "external_id", unique=True),
        Index("uq_meter_readings_month", "partner_id", "account_hash", "utility", "period",
              unique=True),
        CheckConstraint(sql_in("utility", METERED_UTILITIES), name="known_utility"),
        CheckConstraint(sql_in("status", READING_STATUSES), name="known_status"),
        CheckConstraint(f"consumption_milli BETWEEN 0 AND {MAX_READING_MILLI}",
                        name="consumption_range"),
        CheckConstraint(f"reduction_mg IS NULL OR reduction_mg BETWEEN 0 AND {MAX_ACTION_MG}",
                        name="reduction_range"),
        CheckConstraint("status <> 'credited' OR (household_id IS NOT NULL "
                        "AND reduction_mg IS NOT NULL)", name="credited_complete"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    external_id: Mapped[str] = mapped_column(String(120))
    # The utility account, keyed-hashed like a bound card (services/bindings).
    account_hash: Mapped[str] = mapped_column(String(64))
    binding_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bindings.id"))
    household_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("households.id"))
    utility: Mapped[str] = mapped_column(String(16))
    period: Mapped[dt.date] = mapped_column(Date)  # the first day of the month
    # kWh or m³ in thousandths: exact, and never a float.
    consumption_milli: Mapped[int] = mapped_column(BigInteger)
    estimated: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    reduction_mg: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
