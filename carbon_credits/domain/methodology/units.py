"""Units of methodology parameters, the exact arithmetic context and the one rounding step.

Rounding rule (docs/methodologies.md): parameters are converted to grams-based units exactly
(by powers of ten), every intermediate value is computed in a 60-digit decimal context (exact
for sums and products of the inputs; the one division, EV kWh -> km, is correct to 60
significant digits), and the reduction is rounded once, at the end, to 0.001 g with
ROUND_HALF_EVEN. A reduction is never negative. Points are the rounded grams times the scheme's
points-per-gram, rounded down to a whole point (`points_for`).
"""
from __future__ import annotations

from decimal import (ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, DivisionByZero,
                     InvalidOperation, Overflow)

from carbon_credits.domain.vocabulary import GRAMS

ROUNDING_RULE = "rounded once at the end to 0.001 g, ROUND_HALF_EVEN"
CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN,
                  traps=[InvalidOperation, DivisionByZero, Overflow])
ZERO = Decimal(0)

# unit -> (dimension, factor to the canonical unit of that dimension)
UNITS: dict[str, tuple[str, Decimal]] = {
    "gCO2/km": ("g_per_km", Decimal(1)),
    "gCO2e/km": ("g_per_km", Decimal(1)),
    "gCO2/passenger-km": ("g_per_km", Decimal(1)),
    "kgCO2/km": ("g_per_km", Decimal(1000)),
    "kgCO2/passenger-km": ("g_per_km", Decimal(1000)),
    "gCO2/trip": ("g_per_trip", Decimal(1)),
    "gCO2e/trip": ("g_per_trip", Decimal(1)),
    "kgCO2/trip": ("g_per_trip", Decimal(1000)),
    "kWh/km": ("kwh_per_km", Decimal(1)),
    "kWh/100km": ("kwh_per_km", Decimal("0.01")),
    "L/km": ("l_per_km", Decimal(1)),
    "L/100km": ("l_per_km", Decimal("0.01")),
    "gCO2/L": ("g_per_l", Decimal(1)),
    "kgCO2/L": ("g_per_l", Decimal(1000)),
    "gCO2/kWh": ("g_per_kwh", Decimal(1)),
    "kgCO2/kWh": ("g_per_kwh", Decimal(1000)),
    "gCO2e/kg": ("g_per_kg", Decimal(1)),
    "kgCO2e/kg": ("g_per_kg", Decimal(1000)),
    "kgCO2/kg": ("g_per_kg", Decimal(1000)),
    "tCO2e/t": ("g_per_kg", Decimal(1000)),
    "gCO2e/event": ("g_per_event", Decimal(1)),
    "gCO2/event": ("g_per_event", Decimal(1)),
    "kgCO2e/event": ("g_per_event", Decimal(1000)),
    "kg/event": ("kg_per_event", Decimal(1)),
    "g/event": ("kg_per_event", Decimal("0.001")),
    "gCO2/m3": ("g_per_m3", Decimal(1)),
    "gCO2e/m3": ("g_per_m3", Decimal(1)),
    "kgCO2/m3": ("g_per_m3", Decimal(1000)),
    "fraction": ("fraction", Decimal(1)),
    "%": ("fraction", Decimal("0.01")),
}
CANONICAL_UNIT = {"g_per_km": "gCO2e/km", "g_per_trip": "gCO2e/trip", "kwh_per_km": "kWh/km",
                  "l_per_km": "L/km", "g_per_l": "gCO2/L", "g_per_kwh": "gCO2/kWh",
                  "g_per_kg": "gCO2e/kg", "g_per_event": "gCO2e/event",
                  "kg_per_event": "kg/event", "g_per_m3": "gCO2e/m3", "fraction": "fraction"}


def dimension_of(unit: str) -> str:
    return UNITS[unit][0]


def factor_of(unit: str) -> Decimal:
    """What one `unit` is in the canonical unit of its dimension (a power of ten)."""
    return UNITS[unit][1]


def text(value: Decimal) -> str:
    """A Decimal as plain digits, never in exponent notation."""
    return format(value, "f")


def quantise_grams(value: Decimal) -> Decimal:
    """The single rounding step: grams to 0.001 with ROUND_HALF_EVEN."""
    return value.quantize(GRAMS, rounding=ROUND_HALF_EVEN)


def points_for(reduction_g: Decimal, points_per_gram: int) -> int:
    """Whole points for a reduction: grams × points_per_gram, rounded down (never over-credit)."""
    if reduction_g < 0 or points_per_gram < 0:
        raise ValueError("reduction and points_per_gram must not be negative")
    return int((reduction_g * points_per_gram).to_integral_value(rounding=ROUND_FLOOR))
