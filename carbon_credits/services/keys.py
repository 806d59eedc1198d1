"""Purpose-bound keys derived from the application secret (HKDF-SHA256)."""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_secret: str | None = None


def configure(secret_key: str) -> None:
    global _secret
    _secret = secret_key
    _fernet.cache_clear()
    derive_key.cache_clear()


@functools.lru_cache(maxsize=16)
def derive_key(purpose: str) -> bytes:
    if _secret is None:
        raise RuntimeError("keys.configure() was not called")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"carbon-credits",
                info=purpose.encode()).derive(_secret.encode())


@functools.lru_cache(maxsize=1)
def _fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key("partner-secrets")))


def encrypt(plaintext: str) -> bytes:
    return _fernet().encrypt(plaintext.encode())


def decrypt(token: bytes) -> str:
    return _fernet().decrypt(bytes(token)).decode()


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 hex: a leaked table of these does not reveal the values."""
    return hmac.new(derive_key(purpose), value.encode(), hashlib.sha256).hexdigest()
