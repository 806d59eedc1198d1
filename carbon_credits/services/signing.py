"""The service's signing key: Ed25519 (RFC 8032), documents signed as compact JWS with
`alg: EdDSA` (RFC 7515, RFC 8037) and the key's RFC 7638 thumbprint as `kid`.

Every key ever used stays published (`published_keys`, the JWKS at
`/.well-known/carbon-credits-keys`), so a document signed before a rotation still verifies.
The private half lives in `signing_keys`, encrypted with a key derived from the application
secret, like partner secrets: a database dump alone does not sign anything. A deployment with an
HSM or a cloud KMS would replace `_private_key` and `sign`; nothing else needs the private key.
"""
from __future__ import annotations

import base64
import functools
import json
import logging

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.api_jws import PyJWS
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from carbon_credits.domain import proofs
from carbon_credits.domain.errors import Conflict
from carbon_credits.services import keys
from carbon_credits.services.audit import record_audit
from carbon_credits.services.uow import unit_of_work
from models import SigningKey, db, utcnow

log = logging.getLogger(__name__)

ALGORITHM = "EdDSA"
_jws = PyJWS(algorithms=[ALGORITHM])


def _raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.Raw,
                                             serialization.PublicFormat.Raw)


def _new_key_row() -> SigningKey:
    private = Ed25519PrivateKey.generate()
    x = proofs.b64url(_raw_public(private))
    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    return SigningKey(kid=proofs.jwk_thumbprint(x), algorithm="Ed25519", public_key=x,
                      private_key_encrypted=keys.encrypt(raw.hex()), status="active",
                      created_at=utcnow())


@functools.lru_cache(maxsize=32)
def _decrypt(kid: str, encrypted: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(keys.decrypt(encrypted)))


def _private_key(row: SigningKey) -> Ed25519PrivateKey:
    return _decrypt(row.kid, bytes(row.private_key_encrypted))


def active_key() -> SigningKey:
    """The key documents are signed with now; the first call on a new deployment creates it.
    Two workers creating it at once: the partial unique index keeps one, the other reads it."""
    row = db.session.scalar(select(SigningKey).where(SigningKey.status == "active"))
    if row is not None:
        return row
    with unit_of_work():
        try:
            with db.session.begin_nested():
                db.session.add(_new_key_row())
        except IntegrityError:
            log.info("signing: another worker created the first key")
        row = db.session.scalar(select(SigningKey).where(SigningKey.status == "active"))
    return row


def sign(payload: dict) -> str:
    """`payload` as canonical JSON, signed with the active key: a compact JWS whose protected
    header is exactly {"alg":"EdDSA","kid":...}."""
    row = active_key()
    return _jws.encode(proofs.canonical_json(payload), _private_key(row), algorithm=ALGORITHM,
                       headers={"kid": row.kid, "typ": None})


def rotate_key(*, reason: str = "rotation") -> SigningKey:
    """Retire the active key (it stays published) and activate a new one."""
    with unit_of_work():
        now = utcnow()
        old = db.session.scalar(select(SigningKey).where(SigningKey.status == "active")
                                .with_for_update())
        if old is not None:
            done = db.session.execute(update(SigningKey)
                                      .where(SigningKey.kid == old.kid, SigningKey.status == "active")
                                      .values(status="retired", retired_at=now)).rowcount
            if done != 1:
                raise Conflict("The signing key changed meanwhile; try again.",
                               code="key_rotation_conflict")
        new = _new_key_row()
        try:
            with db.session.begin_nested():
                db.session.add(new)
        except IntegrityError:  # a rotation that committed while we waited activated its key
            raise Conflict("Another rotation activated a new key meanwhile.",
                           code="key_rotation_conflict") from None
        record_audit(action="signing_key.rotated", object_type="signing_key", object_id=new.kid,
                     actor_user_id=None,
                     details={"retired": old.kid if old else None, "reason": reason[:200]})
    return new


def _jwk(row: SigningKey) -> dict:
    return {"kty": "OKP", "crv": "Ed25519", "x": row.public_key, "kid": row.kid, "alg": ALGORITHM,
            "use": "sig", "status": row.status,
            "created_at": row.created_at.isoformat(),
            "retired_at": row.retired_at.isoformat() if row.retired_at else None}


def published_keys() -> dict:
    """Every key ever used, active first then newest first: a JWKS document (RFC 7517).
    `status`, `created_at` and `retired_at` are extra members JOSE libraries ignore."""
    active_key()
    rows = db.session.scalars(select(SigningKey).order_by(
        (SigningKey.status == "active").desc(), SigningKey.created_at.desc())).all()
    return {"keys": [_jwk(row) for row in rows]}


def public_key_of(kid: str) -> bytes | None:
    """Raw public key bytes of `kid`, for the service's own consistency checks."""
    row = db.session.get(SigningKey, kid)
    return None if row is None else _b64url_decode(row.public_key)


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify(token: str) -> dict:
    """Check a JWS we issued against the published key its `kid` names; returns the payload.
    Raises ValueError when it does not verify (the invariant checks use this)."""
    try:
        header = _jws.get_unverified_header(token)
        raw = public_key_of(str(header.get("kid")))
        if raw is None:
            raise ValueError("unknown kid")
        payload = _jws.decode(token, Ed25519PublicKey.from_public_bytes(raw), algorithms=[ALGORITHM])
    except Exception as exc:  # any decoding or signature failure is the same answer
        raise ValueError(f"signature does not verify: {exc}") from None
    return json.loads(payload)
