"""Vouchers: their codes, their expiry, and which ledger hold agrees with a voucher's status.

Codes: 10 characters of Crockford base32 from `secrets`, about 50 bits.

Unguessable (a merchant's staff would need ~2^49 tries per live voucher, and codes of other
merchants answer 404 like unknown ones), short enough to read out or type at a till, and
tolerant of the usual misreadings: case, spaces and dashes are ignored, I and L read as 1, O as 0.
Stored canonical (`ABCDE12345`), shown grouped (`ABCDE-12345`).

Expiry: a reservation holds its points for HOLD_TTL_MINUTES, never past the reward's window; from
its `expires_at` on it is expired (merchants can no longer confirm it, the expiry job releases
it). The services state the same instant in SQL (`expires_at <= now` expired, `> now` live).
"""
from __future__ import annotations

import datetime as dt
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


# --- expiry ---------------------------------------------------------------------------------

def reservation_expires_at(reserved_at: dt.datetime, hold_ttl_minutes: int,
                           reward_valid_until: dt.datetime) -> dt.datetime:
    """When a reservation made at `reserved_at` expires: after the hold's time to live, or when
    the reward's window closes, whichever is first."""
    return min(reserved_at + dt.timedelta(minutes=hold_ttl_minutes), reward_valid_until)


def is_expired(expires_at: dt.datetime, now: dt.datetime) -> bool:
    """A reservation is expired from its `expires_at` on (that instant included)."""
    return expires_at <= now


def withdrawn_status(expires_at: dt.datetime, now: dt.datetime) -> str:
    """What a reservation closed without a merchant becomes (erasure closes them all): expired
    if overdue, cancelled otherwise."""
    return "expired" if is_expired(expires_at, now) else "cancelled"


# --- a voucher's status and its ledger hold -------------------------------------------------

# The hold statuses that agree with each redemption status: a reservation's hold is pending
# (or already expired by the ledger), a redeemed one's posted to the merchant, a cancelled one's
# voided; an expired reservation's hold expired or was voided.
HOLD_STATUSES_BY_REDEMPTION = {"reserved": ("pending", "expired"), "redeemed": ("posted",),
                               "cancelled": ("voided",), "expired": ("expired", "voided")}


def hold_agrees(*, status: str, points: int, hold_status: str, hold_amount: int) -> bool:
    """A redemption's hold is in a status its own status allows, for exactly its points."""
    return hold_status in HOLD_STATUSES_BY_REDEMPTION[status] and hold_amount == points
