"""Pure ledger rules: lot allocation, clawback caps, calendar months, the hash-chain link."""
from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json

from carbon_credits.domain.vocabulary import MAX_BALANCE_POINTS, MAX_POINTS as MAX_TRANSFER_POINTS  # noqa: F401

GENESIS_HASH = "0" * 64


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """Same day and time `months` later; the 31st becomes the last day of a shorter month."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def allocate_fifo(lots: list[tuple[object, int]], amount: int) -> list[tuple[object, int]]:
    """Take `amount` from `(lot_id, remaining)` pairs in the order given (oldest first).

    Returns `(lot_id, taken)` for each lot touched. The caller guarantees the lots cover it.
    """
    if amount <= 0:
        return []
    taken: list[tuple[object, int]] = []
    left = amount
    for lot_id, remaining in lots:
        if left == 0:
            break
        take = min(remaining, left)
        if take > 0:
            taken.append((lot_id, take))
            left -= take
    if left:
        raise ValueError(f"lots short by {left} points")
    return taken


def clawback(*, earned: int, available: int) -> tuple[int, int]:
    """A reversal takes back what is left, never more: `(clawed_back, shortfall)`."""
    clawed = max(0, min(earned, available))
    return clawed, earned - clawed


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def canonical_transfer(fields: dict) -> str:
    """The canonical text a seal covers: sorted keys, UTC times, ids as strings."""
    normalised = {}
    for key, value in fields.items():
        if isinstance(value, dt.datetime):
            value = _iso(value)
        elif value is not None and not isinstance(value, (int, str)):
            value = str(value)
        normalised[key] = value
    return json.dumps(normalised, sort_keys=True, separators=(",", ":"))


def chain_hash(prev_hash: str, canonical: str) -> str:
    """One link: sha256 over the previous link's hash and the transfer's canonical content."""
    return hashlib.sha256((prev_hash + "\n" + canonical).encode()).hexdigest()
