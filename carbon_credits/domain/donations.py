"""Pure rules of donations to public-good projects: what a project may still take, how its
progress is written, and whether a project's books agree with the ledger."""
from __future__ import annotations

from decimal import ROUND_DOWN, Decimal


def donation_refusal(*, status: str, donated: int, target: int, points: int) -> tuple[str, str] | None:
    """Why a project cannot take `points` now, as (code, message); None when it can.

    A project takes gifts while open and only up to its target: points given beyond what the
    project needs would leave citizens' balances for nothing."""
    if status != "open":
        return "project_not_open", f"The project is {status}; it takes no more donations."
    remaining = target - donated
    if points > remaining:
        return "exceeds_target", (f"The project needs {remaining} more points; "
                                  f"a gift of {points} would pass its target.")
    return None


def status_after(*, donated: int, target: int) -> str:
    """A project that reaches its target is completed."""
    return "completed" if donated >= target else "open"


def progress_percent(*, donated: int, target: int) -> str:
    """Progress as a percent with two decimals, rounded down (100.00 only when it is met)."""
    if target <= 0:
        raise ValueError("target must be positive")
    return format((Decimal(donated) * 100 / Decimal(target)).quantize(Decimal("0.01"), ROUND_DOWN), "f")


def project_problems(*, name: str, donated_points: int, donations: int,
                     transferred: int, donated_total: int, donation_count: int) -> list[str]:
    """A project's running total against its `donate` transfers and its donation rows."""
    problems = []
    if donated_points != transferred:
        problems.append(f"{name}: donated_points {donated_points} but its account received "
                        f"{transferred}")
    if (donated_points, donations) != (donated_total, donation_count):
        problems.append(f"{name}: {donated_points} points in {donations} donations recorded, "
                        f"the donations table holds {donated_total} in {donation_count}")
    return problems
