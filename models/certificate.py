"""The certified-reduction registry: lots issued from verified actions, their serials, who
holds them and which are retired. See docs/certificates.md.

Rules the database keeps by itself:
- an action's grams belong to at most one lot (`uq_certificate_lot_actions_action_id`);
- a lot's serial range has exactly `quantity` serials and its issued grams never exceed the
  verified grams of its actions (CHECKs on `certificate_lots`);
- a block (a sub-range of a lot's serials with one holder) never changes its range or holder;
  only an active block may change status, and retired blocks never change at all (triggers in
  migration 0007); lot membership and the event history are append-only;
- verification statements on a lot are append-only (migration 0016): a later statement
  supersedes an earlier one, nothing rewrites it.
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index,
                        Integer, LargeBinary, String, Text, UniqueConstraint, Uuid)
from sqlalchemy.orm import Mapped, mapped_column

from carbon_credits.domain.verification import MAX_SAMPLE_SIZE, SAMPLE_METHODS
from carbon_credits.domain.vocabulary import (BLOCK_STATUSES, MAX_CERTIFICATE_UNITS as MAX_UNITS,
                                            MAX_LOT_MG, MAX_SERIAL, REGISTRY_EVENTS,
                                            VERIFICATION_OPINIONS, sql_in)

from .base import UTCDateTime, db, utcnow



class CertificateSerialCounter(db.Model):
    """The next free serial of a registry. Issuance locks this row FOR UPDATE, so serial ranges
    are handed out one lot at a time: contiguous and never overlapping."""

    __tablename__ = "certificate_serial_counters"
    __table_args__ = (
        CheckConstraint(f"next_serial BETWEEN 1 AND {MAX_SERIAL}", name="next_serial_range"),
    )

    registry_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    next_serial: Mapped[int] = mapped_column(BigInteger, default=1)


class CertificateLot(db.Model):
    """Certified reductions of one methodology version over a period of scheme days."""

    __tablename__ = "certificate_lots"
    __table_args__ = (
        UniqueConstraint("serial_start", name="uq_certificate_lots_serial_start"),
        UniqueConstraint("serial_end", name="uq_certificate_lots_serial_end"),
        CheckConstraint("status IN ('issued')", name="known_status"),
        CheckConstraint("period_to >= period_from", name="period_order"),
        CheckConstraint(f"quantity BETWEEN 1 AND {MAX_UNITS}", name="quantity_range"),
        CheckConstraint(f"unit_mg BETWEEN 1 AND {MAX_UNITS}", name="unit_range"),
        CheckConstraint(f"serial_start BETWEEN 1 AND {MAX_SERIAL}", name="serial_range"),
        CheckConstraint("serial_end - serial_start + 1 = quantity", name="serials_match_quantity"),
        CheckConstraint(f"verified_mg BETWEEN 1 AND {MAX_LOT_MG}", name="verified_range"),
        CheckConstraint("issued_mg = quantity * unit_mg", name="issued_is_whole_units"),
        CheckConstraint("issued_mg + remainder_mg = verified_mg", name="issued_within_verified"),
        CheckConstraint("remainder_mg >= 0 AND remainder_mg < unit_mg", name="remainder_below_unit"),
        CheckConstraint("action_count BETWEEN 1 AND 1000000000", name="action_count_range"),
        CheckConstraint("review_period_days BETWEEN 0 AND 365", name="review_period_range"),
        Index("ix_certificate_lots_issued", "issued_at", "id"),
        Index("ix_certificate_lots_version_period", "methodology_version_id", "period_from"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    registry_code: Mapped[str] = mapped_column(ForeignKey("certificate_serial_counters.registry_code"))
    methodology_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("methodology_versions.id"))
    methodology_code: Mapped[str] = mapped_column(String(64))
    methodology_version: Mapped[int] = mapped_column(Integer)
    period_from: Mapped[dt.date] = mapped_column(Date)
    period_to: Mapped[dt.date] = mapped_column(Date)
    vintage_year: Mapped[int] = mapped_column(Integer)
    unit_mg: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    action_count: Mapped[int] = mapped_column(Integer)
    # Credited grams of the lot's actions; issued = whole units; the rest is never issued.
    verified_mg: Mapped[int] = mapped_column(BigInteger)
    issued_mg: Mapped[int] = mapped_column(BigInteger)
    remainder_mg: Mapped[int] = mapped_column(BigInteger)
    summary: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="issued")
    issued_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # LOT_REVIEW_PERIOD_DAYS when issued: period_to <= (scheme day of issued_at) - 1 - this.
    review_period_days: Mapped[int] = mapped_column(Integer)


class CertificateLotAction(db.Model):
    """An action's grams in a lot. UNIQUE(action_id): one action, at most one lot."""

    __tablename__ = "certificate_lot_actions"
    __table_args__ = (
        UniqueConstraint("action_id", name="uq_certificate_lot_actions_action_id"),
        CheckConstraint(f"contributed_mg BETWEEN 1 AND {MAX_LOT_MG}", name="contributed_range"),
    )

    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certificate_lots.id"), primary_key=True)
    action_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("action_keys.id"), primary_key=True)
    contributed_mg: Mapped[int] = mapped_column(BigInteger)


class CertificateBlock(db.Model):
    """A contiguous run of a lot's serials with one holder (`holder_partner_id` NULL: the
    scheme's own issuance account). Moving part of a block supersedes it with new blocks;
    a retired block is final."""

    __tablename__ = "certificate_blocks"
    __table_args__ = (
        CheckConstraint(sql_in("status", BLOCK_STATUSES), name="known_status"),
        CheckConstraint(f"serial_start BETWEEN 1 AND {MAX_SERIAL}", name="serial_range"),
        CheckConstraint("serial_end - serial_start + 1 = quantity", name="serials_match_quantity"),
        CheckConstraint(f"quantity BETWEEN 1 AND {MAX_UNITS}", name="quantity_range"),
        CheckConstraint("(status = 'retired') = (retired_at IS NOT NULL)", name="retired_has_time"),
        CheckConstraint("status <> 'retired' OR (beneficiary IS NOT NULL AND purpose IS NOT NULL)",
                        name="retired_has_claim"),
        Index("ix_certificate_blocks_lot_serial", "lot_id", "serial_start"),
        Index("ix_certificate_blocks_serials", "serial_start", "serial_end"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certificate_lots.id"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("certificate_blocks.id"))
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)
    holder_partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("partners.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    beneficiary: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(Text)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    retired_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CertificateEvent(db.Model):
    """Append-only history of the registry: issue, transfer, retire."""

    __tablename__ = "certificate_events"
    __table_args__ = (
        CheckConstraint(sql_in("event", REGISTRY_EVENTS), name="known_event"),
        CheckConstraint("serial_end - serial_start + 1 = quantity", name="serials_match_quantity"),
        CheckConstraint(f"quantity BETWEEN 1 AND {MAX_UNITS}", name="quantity_range"),
        Index("ix_certificate_events_lot", "lot_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certificate_lots.id"))
    block_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certificate_blocks.id"))
    event: Mapped[str] = mapped_column(String(16))
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)
    from_partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("partners.id"))
    to_partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("partners.id"))
    beneficiary: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(Text)
    actor_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CertificateLotVerification(db.Model):
    """A third-party verifier's signed statement on a lot: the seed and the sample of
    contributing actions it drew (method `sample_method`, domain/verification.py), findings and
    opinion. Append-only; the latest statement (highest id) decides whether the lot's serials
    may move: only a positive one lets them."""

    __tablename__ = "certificate_lot_verifications"
    __table_args__ = (
        CheckConstraint(sql_in("opinion", VERIFICATION_OPINIONS), name="known_opinion"),
        CheckConstraint(sql_in("sample_method", SAMPLE_METHODS), name="known_sample_method"),
        CheckConstraint(f"sample_size BETWEEN 1 AND {MAX_SAMPLE_SIZE}", name="sample_size_range"),
        Index("ix_certificate_lot_verifications_lot", "lot_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certificate_lots.id"))
    seed: Mapped[str] = mapped_column(String(128))
    # False: the verifier chose the seed; True: the server drew it because none was sent.
    seed_drawn_by_server: Mapped[bool] = mapped_column(Boolean)
    sample_method: Mapped[str] = mapped_column(String(32))
    sample_size: Mapped[int] = mapped_column(Integer)
    # Canonical action id texts, in draw order (lowest score first).
    sampled_action_ids: Mapped[list] = mapped_column(JSON)
    findings: Mapped[str] = mapped_column(Text)
    opinion: Mapped[str] = mapped_column(String(16))
    verifier_organisation: Mapped[str] = mapped_column(String(200))
    report_reference: Mapped[str] = mapped_column(String(200))
    verifier_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CertificateLotManifest(db.Model):
    """The Merkle root over a lot's salted leaves, fixed when the lot is issued
    (docs/verification.md). `leaf_secret` keys each action's salt and is never published:
    only an action's owner gets its salt, in the lot proof."""

    __tablename__ = "certificate_lot_manifests"
    __table_args__ = (CheckConstraint("tree_size >= 1", name="tree_not_empty"),)

    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certificate_lots.id"), primary_key=True)
    leaf_secret: Mapped[bytes] = mapped_column(LargeBinary)
    tree_size: Mapped[int] = mapped_column(Integer)
    root_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RetirementCertificate(db.Model):
    """One retirement (one request) of a lot's serials, as the signed certificate names it:
    beneficiary, purpose, serials and grams. Append-only; its blocks are listed in
    `retirement_certificate_blocks`."""

    __tablename__ = "retirement_certificates"
    __table_args__ = (CheckConstraint(f"quantity BETWEEN 1 AND {MAX_UNITS}", name="quantity_range"),
                      Index("ix_retirement_certificates_lot_id", "lot_id"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certificate_lots.id"))
    beneficiary: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(BigInteger)
    retired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class RetirementCertificateBlock(db.Model):
    """A retired block belongs to exactly one certificate."""

    __tablename__ = "retirement_certificate_blocks"

    block_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certificate_blocks.id"), primary_key=True)
    certificate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("retirement_certificates.id"),
                                                      index=True)
