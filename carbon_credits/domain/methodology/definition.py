"""A methodology version's definition: typed parameters with their sources, and applicability
rules; and the parsing of both from stored or submitted JSON, family aside (families.py checks
which parameters a family needs).

Parsing collects every field error into one dict, in the order the fields were read: the first
error becomes the detail of the 422 and the whole dict its `errors`.
"""
from __future__ import annotations

import dataclasses
import re
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any, Mapping

from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.methodology.units import (CONTEXT, UNITS, dimension_of, factor_of,
                                                     text)
from carbon_credits.domain.vocabulary import (MAX_PARAMETER_VALUE, SELF_REPORT_POLICIES,
                                            SOURCE_STATUSES)

# Bounded activity quantities an applicability rule may name as min_<q> / max_<q>.
BOUNDED_QUANTITIES = {"distance_km": "km", "speed_kmh": "km/h", "energy_kwh": "kWh",
                      "weight_kg": "kg", "boardings": "boardings", "duration_min": "min",
                      "events": "events", "consumption": "units"}
# Rules only some families take (each family names its own, families.Family.own_rules):
# `max_events_per_day`, a per-event scene's daily count cap (families.PerEvent); the baseline of
# a metered household (families.MeteredBaseline, domain/metering): its method, how many months
# or years it looks back, and how many actual readings it needs at least.
FAMILY_RULES = ("max_events_per_day", "baseline_method", "baseline_months",
                "min_baseline_readings")
# `basis`: why these bounds, evidence policy and cap (no published figures exist for them).
RULE_KEYS = {f"{side}_{q}" for q in BOUNDED_QUANTITIES for side in ("min", "max")} | {
    "self_report", "basis", *FAMILY_RULES}
MAX_EVENTS_PER_DAY = 1000
MAX_BASELINE_MONTHS = 24
BASELINE_METHODS = ("same_month_last_year", "trailing_average")
PARAMETER_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
PARAMETER_FIELDS = {"name", "value", "unit", "source", "source_status", "note"}

Errors = dict[str, list[str]]


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
        return dimension_of(self.unit)

    @property
    def canonical(self) -> Decimal:
        with localcontext(CONTEXT):
            return self.value * factor_of(self.unit)

    def as_dict(self) -> dict:
        data = {"name": self.name, "value": text(self.value), "unit": self.unit,
                "source": self.source, "source_status": self.source_status}
        if self.note:
            data["note"] = self.note
        return data


@dataclasses.dataclass(frozen=True)
class Rules:
    bounds: Mapping[str, tuple[Decimal | None, Decimal | None]]
    self_report: str = "review"
    basis: str | None = None
    max_events_per_day: int | None = None
    baseline_method: str | None = None
    baseline_months: int | None = None
    min_baseline_readings: int | None = None

    def family_rules(self) -> set[str]:
        """The family-specific rules set (FAMILY_RULES)."""
        return {name for name in FAMILY_RULES if getattr(self, name) is not None}

    def as_dict(self) -> dict:
        data: dict[str, Any] = {}
        for quantity, (low, high) in sorted(self.bounds.items()):
            if low is not None:
                data[f"min_{quantity}"] = text(low)
            if high is not None:
                data[f"max_{quantity}"] = text(high)
        data["self_report"] = self.self_report
        for name in sorted(self.family_rules()):
            data[name] = getattr(self, name)
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


def parse_decimal(value, where: str, errors: Errors) -> Decimal | None:
    """A bounded non-negative decimal (string or JSON number), or None with errors[where] set."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        errors[where] = ["Must be a decimal number (as a string or JSON number)."]
        return None
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        errors[where] = ["Not a valid decimal number."]
        return None
    if not number.is_finite() or number < 0 or number > MAX_PARAMETER_VALUE:
        errors[where] = [f"Must be a finite number between 0 and {MAX_PARAMETER_VALUE:f}."]
        return None
    if number.as_tuple().exponent < -12:
        errors[where] = ["At most 12 decimal places."]
        return None
    return number


# --- parameters ------------------------------------------------------------------------------

def parse_parameters(parameters: Any, errors: Errors) -> dict[str, Parameter]:
    """The well-formed parameters by name; every malformed field is reported in `errors`."""
    parsed: dict[str, Parameter] = {}
    if not isinstance(parameters, list) or not parameters:
        errors["parameters"] = ["Must be a non-empty list."]
        return parsed
    for i, item in enumerate(parameters):
        where = f"parameters.{i}"
        name = _parameter_name(item, where, parsed, errors)
        if name is None:
            continue
        parameter = _parameter(item, name, where, errors)
        if parameter is not None:
            parsed[name] = parameter
    return parsed


def _parameter_name(item: Any, where: str, parsed: Mapping[str, Parameter],
                    errors: Errors) -> str | None:
    """The name of a well-shaped, not yet seen parameter entry; None (with an error) if not."""
    if not isinstance(item, Mapping):
        errors[where] = ["Must be an object."]
        return None
    unknown = set(item) - PARAMETER_FIELDS
    if unknown:
        errors[where] = [f"Unknown field(s): {', '.join(sorted(unknown))}."]
        return None
    name = item.get("name")
    if not isinstance(name, str) or not PARAMETER_NAME_RE.match(name):
        errors[f"{where}.name"] = ["Must be an identifier such as RF or EF_grid."]
        return None
    if name in parsed:
        errors[f"{where}.name"] = [f"Duplicate parameter {name}."]
        return None
    return name


def _parameter(item: Mapping, name: str, where: str, errors: Errors) -> Parameter | None:
    """Every field of one entry is checked, so all of its errors are reported at once."""
    value = parse_decimal(item.get("value"), f"{where}.value", errors)
    unit = item.get("unit")
    if unit not in UNITS:
        errors[f"{where}.unit"] = ["Unknown unit; one of " + ", ".join(UNITS) + "."]
    sourced = _provenance_ok(item, where, errors)
    if value is None or unit not in UNITS or not sourced:
        return None
    return Parameter(name=name, value=value, unit=unit, source=item["source"].strip(),
                     source_status=item["source_status"], note=item.get("note") or None)


def _provenance_ok(item: Mapping, where: str, errors: Errors) -> bool:
    """Source, source status and note: every parameter says where its value comes from."""
    ok = True
    source = item.get("source")
    if not isinstance(source, str) or not source.strip() or len(source) > 1000:
        errors[f"{where}.source"] = ["Every parameter needs its source (1-1000 characters)."]
        ok = False
    if item.get("source_status") not in SOURCE_STATUSES:
        errors[f"{where}.source_status"] = ["One of " + ", ".join(SOURCE_STATUSES) + "."]
        ok = False
    note = item.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 2000):
        errors[f"{where}.note"] = ["At most 2000 characters."]
        ok = False
    return ok


# --- applicability rules ---------------------------------------------------------------------

def parse_rules(rules: Mapping | None, errors: Errors) -> Rules:
    """Bounds, self-report policy and basis; malformed rules are reported in `errors`."""
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
        low, high = _bound_pair(rules, quantity, errors)
        if low is not None or high is not None:
            bounds[quantity] = (low, high)
    self_report = rules.get("self_report", "review")
    if self_report not in SELF_REPORT_POLICIES:
        errors["applicability.self_report"] = ["One of " + ", ".join(SELF_REPORT_POLICIES) + "."]
    method = rules.get("baseline_method")
    if method is not None and method not in BASELINE_METHODS:
        errors["applicability.baseline_method"] = ["One of " + ", ".join(BASELINE_METHODS) + "."]
        method = None
    return Rules(bounds=bounds, self_report=self_report, basis=_basis(rules, errors),
                 max_events_per_day=_whole(rules, "max_events_per_day", MAX_EVENTS_PER_DAY,
                                           errors),
                 baseline_method=method,
                 baseline_months=_whole(rules, "baseline_months", MAX_BASELINE_MONTHS, errors),
                 min_baseline_readings=_whole(rules, "min_baseline_readings",
                                              MAX_BASELINE_MONTHS, errors))


def _whole(rules: Mapping, name: str, high: int, errors: Errors) -> int | None:
    """A whole-number rule from 1 to `high` (JSON integer), or None when absent."""
    value = rules.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        errors[f"applicability.{name}"] = [f"A whole number from 1 to {high}."]
        return None
    return value


def _bound_pair(rules: Mapping, quantity: str,
                errors: Errors) -> tuple[Decimal | None, Decimal | None]:
    low = high = None
    if rules.get(f"min_{quantity}") is not None:
        low = parse_decimal(rules[f"min_{quantity}"], f"applicability.min_{quantity}", errors)
    if rules.get(f"max_{quantity}") is not None:
        high = parse_decimal(rules[f"max_{quantity}"], f"applicability.max_{quantity}", errors)
    if low is not None and high is not None and low > high:
        errors[f"applicability.max_{quantity}"] = [f"Must not be below min_{quantity}."]
    return low, high


def _basis(rules: Mapping, errors: Errors) -> str | None:
    basis = rules.get("basis")
    if basis is not None and (not isinstance(basis, str) or len(basis) > 2000):
        errors["applicability.basis"] = ["At most 2000 characters."]
        return None
    return (basis or "").strip() or None
