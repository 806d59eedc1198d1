"""A calculation's result and its step-by-step breakdown, and the activity numbers it reads.

Every credited action stores this breakdown: each parameter with its source, each input, each
intermediate value with its expression, and the rounded result.
"""
from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Mapping

from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.methodology.definition import Parameter
from carbon_credits.domain.methodology.units import (CANONICAL_UNIT, ROUNDING_RULE, factor_of,
                                                     text)
from carbon_credits.domain.vocabulary import MAX_PARAMETER_VALUE


@dataclasses.dataclass(frozen=True)
class Calculation:
    reduction_g: Decimal
    breakdown: list[dict]


# A parameter's step, worked out once per version: (the parameter, its canonical value, the
# fields of its breakdown step).
ParameterStep = tuple[Parameter, Decimal, dict]


def parameter_step(p: Parameter) -> ParameterStep:
    """What a parameter contributes to every breakdown of its version: it depends on nothing
    else, so a prepared version computes it once (prepared.prepare)."""
    fields = p.as_dict()
    canonical = p.canonical
    if factor_of(p.unit) != 1:
        fields["canonical_value"] = text(canonical)
        fields["canonical_unit"] = CANONICAL_UNIT[p.dimension]
    return p, canonical, fields


class Steps:
    """The breakdown being written: numbered steps, each returning the value it records.

    `parameter_steps` (by parameter name) are the version's parameter steps worked out in
    advance; without them each parameter step is worked out where it is written."""

    def __init__(self, parameter_steps: Mapping[str, ParameterStep] | None = None):
        self.items: list[dict] = []
        self.parameter_steps = parameter_steps or {}

    def add(self, kind: str, **fields) -> None:
        self.items.append({"step": len(self.items) + 1, "kind": kind, **fields})

    def parameter(self, p: Parameter) -> Decimal:
        known = self.parameter_steps.get(p.name)
        _, canonical, fields = known if known is not None and known[0] is p else parameter_step(p)
        self.items.append({"step": len(self.items) + 1, "kind": "parameter", **fields})
        return canonical

    def input(self, name: str, value: Decimal, unit: str) -> Decimal:
        self.add("input", name=name, value=text(value), unit=unit)
        return value

    def value(self, name: str, expression: str, value: Decimal, unit: str) -> Decimal:
        self.add("intermediate", name=name, expression=expression, value=text(value), unit=unit)
        return value

    def result(self, reduction: Decimal) -> Calculation:
        self.add("result", name="reduction_g", value=text(reduction), unit="gCO2e",
                 rounding=ROUNDING_RULE)
        return Calculation(reduction_g=reduction, breakdown=self.items)


def compact(breakdown: list[dict] | None) -> list[dict] | None:
    """What an action stores of its breakdown: each parameter step by name only (its value,
    unit and source are its version's, immutable once approved); every other step (the
    activity's inputs, the arithmetic, the result) as computed. About half the bytes."""
    if breakdown is None:
        return None
    return [{"step": s["step"], "kind": "parameter", "name": s["name"]}
            if s.get("kind") == "parameter" else s for s in breakdown]


def expand(stored: list[dict] | None, parameters: Mapping[str, Parameter]) -> list[dict] | None:
    """The breakdown as it was computed, from what an action stores (`compact`) and its
    version's parameters. A step stored whole (before compaction existed) is kept as it is."""
    if stored is None:
        return None
    return [{"step": s["step"], "kind": "parameter", **parameter_step(parameters[s["name"]])[2]}
            if s.get("kind") == "parameter" and len(s) == 3 else s for s in stored]


def read_input(activity: Mapping, name: str, *, integer: bool = False) -> Decimal:
    """A non-negative, bounded activity number the methodology needs; 422 naming the field."""
    value = activity.get(name)
    if value is None:
        raise ValidationFailed(f"activity.{name} is required by this methodology.",
                               errors={f"activity.{name}": ["Required by this methodology."]})
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ValidationFailed(f"activity.{name} must be a number.",
                               errors={f"activity.{name}": ["Must be a number."]})
    value = Decimal(value)
    if not value.is_finite() or value < 0 or value > MAX_PARAMETER_VALUE \
            or (integer and value != value.to_integral_value()):
        kind = "whole number" if integer else "number"
        raise ValidationFailed(f"activity.{name} must be a non-negative {kind}.",
                               errors={f"activity.{name}": [f"Must be a non-negative {kind}."]})
    return value
