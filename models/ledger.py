"""The points ledger: accounts, append-only transfers, two-phase holds, FIFO lots, reversals
and the hash chain that seals transfers. See docs/ledger.md."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, Uuid, text)
from sqlalchemy.orm import Mapped, mapped_column

from carbon_credits.domain import ledger as ledger_rules
from carbon_credits.domain.vocabulary import (ACCOUNT_KINDS, ADJUSTMENT_REASONS, ADJUSTMENT_STATUSES,
                                            HOLD_STATUSES, MAX_BALANCE_POINTS, MAX_POINTS,
                                            SYSTEM_ACCOUNT_KINDS, TRANSFER_KINDS, sql_in)

from .base import UTCDateTime, db, utcnow

TRANSFER_ID = "ledger_transfer_keys.id"

# Bounded checks: PostgreSQL lets NaN through `x >= 0`, and an upper bound stops overflow.
_BALANCE_MAX = MAX_BALANCE_POINTS
_AMOUNT_MAX = MAX_POINTS


def _big_id():
    return BigInteger().with_variant(Integer, "sqlite")


def _where_set(name: str, column: str) -> Index:
    """An index of `column` over the rows where it is set (a partial index, both dialects)."""
    return Index(name, column, postgresql_where=text(f"{column} IS NOT NULL"),
                 sqlite_where=text(f"{column} IS NOT NULL"))


class LedgerAccount(db.Model):
    """One per citizen, one per merchant, and one row per system account (issuance, holds,
    expiry). Only citizen and merchant accounts keep running balances; system accounts are
    derived from transfers so no posting ever locks them (hot-account rule)."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint(sql_in("kind", ACCOUNT_KINDS), name="known_kind"),
        CheckConstraint(f"balance BETWEEN 0 AND {_BALANCE_MAX}", name="balance_bounded"),
        CheckConstraint(f"reserved BETWEEN 0 AND {_BALANCE_MAX}", name="reserved_bounded"),
        CheckConstraint("(kind = 'citizen') = (user_id IS NOT NULL)", name="citizen_has_user"),
        CheckConstraint("(kind = 'merchant') = (partner_id IS NOT NULL)",
                        name="merchant_has_partner"),
        CheckConstraint("(system_code IS NOT NULL) = "
                        f"({sql_in('kind', SYSTEM_ACCOUNT_KINDS)})",
                        name="system_has_code"),
        CheckConstraint("kind = 'citizen' OR reserved = 0", name="only_citizens_reserve"),
        CheckConstraint("kind IN ('citizen', 'merchant') OR balance = 0",
                        name="system_keeps_no_balance"),
    )

    id: Mapped[int] = mapped_column(_big_id(), primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), unique=True)
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("partners.id"), unique=True)
    system_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerTransfer(db.Model):
    """One immutable movement of points from the debit to the credit account (append-only)."""

    __tablename__ = "ledger_transfers"
    __table_args__ = (
        CheckConstraint(f"amount BETWEEN 1 AND {_AMOUNT_MAX}", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
        CheckConstraint(sql_in("kind", TRANSFER_KINDS), name="known_kind"),
        CheckConstraint(f"balance_after IS NULL OR balance_after BETWEEN 0 AND {_BALANCE_MAX}",
                        name="balance_after_bounded"),
        # Every transfer writes every index: docs/indexes.md lists the query each one serves.
        # None looks transfers up by posting, debit or credit account (system accounts are
        # derived by walking the table), so those columns have no index.
        Index("ix_ledger_transfers_statement", "citizen_account_id", "seq"),
        # NULL on most transfers (earns carry no hold or redemption; holds and expiries carry no
        # action): only the rows a look-up can find are indexed.
        _where_set("ix_ledger_transfers_action_id", "action_id"),
        _where_set("ix_ledger_transfers_redemption_id", "redemption_id"),
        _where_set("ix_ledger_transfers_hold_id", "hold_id"),
        # Not unique here: on PostgreSQL the table is partitioned by month and a unique index
        # must include `recorded_at`. `ledger_transfer_keys` holds the global uniqueness.
        Index("ix_ledger_transfers_id", "id"),
    )

    seq: Mapped[int] = mapped_column(_big_id(), primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4)
    posting_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    # The citizen this entry concerns (a party, or the hold's owner for `redeem`), and their
    # available balance right after it.
    citizen_account_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_accounts.id"))
    balance_after: Mapped[int | None] = mapped_column(BigInteger)
    action_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    redemption_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    hold_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ledger_holds.id"))
    reversal_of: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(TRANSFER_ID))
    # Unique across all months through `ledger_transfer_keys` (each posting is made once).
    external_ref: Mapped[str] = mapped_column(String(200))
    event_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def signed_amount(self, citizen_account_id: int) -> int:
        """The change to the citizen's available balance (0 for `redeem`: it left at reserve)."""
        return ledger_rules.signed_amount(debit_account_id=self.debit_account_id,
                                          credit_account_id=self.credit_account_id,
                                          amount=self.amount, account_id=citizen_account_id)


class LedgerTransferKey(db.Model):
    """What must be unique across every month of `ledger_transfers`: a transfer's id and its
    posting's `external_ref`. The database writes it (a trigger on each transfer insert, in the
    same statement), so no code path can skip it; rows referring to a transfer point here.
    See docs/operations.md, "Partitioning by month"."""

    __tablename__ = "ledger_transfer_keys"
    __table_args__ = (UniqueConstraint("external_ref", name="uq_ledger_transfers_external_ref"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    external_ref: Mapped[str] = mapped_column(String(200))
    # The partition the transfer lives in, for look-ups that start here.
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class LedgerHold(db.Model):
    """Two-phase spend: pending -> posted | voided | expired, each transition at most once."""

    __tablename__ = "ledger_holds"
    __table_args__ = (
        CheckConstraint(f"amount BETWEEN 1 AND {_AMOUNT_MAX}", name="amount_positive"),
        CheckConstraint(sql_in("status", HOLD_STATUSES), name="known_status"),
        CheckConstraint("(status = 'pending') = (settled_at IS NULL)", name="settled_when_final"),
        Index("ix_ledger_holds_due", "status", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    redemption_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    external_ref: Mapped[str] = mapped_column(String(200), unique=True)
    merchant_account_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_accounts.id"))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LedgerLot(db.Model):
    """Points from one earn, spent oldest-first and expired at `expires_at`."""

    __tablename__ = "ledger_lots"
    __table_args__ = (
        CheckConstraint("remaining BETWEEN 0 AND amount", name="remaining_bounded"),
        CheckConstraint(f"amount BETWEEN 1 AND {_AMOUNT_MAX}", name="amount_positive"),
        CheckConstraint("expired_amount BETWEEN 0 AND amount", name="expired_bounded"),
        Index("ix_ledger_lots_live", "account_id", "expires_at", "id",
              postgresql_where=text("remaining > 0"), sqlite_where=text("remaining > 0")),
        Index("ix_ledger_lots_due", "expires_at", postgresql_where=text("remaining > 0"),
              sqlite_where=text("remaining > 0")),
    )

    id: Mapped[int] = mapped_column(_big_id(), primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    earn_transfer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(TRANSFER_ID),
                                                        unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    expired_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerHoldLot(db.Model):
    """Which lots a hold took its points from, so a void puts them back where they came from."""

    __tablename__ = "ledger_hold_lots"
    __table_args__ = (
        CheckConstraint(f"amount BETWEEN 1 AND {_AMOUNT_MAX}", name="amount_positive"),
    )

    hold_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_holds.id"), primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("ledger_lots.id"), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class LedgerReversal(db.Model):
    """A reversed earn: what was clawed back and the shortfall (append-only, once per earn)."""

    __tablename__ = "ledger_reversals"
    __table_args__ = (
        CheckConstraint("clawed_back >= 0 AND shortfall >= 0 AND clawed_back + shortfall = earned",
                        name="parts_add_up"),
        CheckConstraint("(transfer_id IS NULL) = (clawed_back = 0)", name="transfer_iff_clawed"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    target_transfer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(TRANSFER_ID),
                                                          unique=True)
    transfer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(TRANSFER_ID))
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    action_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    earned: Mapped[int] = mapped_column(BigInteger)
    clawed_back: Mapped[int] = mapped_column(BigInteger)
    shortfall: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerSeal(db.Model):
    """One link of the hash chain: `hash = sha256(prev_hash, canonical transfer)` (append-only).

    Chain order is seal order (`position`), not transfer order, so a transfer that commits late
    is simply sealed later."""

    __tablename__ = "ledger_seals"

    position: Mapped[int] = mapped_column(_big_id(), primary_key=True, autoincrement=False)
    # No foreign key: `seq` is unique only with the month on PostgreSQL. Verify counts seals
    # whose transfer is missing (`hash chain: ... seals point at missing transfers`).
    transfer_seq: Mapped[int] = mapped_column(_big_id(), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerChainHead(db.Model):
    """The single row only the sealer locks: the last link and the scan watermark."""

    __tablename__ = "ledger_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    # Every transfer with seq <= watermark is sealed (the sealer only scans above it).
    watermark_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerAdjustment(db.Model):
    """A manual correction, four-eyes: one person requests it, another approves (posting an
    `adjustment` transfer) or rejects it. The database refuses the requester as decider."""

    __tablename__ = "ledger_adjustments"
    __table_args__ = (
        CheckConstraint(f"points <> 0 AND points BETWEEN -{_AMOUNT_MAX} AND {_AMOUNT_MAX}",
                        name="points_range"),
        CheckConstraint(sql_in("reason", ADJUSTMENT_REASONS), name="known_reason"),
        CheckConstraint(sql_in("status", ADJUSTMENT_STATUSES), name="known_status"),
        CheckConstraint("decided_by IS NULL OR decided_by <> requested_by", name="four_eyes"),
        CheckConstraint("(status = 'pending') = (decided_by IS NULL)", name="decided_iff_not_pending"),
        CheckConstraint("(status = 'approved') = (transfer_id IS NOT NULL)",
                        name="transfer_iff_approved"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    points: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    external_ref: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    requested_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    transfer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(TRANSFER_ID),
                                                          unique=True)
