"""Methodologies (a code with a scope) and their versions (draft -> approved, then immutable)."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer,
                        String, Text, UniqueConstraint, Uuid, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carbon_credits.domain.vocabulary import (ACTION_TYPES, CALCULATOR_FAMILIES, MAX_DAILY_CAP_MG,
                                            RETIREMENT_STATUSES, VERSION_STATUSES,
                                            scope_mode_check, sql_in)

from .base import UTCDateTime, db, utcnow



class Methodology(db.Model):
    __tablename__ = "methodologies"
    __table_args__ = (
        CheckConstraint(sql_in("action_type", ACTION_TYPES),
                        name="known_action_type"),
        CheckConstraint(scope_mode_check(mode_required=True), name="scope_mode"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    # The Simplified Chinese title shown to clients that ask for Chinese (docs/localisation.md);
    # `title`, the English one, stays the record. Neither is in any hash or signed document.
    title_zh: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    action_type: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str | None] = mapped_column(String(16))
    # "transit:metro", "ev_charging": versions of one scope may never be in force together.
    scope_key: Mapped[str] = mapped_column(String(64), index=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list["MethodologyVersion"]] = relationship(
        back_populates="methodology", order_by="MethodologyVersion.version")


class MethodologyVersion(db.Model):
    """One version of a methodology. Once approved its content never changes (service 409 and
    a database trigger); retiring only fixes `effective_until`."""

    __tablename__ = "methodology_versions"
    __table_args__ = (
        UniqueConstraint("methodology_id", "version", name="uq_methodology_versions_number"),
        CheckConstraint(sql_in("status", VERSION_STATUSES),
                        name="known_status"),
        CheckConstraint(sql_in("family", CALCULATOR_FAMILIES), name="known_family"),
        CheckConstraint("version BETWEEN 1 AND 1000000", name="version_range"),
        CheckConstraint("revision BETWEEN 1 AND 1000000000", name="revision_range"),
        CheckConstraint(f"daily_cap_mg IS NULL OR daily_cap_mg BETWEEN 0 AND {MAX_DAILY_CAP_MG}",
                        name="daily_cap_range"),
        CheckConstraint("effective_until IS NULL OR effective_from IS NULL "
                        "OR effective_until >= effective_from", name="effective_order"),
        CheckConstraint("status NOT IN ('approved', 'retired') "
                        "OR (approved_at IS NOT NULL AND effective_from IS NOT NULL)",
                        name="approved_complete"),
        CheckConstraint("status <> 'rejected' OR rejection_reason IS NOT NULL",
                        name="rejected_has_reason"),
        CheckConstraint("approved_by IS NULL OR drafted_by IS NULL OR approved_by <> drafted_by",
                        name="four_eyes"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    methodology_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("methodologies.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    family: Mapped[str] = mapped_column(String(32))
    formula_text: Mapped[str] = mapped_column(Text)
    # [{name, value: "97" (decimal string), unit, source, source_status, note?}]
    parameters: Mapped[list] = mapped_column(JSON)
    # {min_distance_km: "0.5", max_speed_kmh: "100", self_report: "review", ...}
    rules: Mapped[dict] = mapped_column(JSON)
    daily_cap_mg: Mapped[int | None] = mapped_column(BigInteger)
    effective_from: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    effective_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    change_note: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    seeded: Mapped[bool] = mapped_column(Boolean, default=False)
    drafted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    drafted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rejected_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    rejected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    retired_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Its filing record with the authority (备案), recorded once an approved version is filed;
    # set once, all together, and never changed (a database trigger, migration 0018).
    filing_number: Mapped[str | None] = mapped_column(String(64))
    filing_authority: Mapped[str | None] = mapped_column(String(200))
    filed_on: Mapped[dt.date | None] = mapped_column(Date)
    expert_review_ref: Mapped[str | None] = mapped_column(String(200))
    filed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    filed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def daily_cap_g(self) -> Decimal | None:
        """The per-citizen cap in grams per scheme day (None: no cap)."""
        return None if self.daily_cap_mg is None else Decimal(self.daily_cap_mg) / 1000

    methodology: Mapped[Methodology] = relationship(back_populates="versions", lazy="joined",
                                                    innerjoin=True)


class CatalogueRevision(db.Model):
    """One row whose token changes, by trigger, with every change to methodologies or their
    versions (migration 0012). Each process caches the versions in force under this token and
    reloads when it differs: a version approved or retired in one worker is seen by every other
    on its next request. A random token, not a counter, so a restored or reset database can
    never present a token that an older catalogue was cached under."""

    __tablename__ = "catalogue_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(36))


class MethodologyRetirement(db.Model):
    """A request to retire the in-force version of a scope that nothing takes over from (the
    scope would stop crediting): one person requests, another approves (retiring the version
    in the same transaction) or rejects. The CHECK refuses the requester as decider."""

    __tablename__ = "methodology_retirements"
    __table_args__ = (
        CheckConstraint(sql_in("status", RETIREMENT_STATUSES), name="known_status"),
        CheckConstraint("decided_by IS NULL OR decided_by <> requested_by", name="four_eyes"),
        CheckConstraint("(status = 'pending') = (decided_by IS NULL)",
                        name="decided_iff_not_pending"),
        Index("uq_methodology_retirements_one_pending", "methodology_version_id", unique=True,
              postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    methodology_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("methodology_versions.id"), index=True)
    # The end asked for (NULL: the moment of approval); never earlier than the approval.
    effective_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)

    version: Mapped[MethodologyVersion] = relationship(lazy="joined", innerjoin=True)
