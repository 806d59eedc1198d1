"""Users, their roles, and the tokens issued to them."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (BigInteger, CheckConstraint, ForeignKey, Index, String, Text,
                        Uuid, Boolean, false, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carbon_credits.domain.regions import REGION_CODES
from carbon_credits.domain.roles import AccountState
from carbon_credits.domain.vocabulary import (LEADERBOARD_VISIBILITIES, ONE_TIME_CODE_PURPOSES,
                                            PRIVILEGED_ROLES, ROLE_GRANT_STATUSES, ROLES, sql_in)

from .base import UTCDateTime, db, utcnow

_PRIVILEGED = sql_in("role", PRIVILEGED_ROLES)
_KNOWN_REGION = sql_in("region", REGION_CODES)  # NULL passes: no region / city-wide
# Only admins and auditors can be scoped to a district (docs/districts.md).
_REGIONAL_ROLE = "region IS NULL OR role IN ('admin', 'auditor')"


class User(AccountState, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        # An erased account keeps its row (the ledger and actions point at it) but no identifier.
        CheckConstraint("email IS NOT NULL OR phone IS NOT NULL OR erased_at IS NOT NULL",
                        name="has_identifier"),
        CheckConstraint(sql_in("leaderboard_visibility", LEADERBOARD_VISIBILITIES),
                        name="known_leaderboard_visibility"),
        CheckConstraint(_KNOWN_REGION, name="known_region"),
        CheckConstraint("NOT merchant_lead OR partner_id IS NOT NULL", name="lead_has_merchant"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    # Merchant staff belong to exactly one merchant partner.
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("partners.id"))
    # The merchant's lead: manages the merchant's staff (docs/merchants.md); set by an admin.
    merchant_lead: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    suspended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the owner proved they receive mail or SMS at the identifier (POST /auth/verify);
    # unverified accounts log in but cannot bind cards or redeem.
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    leaderboard_visibility: Mapped[str] = mapped_column(String(16), default="named",
                                                        server_default="named")
    # DELETE /me: identifiers, name and binding references gone; the row stays for the ledger.
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The district the citizen chose (GB/T 2260 code, docs/districts.md) and since when; the
    # history, which decides the region of an action at its instant, is in `user_regions`.
    region: Mapped[str | None] = mapped_column(String(6))
    region_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    roles: Mapped[list["UserRole"]] = relationship(
        back_populates="user", lazy="selectin", cascade="all, delete-orphan")

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}

    @property
    def staff_region(self) -> str | None:
        """The district this admin or auditor is scoped to (None: city-wide)."""
        return next((r.region for r in self.roles if r.region), None)



class UserRole(db.Model):
    __tablename__ = "user_roles"
    __table_args__ = (
        CheckConstraint(sql_in("role", ROLES), name="known_role"),
        # Separation of duties: at most one of admin, auditor and verifier per account.
        Index("uq_user_roles_one_privileged_role", "user_id", unique=True,
              postgresql_where=text(_PRIVILEGED), sqlite_where=text(_PRIVILEGED)),
        CheckConstraint(_KNOWN_REGION, name="known_region"),
        CheckConstraint(_REGIONAL_ROLE, name="regional_role"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                               primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    # An admin or auditor scoped to one district (NULL: city-wide), docs/roles.md.
    region: Mapped[str | None] = mapped_column(String(6))
    user: Mapped[User] = relationship(back_populates="roles")


class RoleGrant(db.Model):
    """A request to give someone `admin`, `auditor` or `verifier`: one admin requests, another
    approves (adding the role in the same transaction) or rejects; the requester may cancel it.
    The CHECKs keep the three people apart even if a caller skips the service."""

    __tablename__ = "role_grants"
    __table_args__ = (
        CheckConstraint(_PRIVILEGED, name="privileged_role"),
        CheckConstraint(sql_in("status", ROLE_GRANT_STATUSES),
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
        CheckConstraint(_KNOWN_REGION, name="known_region"),
        CheckConstraint(_REGIONAL_ROLE, name="regional_role"),
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
    # The district the role is scoped to once approved (NULL: city-wide).
    region: Mapped[str | None] = mapped_column(String(6))


class UserRegion(db.Model):
    """The history of a citizen's chosen region: one row per period, the current one open
    (`valid_until` NULL). An action counts for the region in force at its instant."""

    __tablename__ = "user_regions"
    __table_args__ = (
        CheckConstraint(_KNOWN_REGION, name="known_region"),
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="valid_period"),
        Index("ix_user_regions_user_from", "user_id", "valid_from"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    region: Mapped[str | None] = mapped_column(String(6))  # NULL: the citizen cleared it
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


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


class AuthSession(db.Model):
    """One login: the family of refresh tokens it rotates through, and the access tokens issued
    with them (claim `fam`). Revoking the session stops both at once."""

    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    family_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                               index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Until when the newest refresh token of the family is valid.
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    user_agent: Mapped[str | None] = mapped_column(String(256))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # logout | refresh_reuse | password_changed | password_reset | revoked_by_user | erased | suspended
    # | idle_timeout (a console session left alone too long)
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class OneTimeCode(db.Model):
    """A code sent to the owner of an identifier (verification, password reset). Only its HMAC
    is kept; it expires, works once, and dies after a few wrong tries."""

    __tablename__ = "one_time_codes"
    __table_args__ = (
        CheckConstraint(sql_in("purpose", ONE_TIME_CODE_PURPOSES), name="known_purpose"),
        CheckConstraint("failed_attempts BETWEEN 0 AND 100", name="failed_attempts_range"),
        Index("ix_one_time_codes_user_purpose", "user_id", "purpose"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    # Registering again on an unverified identifier: the password chosen then, which takes
    # effect only when this code is used (so whoever registered first cannot keep the account).
    new_password_hash: Mapped[str | None] = mapped_column(String(255))
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ThrottleCounter(db.Model):
    """Attempt counters for throttling when Redis is not configured: one row per key and fixed
    window, shared by every worker (never counted per process)."""

    __tablename__ = "throttle_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # unix seconds
    count: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
