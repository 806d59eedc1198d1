"""The rewards marketplace: merchants' rewards, citizens' redemptions (vouchers) and the
per-citizen claim counters that enforce reward limits. See docs/rewards.md."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String,
                        Text, Uuid)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carbon_credits.domain.vocabulary import (MAX_IMAGE_URL_LENGTH, MAX_PER_CITIZEN_LIMIT,
                                            MAX_POINTS_COST, MAX_STOCK, REDEMPTION_STATUSES,
                                            REWARD_CATEGORIES, sql_in)

from .base import UTCDateTime, db, utcnow
from .partner import Partner  # noqa: F401 (the relationship's target)


class Reward(db.Model):
    """Something a merchant gives for points. `stock` is what is left to reserve."""

    __tablename__ = "rewards"
    __table_args__ = (
        CheckConstraint(f"points_cost BETWEEN 1 AND {MAX_POINTS_COST}", name="points_cost_bounded"),
        CheckConstraint(f"stock BETWEEN 0 AND {MAX_STOCK}", name="stock_bounded"),
        CheckConstraint(f"per_citizen_limit BETWEEN 1 AND {MAX_PER_CITIZEN_LIMIT}",
                        name="per_citizen_limit_bounded"),
        CheckConstraint("valid_until > valid_from", name="window_ordered"),
        CheckConstraint(sql_in("category", REWARD_CATEGORIES), name="known_category"),
        # The service checks the whole URL (domain/merchants.py); this is the last line.
        CheckConstraint("image_url IS NULL OR image_url LIKE 'https://%'", name="image_url_https"),
        Index("ix_rewards_catalog", "active", "created_at", "id"),
        Index("ix_rewards_partner", "partner_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    points_cost: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    per_citizen_limit: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    category: Mapped[str] = mapped_column(String(16), default="other", server_default="other")
    image_url: Mapped[str | None] = mapped_column(String(MAX_IMAGE_URL_LENGTH))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Loaded on access (never joined by default: a reward locked FOR UPDATE must not lock its
    # merchant's row); lists that show the merchant's name ask for it joined.
    merchant: Mapped["Partner"] = relationship(lazy="select")

    @property
    def merchant_name(self) -> str:
        return self.merchant.name


class RewardClaim(db.Model):
    """How many live (reserved or redeemed) redemptions a citizen holds of one reward.

    Taken with a conditional `UPDATE ... SET live = live + 1 WHERE live < :limit`, so concurrent
    redemptions by one citizen serialise on this row and the limit holds under races."""

    __tablename__ = "reward_claims"
    __table_args__ = (
        CheckConstraint(f"live BETWEEN 0 AND {MAX_PER_CITIZEN_LIMIT}", name="live_bounded"),
    )

    reward_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rewards.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    live: Mapped[int] = mapped_column(Integer, default=0)


class Redemption(db.Model):
    """A citizen's reservation of a reward: reserved -> redeemed | cancelled | expired."""

    __tablename__ = "redemptions"
    __table_args__ = (
        CheckConstraint(sql_in("status", REDEMPTION_STATUSES),
                        name="known_status"),
        CheckConstraint(f"points BETWEEN 1 AND {MAX_POINTS_COST}", name="points_bounded"),
        CheckConstraint("(status = 'redeemed') = (redeemed_at IS NOT NULL)",
                        name="redeemed_at_iff_redeemed"),
        CheckConstraint("(status = 'redeemed') = (confirmed_by IS NOT NULL)",
                        name="confirmed_by_iff_redeemed"),
        CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)",
                        name="cancelled_at_iff_cancelled"),
        CheckConstraint("(status = 'expired') = (expired_at IS NOT NULL)",
                        name="expired_at_iff_expired"),
        Index("ix_redemptions_owner", "user_id", "reserved_at", "id"),
        Index("ix_redemptions_due", "status", "expires_at"),
        Index("ix_redemptions_settlement", "partner_id", "status", "redeemed_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    reward_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rewards.id"), index=True)
    # The reward's merchant, copied so settlement and confirmation scope without a join.
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    points: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="reserved")
    # Canonical form: 10 Crockford base32 characters, no separator (see services/vouchers.py).
    voucher_code: Mapped[str] = mapped_column(String(16), unique=True)
    hold_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_holds.id"), unique=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reserved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    redeemed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    expired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    confirmed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    reward: Mapped[Reward] = relationship(lazy="joined")
