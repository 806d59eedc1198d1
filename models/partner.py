"""Partners (merchants and data operators), their signing secrets and citizens' bindings."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (JSON, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String,
                        Text, Uuid, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carbon_credits.domain.vocabulary import (ACTION_TYPES, BINDING_STATUSES, PARTNER_KINDS,
                                            scope_mode_check, sql_in)

from carbon_credits.domain.regions import REGION_CODES

from .base import UTCDateTime, db, utcnow



class Partner(db.Model):
    __tablename__ = "partners"
    __table_args__ = (
        CheckConstraint(sql_in("kind", PARTNER_KINDS), name="known_kind"),
        CheckConstraint(sql_in("region", REGION_CODES), name="known_region"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(String(40), unique=True)
    suspended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The district its records count for when their station is not registered (NULL: city-wide,
    # the citizen's region decides), docs/districts.md.
    region: Mapped[str | None] = mapped_column(String(6))

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    secrets: Mapped[list["PartnerSecret"]] = relationship(
        back_populates="partner", lazy="selectin", order_by="PartnerSecret.created_at")
    # What it may report now (rows without an end); the history stays in partner_scopes.
    current_scopes: Mapped[list["PartnerScope"]] = relationship(
        primaryjoin="and_(Partner.id == PartnerScope.partner_id, PartnerScope.valid_until.is_(None))",
        lazy="selectin", viewonly=True, order_by="PartnerScope.action_type")


class PartnerSecret(db.Model):
    """A signing secret, encrypted at rest; old ones stay valid until `expires_at` (grace)."""

    __tablename__ = "partner_secrets"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    partner: Mapped[Partner] = relationship(back_populates="secrets")


class PartnerStation(db.Model):
    """A partner's station (charging post, recycling kiosk, shop till: `station_id` in its
    records) registered with the district it stands in. Changing it affects later records only."""

    __tablename__ = "partner_stations"
    __table_args__ = (
        CheckConstraint(sql_in("region", REGION_CODES), name="known_region"),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(6))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SeenSignature(db.Model):
    """Replay protection when Redis is not configured: a signature is accepted once."""

    __tablename__ = "seen_signatures"

    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class PartnerScope(db.Model):
    """One action type (and transit mode or everyday scene) a partner may report, over a period of time.

    The rows in force have no `valid_until`; an admin's change closes them and opens new ones,
    so `ledger verify` can tell what a partner was allowed to report when a record arrived."""

    __tablename__ = "partner_scopes"
    __table_args__ = (
        CheckConstraint(sql_in("action_type", ACTION_TYPES),
                        name="known_action_type"),
        CheckConstraint(scope_mode_check(mode_required=False), name="known_mode"),
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="valid_period"),
        Index("ix_partner_scopes_partner_period", "partner_id", "valid_from"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    action_type: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str | None] = mapped_column(String(16))  # NULL: every mode
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Binding(db.Model):
    """A citizen's card or account at a data partner (keyed-hashed), and their consent record.

    Pending until the operator confirms it with the citizen's one-time code; then active, and
    it covers actions whose instant lies in [covers_from, ended_at). Withdrawing consent or a
    changeover (the operator confirms the card for someone else) ends it; rows are never deleted.
    """

    __tablename__ = "bindings"
    __table_args__ = (
        # At most one citizen receives a card's records at a time.
        Index("uq_bindings_active_partner_ref", "partner_id", "external_ref_hash", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
        Index("ix_bindings_partner_ref", "partner_id", "external_ref_hash"),
        CheckConstraint(sql_in("status", BINDING_STATUSES),
                        name="known_status"),
        CheckConstraint("status NOT IN ('active', 'ended') OR granted_at IS NOT NULL",
                        name="granted_when_activated"),
        CheckConstraint("(status = 'withdrawn') = (withdrawn_at IS NOT NULL)",
                        name="withdrawn_iff_withdrawn_at"),
        CheckConstraint("status <> 'active' OR ended_at IS NULL", name="active_not_ended"),
        CheckConstraint("status <> 'ended' OR ended_at IS NOT NULL", name="ended_has_end"),
        CheckConstraint("status <> 'pending' OR (confirmation_code_hash IS NOT NULL "
                        "AND code_expires_at IS NOT NULL)", name="pending_has_code"),
        CheckConstraint("failed_confirmations BETWEEN 0 AND 100", name="failed_confirmations_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    external_ref_hash: Mapped[str] = mapped_column(String(64))
    # Last four characters only, so the citizen can tell their cards apart.
    external_ref_hint: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    # The one-time code the citizen gives the operator, keyed-hashed; cleared once used.
    confirmation_code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failed_confirmations: Mapped[int] = mapped_column(Integer, default=0)
    # The consent record (PIPL art. 14, 15, 29).
    purpose: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list] = mapped_column(JSON)  # action types consented to
    notice_version: Mapped[str] = mapped_column(String(16))
    granted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    covers_from: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A utility account is bound for a household (docs/households.md): its readings credit
    # the household's members; `user_id` is the member who asked and consented.
    household_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("households.id"))

    @property
    def shown_status(self) -> str:
        """A pending binding whose code has run out is shown as expired."""
        if self.status == "pending" and self.code_expires_at is not None \
                and self.code_expires_at <= utcnow():
            return "expired"
        return self.status
