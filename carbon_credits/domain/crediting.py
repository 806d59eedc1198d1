"""Crediting policy as pure rules: which methodology version is in force, whether a claim is
in time, which status its reasons lead to, how much of a reduction a daily cap lets through,
and how many points a credit is worth.

The claim pipeline (`services/actions`) and the review approval both call these; nothing else
restates them. Pure: no database, no framework.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Iterable, Mapping, Protocol, TypeVar

from carbon_credits.domain.methodology import points_for
from carbon_credits.domain.vocabulary import IN_FORCE_STATUSES, mg_to_grams


class VersionWindow(Protocol):
    status: str
    effective_from: dt.datetime | None
    effective_until: dt.datetime | None


V = TypeVar("V", bound=VersionWindow)


def is_in_force(version: VersionWindow, at: dt.datetime) -> bool:
    """Approved (or retired, until its end) and `effective_from <= at < effective_until`."""
    return (version.status in IN_FORCE_STATUSES and version.effective_from is not None
            and version.effective_from <= at
            and (version.effective_until is None or at < version.effective_until))


def version_in_force(versions: Iterable[V], at: dt.datetime) -> V | None:
    """The version of one scope in force at `at`: an action of last March gets last March's
    version, even if another was approved since. Windows of one scope never overlap (the
    database refuses it), so at most one matches; the latest start wins if data were ever bad."""
    matching = [v for v in versions if is_in_force(v, at)]
    return max(matching, key=lambda v: v.effective_from, default=None)


# --- reasons and the status they decide ----------------------------------------------------

def reason(code: str, message: str, outcome: str = "reject") -> dict:
    """A reason stored on an action; `outcome` says what it does: reject, review or info."""
    return {"code": code, "message": message, "outcome": outcome}


def decide_status(reasons: Iterable[Mapping[str, Any]]) -> str:
    """The status a claim's reasons lead to, before overlap and the cap are looked at: any
    reject rejects, else any review sends it to an auditor, else it is credited."""
    outcomes = {r["outcome"] for r in reasons}
    if "reject" in outcomes:
        return "rejected"
    if "review" in outcomes:
        return "pending_review"
    return "credited"


# --- the claim window ----------------------------------------------------------------------

def within_claim_window(*, occurred_at: dt.datetime, now: dt.datetime, window_days: int) -> bool:
    """A claim may arrive up to `window_days` after its action; the boundary instant is in."""
    return occurred_at >= now - dt.timedelta(days=window_days)


def claim_window_reason(*, occurred_at: dt.datetime, now: dt.datetime,
                        window_days: int) -> dict | None:
    """The `claim_window_expired` rejection, or None while the claim is in time."""
    if within_claim_window(occurred_at=occurred_at, now=now, window_days=window_days):
        return None
    return reason("claim_window_expired", f"Claims must arrive within {window_days} days of the action.")


# --- the daily cap and points ----------------------------------------------------------------

def allowed_under_cap(*, reduction_mg: int, used_mg: int, cap_mg: int | None) -> int:
    """How much of a reduction may still be credited today: the rest is recorded as capped."""
    if cap_mg is None:
        return reduction_mg
    return max(0, min(reduction_mg, cap_mg - used_mg))


def daily_cap_reason(*, cap_mg: int, scope: str, uncredited_mg: int) -> dict:
    """The one `daily_cap_reached` note, on the pipeline's credits and on approvals alike."""
    return reason("daily_cap_reached",
                  f"Daily cap of {mg_to_grams(cap_mg)} g for {scope} reached: "
                  f"{mg_to_grams(uncredited_mg)} g not credited.", "info")


def points_for_mg(credited_mg: int, points_per_gram: int) -> int:
    """Whole points for credited milligrams (the grams rule of `methodology.points_for`)."""
    return points_for(mg_to_grams(credited_mg), points_per_gram)


@dataclasses.dataclass(frozen=True)
class Credit:
    """What a reduction earns against a scope's daily cap."""

    credited_mg: int
    points: int
    cap_reason: dict | None  # the daily_cap_reached note when the cap held some back


def credit(*, reduction_mg: int, used_mg: int, cap_mg: int | None, scope: str,
           points_per_gram: int) -> Credit:
    """Credit a reduction when `used_mg` of the day's cap is taken already."""
    credited_mg = allowed_under_cap(reduction_mg=reduction_mg, used_mg=used_mg, cap_mg=cap_mg)
    cap_reason = None
    if credited_mg < reduction_mg:
        cap_reason = daily_cap_reason(cap_mg=cap_mg, scope=scope,
                                      uncredited_mg=reduction_mg - credited_mg)
    return Credit(credited_mg, points_for_mg(credited_mg, points_per_gram), cap_reason)
