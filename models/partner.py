"""Partners (merchants and data operators), their signing secrets and citizens' bindings."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import UTCDateTime, db, utcnow

PARTNER_KINDS = ("merchant", "transit_operator", "charging_operator", "recycling_operator",
                 "enterprise_buyer")


class Partner(db.Model):
    __tablename__ = "partners"
    __table_args__ = (
        CheckConstraint("kind IN ('merchant', 'transit_operator', 'charging_operator', "
                        "'recycling_operator', 'enterprise_buyer')", name="known_kind"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(String(40), unique=True)
    suspended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    secrets: Mapped[list["PartnerSecret"]] = relationship(
        back_populates="partner", lazy="selectin", order_by="PartnerSecret.created_at")


class PartnerSecret(db.Model):
    """A signing secret, encrypted at rest; old ones stay valid until `expires_at` (grace)."""

    __tablename__ = "partner_secrets"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    partner: Mapped[Partner] = relationship(back_populates="secrets")


class SeenSignature(db.Model):
    """Replay protection when Redis is not configured: a signature is accepted once."""

    __tablename__ = "seen_signatures"

    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class Binding(db.Model):
    """A citizen's external identifier at a partner (card number, account), stored keyed-hashed."""

    __tablename__ = "bindings"
    __table_args__ = (
        UniqueConstraint("partner_id", "external_ref_hash", name="uq_bindings_partner_ref"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    external_ref_hash: Mapped[str] = mapped_column(String(64))
    # Last four characters only, so the citizen can tell their cards apart.
    external_ref_hint: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
