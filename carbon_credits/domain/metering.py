"""Pure rules of household metering: monthly periods, the baseline a methodology version
defines from a meter's own history, and the exact split of a household's reduction among its
members (docs/households.md).

A reading is one meter's consumption over one calendar month of the scheme's time zone. The
baseline is computed from the same meter's earlier *actual* readings only (estimated ones are
never a reference): the same month of the previous year(s), or the trailing average of the
months just before. Without enough actual readings there is no baseline, and no credit.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from decimal import Decimal, localcontext
from typing import Mapping, Sequence

from carbon_credits.domain.methodology.definition import BASELINE_METHODS  # noqa: F401
from carbon_credits.domain.methodology.units import CONTEXT

PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_period(text: str) -> dt.date:
    """`2026-11` -> the first day of that month; ValueError otherwise."""
    match = PERIOD_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError("a period is a month written YYYY-MM")
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def period_text(period: dt.date) -> str:
    return f"{period.year:04d}-{period.month:02d}"


def add_months(period: dt.date, months: int) -> dt.date:
    index = period.year * 12 + period.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclasses.dataclass(frozen=True)
class Reading:
    """One month of one meter, as the baseline sees it."""

    period: dt.date
    consumption: Decimal
    estimated: bool


@dataclasses.dataclass(frozen=True)
class Baseline:
    value: Decimal
    periods: tuple[dt.date, ...]  # the actual readings it was computed from
    method: str

    @property
    def basis(self) -> str:
        """How it was computed, in the words of the breakdown."""
        used = ", ".join(period_text(p) for p in self.periods)
        return f"{self.method}: mean of {used}"


def reference_periods(method: str, period: dt.date, months: int) -> list[dt.date]:
    """The months a baseline of `method` looks at for `period`: the same month of each of the
    `months` previous years, or the `months` months just before it."""
    if method == "same_month_last_year":
        return [add_months(period, -12 * k) for k in range(1, months + 1)]
    if method == "trailing_average":
        return [add_months(period, -k) for k in range(1, months + 1)]
    raise ValueError(f"unknown baseline method {method!r}")


def baseline(*, method: str, months: int, min_readings: int, period: dt.date,
             history: Mapping[dt.date, Reading]) -> Baseline | None:
    """The mean of the actual readings among the reference periods, or None when fewer than
    `min_readings` of them are actual readings (missing or estimated ones do not count)."""
    used = [history[p] for p in reference_periods(method, period, months)
            if p in history and not history[p].estimated]
    if not used or len(used) < min_readings:
        return None
    with localcontext(CONTEXT):
        value = sum((r.consumption for r in used), Decimal(0)) / len(used)
    return Baseline(value=value, periods=tuple(r.period for r in used), method=method)


def split_mg(total_mg: int, weights: Sequence[tuple[uuid.UUID, int]]) -> dict[uuid.UUID, int]:
    """`total_mg` split in proportion to the weights, in whole milligrams that add up to it
    exactly: each member gets the floor of their share, and the milligrams left over go one by
    one to the largest remainders (ties: the lower member id). Nothing is lost or invented."""
    if total_mg < 0 or not weights or any(w <= 0 for _, w in weights):
        raise ValueError("a split needs a non-negative total and positive weights")
    if len({member for member, _ in weights}) != len(weights):
        raise ValueError("a member appears twice in the split")
    whole = sum(w for _, w in weights)
    shares = {member: total_mg * w // whole for member, w in weights}
    remainders = sorted(weights, key=lambda mw: (-(total_mg * mw[1] % whole), str(mw[0])))
    for member, _ in remainders[:total_mg - sum(shares.values())]:
        shares[member] += 1
    return shares
