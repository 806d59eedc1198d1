"""The calculator families, one small class each, and the registry that names them.

A family says which action type it serves, which claim fields it needs and may use, which
parameters it needs (with their dimensions) and the bounds on their values, its default formula,
and how it turns a definition and an activity into a reduction with its breakdown. Adding a
family is adding a class here and its name to `vocabulary.CALCULATOR_FAMILIES` (a schema change).

`occurred_at` in the inputs stands for the action's instant: sent, or the `ended_at` of a
windowed action (which is then its instant). A claim field in neither `required_inputs` nor
`optional_inputs` is stored, not used. The pipeline asks the version in force which inputs it
needs, so a per-boarding bus scope needs boardings and a time, a per-km one a distance and both
times.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.methodology.breakdown import Calculation, Steps, read_input
from carbon_credits.domain.methodology.city_families import MeteredBaseline, PerEvent
from carbon_credits.domain.methodology.definition import (Definition, Errors, parse_parameters,
                                                          parse_rules)
from carbon_credits.domain.methodology.family import Family, Needs, Parameters
from carbon_credits.domain.methodology.reasons import Reason
from carbon_credits.domain.methodology.units import ZERO
from carbon_credits.domain.vocabulary import WASTE_CATEGORIES

__all__ = ["Family", "Needs", "Parameters", "MeteredBaseline", "PerEvent", "REGISTRY"]


class TransitDistance(Family):
    name = "transit_distance"
    action_type = "transit"
    required_inputs = ("distance_km", "started_at", "ended_at")
    formula = "ER = RF × distance_km  (or ER = (EF_baseline − EF_mode) × distance_km)"
    parameters = (("RF", "g_per_km"),)
    alternatives = ((("EF_baseline", "g_per_km"), ("EF_mode", "g_per_km")),)
    unmet = "needs RF, or EF_baseline and EF_mode"

    def bounds_problem(self, parsed: Parameters) -> str | None:
        if "RF" not in parsed and parsed["EF_mode"].canonical > parsed["EF_baseline"].canonical:
            return "EF_mode exceeds EF_baseline: no reduction to claim."
        return None

    def reduce(self, params: Parameters, activity: Mapping[str, Any], steps: Steps) -> Decimal:
        distance = read_input(activity, "distance_km")
        if "RF" in params:
            rf = steps.parameter(params["RF"])
            steps.input("distance_km", distance, "km")
            return steps.value("ER", "RF × distance_km", rf * distance, "gCO2e")
        baseline = steps.parameter(params["EF_baseline"])
        mode = steps.parameter(params["EF_mode"])
        steps.input("distance_km", distance, "km")
        be = steps.value("BE", "EF_baseline × distance_km", baseline * distance, "gCO2e")
        pe = steps.value("PE", "EF_mode × distance_km", mode * distance, "gCO2e")
        return steps.value("ER", "max(BE − PE, 0)", max(be - pe, ZERO), "gCO2e")


class TransitBoarding(Family):
    name = "transit_boarding"
    action_type = "transit"
    required_inputs = ("boardings", "occurred_at")
    optional_inputs = ("started_at", "ended_at", "distance_km")
    formula = "ER = RF_trip × boardings"
    parameters = (("RF_trip", "g_per_trip"),)

    def reduce(self, params: Parameters, activity: Mapping[str, Any], steps: Steps) -> Decimal:
        rf_trip = steps.parameter(params["RF_trip"])
        # No default: a boarding count nobody sent would be invented, not measured.
        boardings = steps.input("boardings", read_input(activity, "boardings", integer=True),
                                "boardings")
        return steps.value("ER", "RF_trip × boardings", rf_trip * boardings, "gCO2e")


class EvCharging(Family):
    name = "ev_charging"
    action_type = "ev_charging"
    required_inputs = ("energy_kwh", "started_at", "ended_at", "station_id")
    formula = ("km = energy_kwh / EC_ev; BE = km × FC_ice × EF_fuel; "
               "PE = energy_kwh × EF_grid; ER = max(BE − PE, 0)")
    parameters = (("EC_ev", "kwh_per_km"), ("FC_ice", "l_per_km"), ("EF_fuel", "g_per_l"),
                  ("EF_grid", "g_per_kwh"))

    def bounds_problem(self, parsed: Parameters) -> str | None:
        return "EC_ev must be greater than 0." if parsed["EC_ev"].value == 0 else None

    def reduce(self, params: Parameters, activity: Mapping[str, Any], steps: Steps) -> Decimal:
        ec = steps.parameter(params["EC_ev"])
        fc = steps.parameter(params["FC_ice"])
        ef_fuel = steps.parameter(params["EF_fuel"])
        ef_grid = steps.parameter(params["EF_grid"])
        kwh = steps.input("energy_kwh", read_input(activity, "energy_kwh"), "kWh")
        km = steps.value("km", "energy_kwh / EC_ev", kwh / ec, "km")
        be = steps.value("BE", "km × FC_ice × EF_fuel", km * fc * ef_fuel, "gCO2e")
        pe = steps.value("PE", "energy_kwh × EF_grid", kwh * ef_grid, "gCO2e")
        return steps.value("ER", "max(BE − PE, 0)", max(be - pe, ZERO), "gCO2e")


class Recyclables(Family):
    """One factor per waste category; a version covers the categories it has a factor for."""

    name = "recyclables"
    action_type = "waste_sorting"
    required_inputs = ("category", "weight_kg", "station_id", "occurred_at")
    formula = "ER = weight_kg × EF_<category>"
    parameters = tuple((f"EF_{category}", "g_per_kg") for category in WASTE_CATEGORIES)
    unmet = "needs at least one EF_<category> (" + ", ".join(WASTE_CATEGORIES) + ")"

    def needed(self, present: set[str]) -> Needs | None:
        return tuple(need for need in self.parameters if need[0] in present) or None

    def reduce(self, params: Parameters, activity: Mapping[str, Any], steps: Steps) -> Decimal:
        category = activity.get("category")
        name = f"EF_{category}"
        if not isinstance(category, str) or name not in params:
            covered = sorted(n[3:] for n in params)
            raise ValidationFailed(
                f"activity.category must be one of {', '.join(covered)}",
                errors={"activity.category": ["Not covered by this methodology."]})
        ef = steps.parameter(params[name])
        weight = read_input(activity, "weight_kg")
        steps.add("input", name="category", value=category, unit=None)
        steps.input("weight_kg", weight, "kg")
        return steps.value("ER", f"weight_kg × {name}", weight * ef, "gCO2e")

    def coverage_reason(self, definition: Definition, activity: Mapping[str, Any]) -> Reason | None:
        category = activity.get("category")
        if f"EF_{category}" in definition.parameters:
            return None
        return Reason("category_not_covered",
                      f"Category {category!r} is not covered by this methodology.", "reject")


# The registry, in the order of vocabulary.CALCULATOR_FAMILIES (a test keeps them equal).
REGISTRY: dict[str, Family] = {family.name: family for family in (
    TransitDistance(), TransitBoarding(), EvCharging(), Recyclables(), PerEvent(),
    MeteredBaseline())}

# Which families may serve which action type.
FAMILIES = {name: family.action_type for name, family in REGISTRY.items()}
DEFAULT_FORMULAS = {name: family.formula for name, family in REGISTRY.items()}
# What a claim must carry for each family, and what the family may also use.
INPUTS = {name: {"required": family.required_inputs, "optional": family.optional_inputs}
          for name, family in REGISTRY.items()}


def required_inputs(family: str) -> dict[str, tuple[str, ...]]:
    """{"required": (...), "optional": (...)}: the claim fields a family needs and may use."""
    if family not in INPUTS:
        raise ValueError(f"unknown family {family}")
    return {key: tuple(names) for key, names in INPUTS[family].items()}


def missing_inputs(family: str, present: set[str]) -> list[str]:
    """The required fields of `family` absent from `present` (names of the fields sent)."""
    return [name for name in required_inputs(family)["required"] if name not in present]


def family_of(definition: Definition) -> Family | None:
    return REGISTRY.get(definition.family)


def count_cap_mg(definition: Definition) -> int | None:
    """The daily cap a family derives from the definition (per_event: events per day × the
    reduction per event), in milligrams; None for families without one."""
    family = family_of(definition)
    return None if family is None else family.count_cap_mg(definition)


def parse_definition(*, family: str, parameters: list, rules: Mapping | None,
                     action_type: str | None = None) -> Definition:
    """Validate a version's family, parameters and applicability rules; 422 with field errors."""
    if family not in REGISTRY:
        raise ValidationFailed(f"family must be one of {', '.join(FAMILIES)}",
                               errors={"family": ["Unknown calculator family."]})
    if action_type is not None and FAMILIES[family] != action_type:
        raise ValidationFailed(f"family {family} does not serve action type {action_type}",
                               errors={"family": [f"Not usable for {action_type}."]})
    errors: Errors = {}
    parsed = parse_parameters(parameters, errors)
    if not errors:
        # The family judges the parameters as a whole only once each one is well-formed.
        problem = REGISTRY[family].parameter_problem(parsed)
        if problem:
            errors["parameters"] = [problem]
    parsed_rules = parse_rules(rules, errors)
    if "applicability" not in errors:
        problem = REGISTRY[family].rules_problem(parsed_rules)
        if problem:
            errors["applicability"] = [problem]
    if errors:
        field, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{field}: {messages[0]}", errors=errors)
    return Definition(family=family, parameters=parsed, rules=parsed_rules)


def calculate(definition: Definition, activity: Mapping[str, Any]) -> Calculation:
    """The reduction in grams CO2e (quantised to 0.001) and every step that produced it; each
    parameter's step is worked out here (`prepared.prepare` works them out once per version)."""
    family = family_of(definition)
    if family is None:  # pragma: no cover - parse_definition refuses unknown families
        raise ValidationFailed(f"unknown family {definition.family}")
    return family.calculate(definition, activity)
