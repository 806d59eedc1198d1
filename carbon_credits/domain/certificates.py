"""Pure rules of the certified-reduction registry: units, serial numbers and range splitting."""
from __future__ import annotations

import dataclasses
import re
from decimal import Decimal

REGISTRY_CODE = "CC"
DEFAULT_UNIT_MG = 1_000_000  # one serial = 1 kg CO2e
MG_PER_TONNE = 10**9
SERIAL_DIGITS = 9
_SERIAL_RE = re.compile(r"^(?P<registry>[A-Z]{2})-(?P<code>[A-Za-z0-9][A-Za-z0-9-]{0,63})-(?P<year>\d{4})"
                        r"-(?P<first>\d{9,15})(?:-(?P<last>\d{9,15}))?$")


def issuable_units(verified_mg: int, unit_mg: int) -> tuple[int, int]:
    """Whole units issuable from `verified_mg`, rounded down, and the unissued remainder."""
    if unit_mg <= 0 or verified_mg < 0:
        raise ValueError("unit and verified grams must be positive")
    return verified_mg // unit_mg, verified_mg % unit_mg


def tonnes(mg: int) -> Decimal:
    """Milligrams as tonnes CO2e, exact (1 t = 10^9 mg)."""
    return (Decimal(mg) / MG_PER_TONNE).quantize(Decimal("0.000000001"))


def format_serial(code: str, year: int, number: int) -> str:
    """One unit: `CC-SH-METRO-2026-000000042`."""
    return f"{REGISTRY_CODE}-{code}-{year:04d}-{number:0{SERIAL_DIGITS}d}"


def format_range(code: str, year: int, first: int, last: int) -> str:
    """A run of units: `CC-SH-METRO-2026-000000001-000000040` (a single unit has no range)."""
    if first == last:
        return format_serial(code, year, first)
    return f"{format_serial(code, year, first)}-{last:0{SERIAL_DIGITS}d}"


@dataclasses.dataclass(frozen=True)
class ParsedSerial:
    code: str
    year: int
    first: int
    last: int


def parse_serial(text: str) -> ParsedSerial:
    """A serial or serial range as formatted above; ValueError if it is not one."""
    match = _SERIAL_RE.match(text or "")
    if match is None or match["registry"] != REGISTRY_CODE:
        raise ValueError(f"not a serial: {text!r}")
    first = int(match["first"])
    last = int(match["last"]) if match["last"] else first
    if first < 1 or last < first:
        raise ValueError(f"not a serial range: {text!r}")
    return ParsedSerial(match["code"], int(match["year"]), first, last)


def carve(start: int, end: int, take_start: int, take_end: int) -> list[tuple[int, int, bool]]:
    """Split the block [start, end] around the taken part [take_start, take_end] (clipped to
    the block): pieces in serial order as (first, last, taken)."""
    lo, hi = max(start, take_start), min(end, take_end)
    if lo > hi:
        return [(start, end, False)]
    pieces = []
    if start < lo:
        pieces.append((start, lo - 1, False))
    pieces.append((lo, hi, True))
    if hi < end:
        pieces.append((hi + 1, end, False))
    return pieces
