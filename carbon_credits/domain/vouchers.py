"""Voucher codes: 10 characters of Crockford base32 from `secrets`, about 50 bits.

Unguessable (a merchant's staff would need ~2^49 tries per live voucher, and codes of other
merchants answer 404 like unknown ones), short enough to read out or type at a till, and
tolerant of the usual misreadings: case, spaces and dashes are ignored, I and L read as 1, O as 0.
Stored canonical (`ABCDE12345`), shown grouped (`ABCDE-12345`).
"""
from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
LENGTH = 10
GROUP = 5
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})
_SEPARATORS = str.maketrans("", "", " -_\t")


def new_code() -> str:
    """A fresh canonical code (uniqueness is the database's job: a UNIQUE constraint)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def display(code: str) -> str:
    """`ABCDE12345` -> `ABCDE-12345`."""
    return "-".join(code[i:i + GROUP] for i in range(0, len(code), GROUP))


def normalise(text: str) -> str | None:
    """What a person typed -> the canonical code, or None if it cannot be one."""
    if not isinstance(text, str) or len(text) > 32:
        return None
    code = text.translate(_SEPARATORS).upper().translate(_READ_AS)
    if len(code) != LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code
