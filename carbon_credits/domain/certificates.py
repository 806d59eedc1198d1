"""Pure rules of the certified-reduction registry: units, serial numbers and range splitting,
a lot's period, settlement and summary, choosing serials to move, and the registry's
invariants as arithmetic on serial ranges."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal

from carbon_credits.domain.actions import scheme_day
from carbon_credits.domain.vocabulary import mg_to_grams

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


# --- lots -----------------------------------------------------------------------------------

# Blocks that hold serials now; a superseded block was split into others.
LIVE_BLOCK_STATUSES = ("active", "retired")


def period_errors(period_from: dt.date, period_to: dt.date) -> dict[str, list[str]]:
    """Why a lot's period is not valid (empty if it is): it runs forwards and lies within one
    calendar year, its vintage."""
    if period_to < period_from:
        return {"period_to": ["Must not be before period_from."]}
    if period_to.year != period_from.year:
        return {"period_to": ["A lot's period lies within one calendar year (its vintage)."]}
    return {}


def last_settled_day(at: dt.datetime, review_period_days: int, timezone: str) -> dt.date:
    """The last scheme day a lot issued at `at` may cover: closed (before today in the scheme's
    time zone), and its review period over, so reversals of fraud found in review still can
    happen."""
    return scheme_day(at, timezone) - dt.timedelta(days=1 + review_period_days)


def lot_summary(*, code: str, version: int, period_from: dt.date, period_to: dt.date,
                action_count: int, verified_mg: int, unit_mg: int, quantity: int,
                remainder_mg: int, first: int, last: int) -> dict:
    """The frozen summary of a lot, as issued: its terms, grams and serials (strings, exact)."""
    issued_mg = quantity * unit_mg
    return {
        "methodology": {"code": code, "version": version},
        "period": {"from": period_from.isoformat(), "to": period_to.isoformat()},
        "vintage_year": period_from.year,
        "action_count": action_count,
        "verified_g": format(mg_to_grams(verified_mg), "f"),
        "unit_g": format(mg_to_grams(unit_mg), "f"),
        "quantity": quantity,
        "issued_g": format(mg_to_grams(issued_mg), "f"),
        "issued_tco2e": format(tonnes(issued_mg), "f"),
        "remainder_unissued_g": format(mg_to_grams(remainder_mg), "f"),
        "serials": format_range(code, period_from.year, first, last),
    }


# --- choosing serials to move ---------------------------------------------------------------

def lowest_serials(blocks: Sequence[tuple[int, int]], quantity: int) -> list[tuple[int, int, int]]:
    """The `quantity` lowest serials of blocks given in serial order as (serial_start, quantity):
    parts (block index, first, last), taking each block whole before the next. ValueError if
    the blocks hold fewer."""
    if quantity < 0 or sum(size for _, size in blocks) < quantity:
        raise ValueError(f"the blocks hold fewer than {quantity} serials")
    parts, left = [], quantity
    for index, (start, size) in enumerate(blocks):
        if left == 0:
            break
        take = min(left, size)
        parts.append((index, start, start + take - 1))
        left -= take
    return parts


def is_serial_of_lot(parsed: ParsedSerial, *, code: str, year: int, serial_start: int,
                     serial_end: int) -> bool:
    """One serial (not a range) of the lot with these terms and serials."""
    return (parsed.code, parsed.year) == (code, year) and parsed.first == parsed.last \
        and serial_start <= parsed.first <= serial_end


def range_in_lot(parsed: ParsedSerial, *, code: str, year: int, serial_end: int) -> bool:
    """Whether a serial range whose first serial lies in a lot (found by it) is all of that lot:
    same methodology code and vintage, and not running past the lot's last serial."""
    return (code, year) == (parsed.code, parsed.year) and parsed.last <= serial_end


# --- registry invariants --------------------------------------------------------------------

def overlapping_neighbours(ranges: Sequence[tuple[int, int]]) -> list[int]:
    """Indices i of ranges (sorted by start) that share serials with range i - 1."""
    return [i for i in range(1, len(ranges)) if ranges[i][0] <= ranges[i - 1][1]]


def contiguous_run(first: int, ranges: Sequence[tuple[int, int]]) -> tuple[int, bool]:
    """Walk ranges (in serial order) that should tile serials from `first` on without gap or
    overlap: the serial after the contiguous run, and whether every range belonged to it (if
    not, the run stopped at that serial: a gap or an overlap there)."""
    expected = first
    for start, end in ranges:
        if start != expected:
            return expected, False
        expected = end + 1
    return expected, True


def lot_issues_within_verified(*, issued_mg: int, quantity: int, unit_mg: int,
                               verified_mg: int) -> bool:
    """A lot issues whole units only, never more grams than its actions verified."""
    return issued_mg == quantity * unit_mg and issued_mg <= verified_mg
