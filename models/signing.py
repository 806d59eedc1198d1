"""The service's signing keys and the chain heads it signed. See docs/verification.md.

Rules the database keeps by itself:
- at most one key is active (`uq_signing_keys_one_active`, a partial unique index), and a
  retired key says when it was retired;
- published chain heads are append-only (migration 0021): once a head is out, a later rewrite
  of the ledger contradicts it instead of replacing it.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import UTCDateTime, db, utcnow


class SigningKey(db.Model):
    """An Ed25519 key pair. The private half is stored encrypted with a key derived from the
    application secret (like partner secrets); the public half is published for good, also
    after rotation, so documents signed with it stay checkable."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'retired')", name="known_status"),
        CheckConstraint("(status = 'active') = (retired_at IS NULL)", name="retired_iff_dated"),
        CheckConstraint("algorithm IN ('Ed25519')", name="known_algorithm"),
        Index("uq_signing_keys_one_active", "status", unique=True,
              postgresql_where=text("status = 'active'"), sqlite_where=text("status = 'active'")),
    )

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)  # RFC 7638 thumbprint
    algorithm: Mapped[str] = mapped_column(String(16), default="Ed25519")
    public_key: Mapped[str] = mapped_column(String(64))  # the JWK "x": base64url, 32 bytes
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SignedChainHead(db.Model):
    """The ledger's chain head as the sealer signed it after a seal that added links."""

    __tablename__ = "signed_chain_heads"
    __table_args__ = (
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint("transfers_sealed >= 1", name="sealed_something"),
    )

    position: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                          primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    transfers_sealed: Mapped[int] = mapped_column(Integer)
    sealed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    kid: Mapped[str] = mapped_column(String(64), ForeignKey("signing_keys.kid"))
    jws: Mapped[str] = mapped_column(Text)
