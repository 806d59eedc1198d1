"""Methodology calculators: exact Decimal quantification with a step-by-step breakdown.

Pure Python. A methodology version is parsed into a `Definition` (family, typed parameters,
applicability rules); `calculate(definition, activity)` returns the reduction in grams CO2e and
the ordered breakdown; `check_applicability(definition, activity, channel=...)` says whether the
claim is acceptable, needs review or must be rejected.

Rounding rule (docs/methodologies.md): parameters are converted to grams-based units exactly
(by powers of ten), every intermediate value is computed in a 60-digit decimal context (exact
for sums and products of the inputs; the one division, EV kWh -> km, is correct to 60
significant digits), and the reduction is rounded once, at the end, to 0.001 g with
ROUND_HALF_EVEN. A reduction is never negative. Points are the rounded grams times the scheme's
points-per-gram, rounded down to a whole point (`points_for`).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import (ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, DivisionByZero,
                     InvalidOperation, Overflow, localcontext)
from typing import Any, Mapping

from carbon_credits.domain.errors import Conflict, StaleRevision, ValidationFailed  # noqa: F401 (re-exported)
from carbon_credits.domain.vocabulary import (ACTION_TYPES, CALCULATOR_FAMILIES, CHANNELS, GRAMS,  # noqa: F401
                                            MAX_PARAMETER_VALUE as MAX_VALUE, SELF_REPORT_POLICIES,
                                            SOURCE_STATUSES, TRANSIT_MODES, VERSION_STATUSES,
                                            WASTE_CATEGORIES)

ROUNDING_RULE = "rounded once at the end to 0.001 g, ROUND_HALF_EVEN"
_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN,
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
}
CANONICAL_UNIT = {"g_per_km": "gCO2e/km", "g_per_trip": "gCO2e/trip", "kwh_per_km": "kWh/km",
                  "l_per_km": "L/km", "g_per_l": "gCO2/L", "g_per_kwh": "gCO2/kWh",
                  "g_per_kg": "gCO2e/kg"}

# Which families may serve which action type.
FAMILIES = {
    "transit_distance": "transit",
    "transit_boarding": "transit",
    "ev_charging": "ev_charging",
    "recyclables": "waste_sorting",
}
DEFAULT_FORMULAS = {
    "transit_distance": "ER = RF × distance_km  (or ER = (EF_baseline − EF_mode) × distance_km)",
    "transit_boarding": "ER = RF_trip × boardings",
    "ev_charging": "km = energy_kwh / EC_ev; BE = km × FC_ice × EF_fuel; "
                   "PE = energy_kwh × EF_grid; ER = max(BE − PE, 0)",
    "recyclables": "ER = weight_kg × EF_<category>",
}
# What a claim must carry for each family, and what the family may also use. The pipeline asks
# this of the version in force (`required_inputs`), so the inputs of a scope follow its
# methodology: a per-boarding bus scope needs boardings and a time, a per-km one a distance and
# both times. `occurred_at` stands for the action's instant: sent, or the `ended_at` of a
# windowed action (which is then its instant). A field in neither set is stored, not used.
INPUTS = {
    "transit_distance": {"required": ("distance_km", "started_at", "ended_at"),
                         "optional": ()},
    "transit_boarding": {"required": ("boardings", "occurred_at"),
                         "optional": ("started_at", "ended_at", "distance_km")},
    "ev_charging": {"required": ("energy_kwh", "started_at", "ended_at", "station_id"),
                    "optional": ()},
    "recyclables": {"required": ("category", "weight_kg", "station_id", "occurred_at"),
                    "optional": ()},
}
# Bounded activity quantities an applicability rule may name as min_<q> / max_<q>.
BOUNDED_QUANTITIES = {"distance_km": "km", "speed_kmh": "km/h", "energy_kwh": "kWh",
                      "weight_kg": "kg", "boardings": "boardings", "duration_min": "min"}
# `basis`: why these bounds, evidence policy and cap (no published figures exist for them).
RULE_KEYS = {f"{side}_{q}" for q in BOUNDED_QUANTITIES for side in ("min", "max")} | {
    "self_report", "basis"}
PARAMETER_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")


def required_inputs(family: str) -> dict[str, tuple[str, ...]]:
    """{"required": (...), "optional": (...)}: the claim fields a family needs and may use."""
    if family not in INPUTS:
        raise ValueError(f"unknown family {family}")
    return {key: tuple(names) for key, names in INPUTS[family].items()}


def missing_inputs(family: str, present: set[str]) -> list[str]:
    """The required fields of `family` absent from `present` (names of the fields sent)."""
    return [name for name in required_inputs(family)["required"] if name not in present]


class RevisionRequired(ValidationFailed):
    """A draft edit must name the revision it was based on (If-Match)."""

    code = "if_match_required"
    title = "Precondition required"
    http_status = 428


@dataclasses.dataclass(frozen=True)
class Parameter:
    name: str
    value: Decimal
    unit: str
    source: str
    source_status: str
    note: str | None = None

    @property
    def dimension(self) -> str:
        return UNITS[self.unit][0]

    @property
    def canonical(self) -> Decimal:
        with localcontext(_CONTEXT):
            return self.value * UNITS[self.unit][1]

    def as_dict(self) -> dict:
        data = {"name": self.name, "value": _text(self.value), "unit": self.unit,
                "source": self.source, "source_status": self.source_status}
        if self.note:
            data["note"] = self.note
        return data


@dataclasses.dataclass(frozen=True)
class Rules:
    bounds: Mapping[str, tuple[Decimal | None, Decimal | None]]
    self_report: str = "review"
    basis: str | None = None

    def as_dict(self) -> dict:
        data: dict[str, Any] = {}
        for quantity, (low, high) in sorted(self.bounds.items()):
            if low is not None:
                data[f"min_{quantity}"] = _text(low)
            if high is not None:
                data[f"max_{quantity}"] = _text(high)
        data["self_report"] = self.self_report
        if self.basis:
            data["basis"] = self.basis
        return data


@dataclasses.dataclass(frozen=True)
class Definition:
    family: str
    parameters: Mapping[str, Parameter]
    rules: Rules

    def parameter(self, name: str) -> Parameter:
        return self.parameters[name]


@dataclasses.dataclass(frozen=True)
class Calculation:
    reduction_g: Decimal
    breakdown: list[dict]


@dataclasses.dataclass(frozen=True)
class Reason:
    code: str
    message: str
    outcome: str  # "reject" or "review"

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "outcome": self.outcome}


def _text(value: Decimal) -> str:
    return format(value, "f")


def quantise_grams(value: Decimal) -> Decimal:
    """The single rounding step: grams to 0.001 with ROUND_HALF_EVEN."""
    return value.quantize(GRAMS, rounding=ROUND_HALF_EVEN)


def points_for(reduction_g: Decimal, points_per_gram: int) -> int:
    """Whole points for a reduction: grams × points_per_gram, rounded down (never over-credit)."""
    if reduction_g < 0 or points_per_gram < 0:
        raise ValueError("reduction and points_per_gram must not be negative")
    return int((reduction_g * points_per_gram).to_integral_value(rounding=ROUND_FLOOR))


# --- parsing stored / submitted definitions -------------------------------------------------

def _decimal(value, where: str, errors: dict) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        errors[where] = ["Must be a decimal number (as a string or JSON number)."]
        return None
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        errors[where] = ["Not a valid decimal number."]
        return None
    if not number.is_finite() or number < 0 or number > MAX_VALUE:
        errors[where] = [f"Must be a finite number between 0 and {MAX_VALUE:f}."]
        return None
    if number.as_tuple().exponent < -12:
        errors[where] = ["At most 12 decimal places."]
        return None
    return number


def _required(family: str, names: set[str]) -> list[tuple[str, str]] | str:
    """(name, dimension) pairs the family needs given the parameter names present."""
    if family == "transit_distance":
        if "RF" in names:
            return [("RF", "g_per_km")]
        if {"EF_baseline", "EF_mode"} <= names:
            return [("EF_baseline", "g_per_km"), ("EF_mode", "g_per_km")]
        return "needs RF, or EF_baseline and EF_mode"
    if family == "transit_boarding":
        return [("RF_trip", "g_per_trip")]
    if family == "ev_charging":
        return [("EC_ev", "kwh_per_km"), ("FC_ice", "l_per_km"), ("EF_fuel", "g_per_l"),
                ("EF_grid", "g_per_kwh")]
    if family == "recyclables":
        found = [(f"EF_{c}", "g_per_kg") for c in WASTE_CATEGORIES if f"EF_{c}" in names]
        return found or "needs at least one EF_<category> (" + ", ".join(WASTE_CATEGORIES) + ")"
    return "unknown family"


def parse_definition(*, family: str, parameters: list, rules: Mapping | None,
                     action_type: str | None = None) -> Definition:
    """Validate a version's family, parameters and applicability rules; 422 with field errors."""
    errors: dict[str, list[str]] = {}
    if family not in FAMILIES:
        raise ValidationFailed(f"family must be one of {', '.join(FAMILIES)}",
                               errors={"family": ["Unknown calculator family."]})
    if action_type is not None and FAMILIES[family] != action_type:
        raise ValidationFailed(f"family {family} does not serve action type {action_type}",
                               errors={"family": [f"Not usable for {action_type}."]})
    parsed: dict[str, Parameter] = {}
    if not isinstance(parameters, list) or not parameters:
        errors["parameters"] = ["Must be a non-empty list."]
        parameters = []
    for i, item in enumerate(parameters):
        where = f"parameters.{i}"
        if not isinstance(item, Mapping):
            errors[where] = ["Must be an object."]
            continue
        unknown = set(item) - {"name", "value", "unit", "source", "source_status", "note"}
        if unknown:
            errors[where] = [f"Unknown field(s): {', '.join(sorted(unknown))}."]
            continue
        name = item.get("name")
        if not isinstance(name, str) or not PARAMETER_NAME_RE.match(name):
            errors[f"{where}.name"] = ["Must be an identifier such as RF or EF_grid."]
            continue
        if name in parsed:
            errors[f"{where}.name"] = [f"Duplicate parameter {name}."]
            continue
        value = _decimal(item.get("value"), f"{where}.value", errors)
        unit = item.get("unit")
        if unit not in UNITS:
            errors[f"{where}.unit"] = ["Unknown unit; one of " + ", ".join(UNITS) + "."]
        source = item.get("source")
        if not isinstance(source, str) or not source.strip() or len(source) > 1000:
            errors[f"{where}.source"] = ["Every parameter needs its source (1-1000 characters)."]
        status = item.get("source_status")
        if status not in SOURCE_STATUSES:
            errors[f"{where}.source_status"] = ["One of " + ", ".join(SOURCE_STATUSES) + "."]
        note = item.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > 2000):
            errors[f"{where}.note"] = ["At most 2000 characters."]
        if value is None or unit not in UNITS or f"{where}.source" in errors \
                or f"{where}.source_status" in errors or f"{where}.note" in errors:
            continue
        parsed[name] = Parameter(name=name, value=value, unit=unit, source=source.strip(),
                                 source_status=status, note=note or None)
    if not errors:
        needed = _required(family, set(parsed))
        if isinstance(needed, str):
            errors["parameters"] = [f"Family {family} {needed}."]
        else:
            for name, dimension in needed:
                if name not in parsed:
                    errors["parameters"] = [f"Family {family} needs parameter {name}."]
                elif parsed[name].dimension != dimension:
                    errors["parameters"] = [f"{name} has unit {parsed[name].unit}; needs a "
                                            f"{CANONICAL_UNIT[dimension]} unit."]
            if not errors and family == "ev_charging" and parsed["EC_ev"].value == 0:
                errors["parameters"] = ["EC_ev must be greater than 0."]
            if not errors and family == "transit_distance" and "RF" not in parsed \
                    and parsed["EF_mode"].canonical > parsed["EF_baseline"].canonical:
                errors["parameters"] = ["EF_mode exceeds EF_baseline: no reduction to claim."]
            if not errors:
                used = {n for n, _ in needed}
                extra = set(parsed) - used
                if family == "recyclables":
                    extra -= {f"EF_{c}" for c in WASTE_CATEGORIES}
                if extra:
                    errors["parameters"] = [f"Unused parameter(s) for {family}: "
                                            + ", ".join(sorted(extra)) + "."]
    parsed_rules = _parse_rules(rules, errors)
    if errors:
        first = next(iter(errors.items()))
        raise ValidationFailed(f"{first[0]}: {first[1][0]}", errors=errors)
    return Definition(family=family, parameters=parsed, rules=parsed_rules)


def _parse_rules(rules: Mapping | None, errors: dict) -> Rules:
    rules = {} if rules is None else rules
    if not isinstance(rules, Mapping):
        errors["applicability"] = ["Must be an object."]
        return Rules(bounds={})
    unknown = set(rules) - RULE_KEYS
    if unknown:
        errors["applicability"] = [f"Unknown rule(s): {', '.join(sorted(unknown))}."]
        return Rules(bounds={})
    bounds: dict[str, tuple[Decimal | None, Decimal | None]] = {}
    for quantity in BOUNDED_QUANTITIES:
        low = high = None
        if rules.get(f"min_{quantity}") is not None:
            low = _decimal(rules[f"min_{quantity}"], f"applicability.min_{quantity}", errors)
        if rules.get(f"max_{quantity}") is not None:
            high = _decimal(rules[f"max_{quantity}"], f"applicability.max_{quantity}", errors)
        if low is not None and high is not None and low > high:
            errors[f"applicability.max_{quantity}"] = [f"Must not be below min_{quantity}."]
        if low is not None or high is not None:
            bounds[quantity] = (low, high)
    self_report = rules.get("self_report", "review")
    if self_report not in SELF_REPORT_POLICIES:
        errors["applicability.self_report"] = ["One of " + ", ".join(SELF_REPORT_POLICIES) + "."]
    basis = rules.get("basis")
    if basis is not None and (not isinstance(basis, str) or len(basis) > 2000):
        errors["applicability.basis"] = ["At most 2000 characters."]
        basis = None
    return Rules(bounds=bounds, self_report=self_report, basis=(basis or "").strip() or None)


# --- calculation --------------------------------------------------------------------------

def _input(activity: Mapping, name: str, *, integer: bool = False) -> Decimal:
    value = activity.get(name)
    if value is None:
        raise ValidationFailed(f"activity.{name} is required by this methodology.",
                               errors={f"activity.{name}": ["Required by this methodology."]})
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ValidationFailed(f"activity.{name} must be a number.",
                               errors={f"activity.{name}": ["Must be a number."]})
    value = Decimal(value)
    if not value.is_finite() or value < 0 or value > MAX_VALUE \
            or (integer and value != value.to_integral_value()):
        kind = "whole number" if integer else "number"
        raise ValidationFailed(f"activity.{name} must be a non-negative {kind}.",
                               errors={f"activity.{name}": [f"Must be a non-negative {kind}."]})
    return value


class _Steps:
    def __init__(self):
        self.items: list[dict] = []

    def add(self, kind: str, **fields) -> None:
        self.items.append({"step": len(self.items) + 1, "kind": kind, **fields})

    def parameter(self, p: Parameter) -> Decimal:
        fields = p.as_dict()
        canonical = p.canonical
        if UNITS[p.unit][1] != 1:
            fields["canonical_value"] = _text(canonical)
            fields["canonical_unit"] = CANONICAL_UNIT[p.dimension]
        self.add("parameter", **fields)
        return canonical

    def input(self, name: str, value: Decimal, unit: str) -> Decimal:
        self.add("input", name=name, value=_text(value), unit=unit)
        return value

    def value(self, name: str, expression: str, value: Decimal, unit: str) -> Decimal:
        self.add("intermediate", name=name, expression=expression, value=_text(value), unit=unit)
        return value


def calculate(definition: Definition, activity: Mapping[str, Any]) -> Calculation:
    """The reduction in grams CO2e (quantised to 0.001) and every step that produced it."""
    steps = _Steps()
    params = definition.parameters
    with localcontext(_CONTEXT):
        if definition.family == "transit_distance":
            distance = _input(activity, "distance_km")
            if "RF" in params:
                rf = steps.parameter(params["RF"])
                steps.input("distance_km", distance, "km")
                er = steps.value("ER", "RF × distance_km", rf * distance, "gCO2e")
            else:
                baseline = steps.parameter(params["EF_baseline"])
                mode = steps.parameter(params["EF_mode"])
                steps.input("distance_km", distance, "km")
                be = steps.value("BE", "EF_baseline × distance_km", baseline * distance, "gCO2e")
                pe = steps.value("PE", "EF_mode × distance_km", mode * distance, "gCO2e")
                er = steps.value("ER", "max(BE − PE, 0)", max(be - pe, ZERO), "gCO2e")
        elif definition.family == "transit_boarding":
            rf_trip = steps.parameter(params["RF_trip"])
            # No default: a boarding count nobody sent would be invented, not measured.
            boardings = steps.input("boardings", _input(activity, "boardings", integer=True),
                                    "boardings")
            er = steps.value("ER", "RF_trip × boardings", rf_trip * boardings, "gCO2e")
        elif definition.family == "ev_charging":
            ec = steps.parameter(params["EC_ev"])
            fc = steps.parameter(params["FC_ice"])
            ef_fuel = steps.parameter(params["EF_fuel"])
            ef_grid = steps.parameter(params["EF_grid"])
            kwh = steps.input("energy_kwh", _input(activity, "energy_kwh"), "kWh")
            km = steps.value("km", "energy_kwh / EC_ev", kwh / ec, "km")
            be = steps.value("BE", "km × FC_ice × EF_fuel", km * fc * ef_fuel, "gCO2e")
            pe = steps.value("PE", "energy_kwh × EF_grid", kwh * ef_grid, "gCO2e")
            er = steps.value("ER", "max(BE − PE, 0)", max(be - pe, ZERO), "gCO2e")
        elif definition.family == "recyclables":
            category = activity.get("category")
            name = f"EF_{category}"
            if not isinstance(category, str) or name not in params:
                covered = sorted(n[3:] for n in params)
                raise ValidationFailed(
                    f"activity.category must be one of {', '.join(covered)}",
                    errors={"activity.category": ["Not covered by this methodology."]})
            ef = steps.parameter(params[name])
            weight = _input(activity, "weight_kg")
            steps.add("input", name="category", value=category, unit=None)
            steps.input("weight_kg", weight, "kg")
            er = steps.value("ER", f"weight_kg × {name}", weight * ef, "gCO2e")
        else:  # pragma: no cover - parse_definition refuses unknown families
            raise ValidationFailed(f"unknown family {definition.family}")
        er = max(er, ZERO)
    reduction = quantise_grams(er)
    steps.add("result", name="reduction_g", value=_text(reduction), unit="gCO2e",
              rounding=ROUNDING_RULE)
    return Calculation(reduction_g=reduction, breakdown=steps.items)


# --- applicability ------------------------------------------------------------------------

def _duration_minutes(activity: Mapping) -> Decimal | None:
    started, ended = activity.get("started_at"), activity.get("ended_at")
    if not isinstance(started, dt.datetime) or not isinstance(ended, dt.datetime):
        return None
    delta = ended - started
    with localcontext(_CONTEXT):
        seconds = Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 10**6
        return seconds / 60


def check_applicability(definition: Definition, activity: Mapping[str, Any], *,
                        channel: str) -> list[Reason]:
    """Reasons the claim cannot simply be credited: each rejects it or sends it to review.

    An empty list means the methodology applies as claimed. `channel` is `partner` (operator
    data) or `app` (a citizen's self-report, subject to the version's `self_report` policy).
    Bounds are checked on the quantities present; average speed needs distance and both times
    (a self-report without times goes to review; operator records are trusted without them).
    """
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {CHANNELS}")
    reasons: list[Reason] = []
    rules = definition.rules
    if channel == "app" and rules.self_report != "allowed":
        if rules.self_report == "refused":
            reasons.append(Reason("self_report_refused",
                                  "This methodology accepts operator data only.", "reject"))
        else:
            reasons.append(Reason("self_report_review",
                                  "Self-reported claims for this scope need an auditor's review.",
                                  "review"))
    if definition.family == "recyclables":
        category = activity.get("category")
        if f"EF_{category}" not in definition.parameters:
            reasons.append(Reason("category_not_covered",
                                  f"Category {category!r} is not covered by this methodology.",
                                  "reject"))
    values: dict[str, Decimal] = {}
    for name in ("distance_km", "energy_kwh", "weight_kg", "boardings"):
        value = activity.get(name)
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            values[name] = Decimal(value)
    duration = _duration_minutes(activity)
    if duration is not None:
        if duration <= 0:
            reasons.append(Reason("bad_time_window", "ended_at must be after started_at.",
                                  "reject"))
        else:
            values["duration_min"] = duration
            if "distance_km" in values:
                with localcontext(_CONTEXT):
                    values["speed_kmh"] = values["distance_km"] * 60 / duration
    for quantity, (low, high) in rules.bounds.items():
        value = values.get(quantity)
        unit = BOUNDED_QUANTITIES[quantity]
        if value is None:
            if quantity == "speed_kmh" and channel == "app" and "distance_km" in values \
                    and duration is None:
                reasons.append(Reason("speed_unverifiable",
                                      "Average speed cannot be checked without started_at and "
                                      "ended_at.", "review"))
            continue
        shown = quantise_grams(value).normalize() if quantity == "speed_kmh" else value
        if low is not None and value < low:
            reasons.append(Reason(f"{quantity.rsplit('_', 1)[0]}_out_of_bounds",
                                  f"{quantity} {shown:f} is below the minimum {low:f} {unit}.",
                                  "reject"))
        elif high is not None and value > high:
            reasons.append(Reason(f"{quantity.rsplit('_', 1)[0]}_out_of_bounds",
                                  f"{quantity} {shown:f} is above the maximum {high:f} {unit}.",
                                  "reject"))
    return reasons


def decide(reasons: list[Reason]) -> str:
    """`reject` if any reason rejects, else `review` if any asks for review, else `accept`."""
    outcomes = {r.outcome for r in reasons}
    return "reject" if "reject" in outcomes else "review" if "review" in outcomes else "accept"


# --- version diff -------------------------------------------------------------------------

def diff_snapshots(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict]:
    """Field-by-field changes from snapshot `a` to `b`; parameters are compared by name."""
    changes: list[dict] = []
    for key in sorted(set(a) | set(b)):
        if key == "parameters":
            pa = {p["name"]: p for p in a.get(key) or []}
            pb = {p["name"]: p for p in b.get(key) or []}
            for name in sorted(set(pa) | set(pb)):
                if name not in pb:
                    changes.append({"field": f"parameters.{name}", "change": "removed",
                                    "from": pa[name], "to": None})
                elif name not in pa:
                    changes.append({"field": f"parameters.{name}", "change": "added",
                                    "from": None, "to": pb[name]})
                else:
                    for attr in sorted(set(pa[name]) | set(pb[name])):
                        if pa[name].get(attr) != pb[name].get(attr):
                            changes.append({"field": f"parameters.{name}.{attr}",
                                            "change": "changed", "from": pa[name].get(attr),
                                            "to": pb[name].get(attr)})
        elif key == "applicability":
            ra, rb = a.get(key) or {}, b.get(key) or {}
            for rule in sorted(set(ra) | set(rb)):
                if ra.get(rule) != rb.get(rule):
                    changes.append({"field": f"applicability.{rule}", "change": "changed",
                                    "from": ra.get(rule), "to": rb.get(rule)})
        elif a.get(key) != b.get(key):
            changes.append({"field": key, "change": "changed", "from": a.get(key),
                            "to": b.get(key)})
    return changes
