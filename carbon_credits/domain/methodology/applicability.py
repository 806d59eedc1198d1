"""Applicability: whether a claim fits a methodology version as claimed, one check per rule.

Each check gives the reasons it finds; a reason rejects the claim or sends it to review, and
`decide` turns the list into accept, review or reject.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal, localcontext
from typing import Any, Mapping

from carbon_credits.domain.methodology.definition import BOUNDED_QUANTITIES, Definition
from carbon_credits.domain.methodology.families import family_of
from carbon_credits.domain.methodology.reasons import Reason
from carbon_credits.domain.methodology.units import CONTEXT, quantise_grams
from carbon_credits.domain.vocabulary import CHANNELS

# The activity numbers a bound may apply to as sent; duration and speed are derived.
MEASURED_QUANTITIES = ("distance_km", "energy_kwh", "weight_kg", "boardings", "events")


@dataclasses.dataclass(frozen=True)
class BoundCheck:
    """One bound of a version's rules with the words of its reason (the same for every claim,
    so a prepared version works them out once); the value is formatted only when it fails."""

    quantity: str
    low: Decimal | None
    high: Decimal | None
    unit: str
    code: str

    def reason(self, value: Decimal) -> Reason | None:
        if self.low is not None and value < self.low:
            return Reason(self.code, f"{self.quantity} {self._shown(value):f} is below the "
                          f"minimum {self.low:f} {self.unit}.", "reject")
        if self.high is not None and value > self.high:
            return Reason(self.code, f"{self.quantity} {self._shown(value):f} is above the "
                          f"maximum {self.high:f} {self.unit}.", "reject")
        return None

    def _shown(self, value: Decimal) -> Decimal:
        return quantise_grams(value).normalize() if self.quantity == "speed_kmh" else value


def bound_checks(bounds: Mapping[str, tuple[Decimal | None, Decimal | None]],
                 ) -> tuple[BoundCheck, ...]:
    """The bounds of a version's rules, in the rules' order."""
    return tuple(BoundCheck(quantity, low, high, BOUNDED_QUANTITIES[quantity],
                            f"{quantity.rsplit('_', 1)[0]}_out_of_bounds")
                 for quantity, (low, high) in bounds.items())


def check_applicability(definition: Definition, activity: Mapping[str, Any], *, channel: str,
                        bounds: tuple[BoundCheck, ...] | None = None) -> list[Reason]:
    """Reasons the claim cannot simply be credited: each rejects it or sends it to review.

    An empty list means the methodology applies as claimed. `channel` is `partner` (operator
    data) or `app` (a citizen's self-report, subject to the version's `self_report` policy).
    Bounds are checked on the quantities present; average speed needs distance and both times
    (a self-report without times goes to review; operator records are trusted without them).
    `bounds` are the definition's `bound_checks`, when worked out in advance.
    """
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {CHANNELS}")
    reasons = _self_report_reasons(definition.rules.self_report, channel)
    family = family_of(definition)
    uncovered = family.coverage_reason(definition, activity) if family else None
    if uncovered is not None:
        reasons.append(uncovered)
    values = _measured(activity)
    duration = _duration_minutes(activity)
    if duration is not None:
        if duration <= 0:
            reasons.append(Reason("bad_time_window", "ended_at must be after started_at.",
                                  "reject"))
        else:
            values.update(_timed(values, duration))
    if bounds is None:
        bounds = bound_checks(definition.rules.bounds)
    return reasons + _bounds_reasons(bounds, values, duration, channel)


def _self_report_reasons(policy: str, channel: str) -> list[Reason]:
    """Operator data is trusted; a citizen's self-report follows the version's policy."""
    if channel != "app" or policy == "allowed":
        return []
    if policy == "refused":
        return [Reason("self_report_refused", "This methodology accepts operator data only.",
                       "reject")]
    return [Reason("self_report_review",
                   "Self-reported claims for this scope need an auditor's review.", "review")]


def _measured(activity: Mapping[str, Any]) -> dict[str, Decimal]:
    values: dict[str, Decimal] = {}
    for name in MEASURED_QUANTITIES:
        value = activity.get(name)
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            values[name] = Decimal(value)
    return values


def _duration_minutes(activity: Mapping) -> Decimal | None:
    started, ended = activity.get("started_at"), activity.get("ended_at")
    if not isinstance(started, dt.datetime) or not isinstance(ended, dt.datetime):
        return None
    delta = ended - started
    with localcontext(CONTEXT):
        seconds = Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 10**6
        return seconds / 60


def _timed(values: Mapping[str, Decimal], duration: Decimal) -> dict[str, Decimal]:
    """Duration, and the average speed when the distance is known too."""
    timed = {"duration_min": duration}
    if "distance_km" in values:
        with localcontext(CONTEXT):
            timed["speed_kmh"] = values["distance_km"] * 60 / duration
    return timed


def _bounds_reasons(bounds: tuple[BoundCheck, ...], values: Mapping[str, Decimal],
                    duration: Decimal | None, channel: str) -> list[Reason]:
    """Each bounded quantity present checked against its bounds, in the rules' order."""
    reasons: list[Reason] = []
    for bound in bounds:
        value = values.get(bound.quantity)
        if value is None:
            if bound.quantity == "speed_kmh" and _speed_unverifiable(values, duration, channel):
                reasons.append(Reason("speed_unverifiable",
                                      "Average speed cannot be checked without started_at and "
                                      "ended_at.", "review"))
            continue
        reason = bound.reason(value)
        if reason is not None:
            reasons.append(reason)
    return reasons


def _speed_unverifiable(values: Mapping[str, Decimal], duration: Decimal | None,
                        channel: str) -> bool:
    """A self-reported distance without its times: its speed bound cannot be checked."""
    return channel == "app" and "distance_km" in values and duration is None
