"""Users, their roles, and the tokens issued to them."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (BigInteger, CheckConstraint, ForeignKey, Index, String, Text,
                        Uuid, Boolean, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import UTCDateTime, db, utcnow

ROLES = ("citizen", "merchant", "admin", "auditor")
# Granted only four-eyes (role_grants) and never held together by one account.
PRIVILEGED_ROLES = ("admin", "auditor")
STAFF_ROLES = ("merchant", "admin", "auditor")
ROLE_GRANT_STATUSES = ("pending", "approved", "rejected", "cancelled")
_PRIVILEGED = "role IN ('admin', 'auditor')"


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email IS NOT NULL OR phone IS NOT NULL", name="has_identifier"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    # Merchant staff belong to exactly one merchant partner.
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("partners.id"))
    suspended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    roles: Mapped[list["UserRole"]] = relationship(
        back_populates="user", lazy="selectin", cascade="all, delete-orphan")

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}

    @property
    def sorted_roles(self) -> list[str]:
        return sorted(self.role_names)

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None


class UserRole(db.Model):
    __tablename__ = "user_roles"
    __table_args__ = (
        CheckConstraint("role IN ('citizen', 'merchant', 'admin', 'auditor')", name="known_role"),
        # Separation of duties: at most one of admin and auditor per account.
        Index("uq_user_roles_one_privileged_role", "user_id", unique=True,
              postgresql_where=text(_PRIVILEGED), sqlite_where=text(_PRIVILEGED)),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                               primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    user: Mapped[User] = relationship(back_populates="roles")


class RoleGrant(db.Model):
    """A request to give someone `admin` or `auditor`: one admin requests, another approves
    (adding the role in the same transaction) or rejects; the requester may cancel it. The
    CHECKs keep the three people apart even if a caller skips the service."""

    __tablename__ = "role_grants"
    __table_args__ = (
        CheckConstraint(_PRIVILEGED, name="privileged_role"),
        CheckConstraint("status IN ('pending', 'approved', 'rejected', 'cancelled')",
                        name="known_status"),
        CheckConstraint("requested_by <> user_id", name="not_for_oneself"),
        CheckConstraint("decided_by IS NULL OR decided_by <> requested_by", name="four_eyes"),
        CheckConstraint("decided_by IS NULL OR decided_by <> user_id", name="not_by_grantee"),
        CheckConstraint("(status IN ('approved', 'rejected')) = (decided_by IS NOT NULL)",
                        name="decided_by_iff_decided"),
        CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name="closed_has_time"),
        Index("uq_role_grants_one_pending", "user_id", "role", unique=True,
              postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
        Index("ix_role_grants_requested", "requested_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)


class RefreshToken(db.Model):
    """One row per issued refresh token; a family is one login's chain of rotations."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family_id", "family_id"),)

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                               index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RevokedAccessToken(db.Model):
    """The authoritative access-token denylist; Redis only caches it."""

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
