"""Argon2id password hashing (argon2-cffi), with rehash when parameters change."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2-cffi's defaults (argon2id, 64 MiB, t=3, p=4) exceed OWASP's minimum. Tests use the
# OWASP minimum itself (19 MiB, t=2, p=1) to keep the suite quick.
_hasher = PasswordHasher()


def configure(*, fast: bool) -> None:
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(memory_cost=19456, time_cost=2, parallelism=1) if fast else PasswordHasher()
    _dummy_hash = _hasher.hash("not-a-real-password")


_dummy_hash = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists (no account enumeration by timing)."""
    try:
        return _hasher.verify(password_hash or _dummy_hash, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


# The password policy, in one place (register, change, reset, the command line).
MIN_LENGTH = 10
MAX_LENGTH = 128
