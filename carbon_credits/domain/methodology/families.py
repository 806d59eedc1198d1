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

from decimal import Decimal, localcontext
from typing import Any, ClassVar, Mapping

from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.methodology.breakdown import (Calculation, ParameterStep, Steps,
                                                         read_input)
from carbon_credits.domain.methodology.definition import (Definition, Errors, Parameter, Rules,
                                                          parse_parameters, parse_rules)
from carbon_credits.domain.methodology.reasons import Reason
from carbon_credits.domain.methodology.units import CANONICAL_UNIT, CONTEXT, ZERO, quantise_grams
from carbon_credits.domain.vocabulary import GRAMS, MG_PER_G, WASTE_CATEGORIES

Needs = tuple[tuple[str, str], ...]  # (parameter name, dimension)
Parameters = Mapping[str, Parameter]


class Family:
    """A calculator family. Subclasses declare the class attributes and `reduce`."""

    name: ClassVar[str]
    action_type: ClassVar[str]
    required_inputs: ClassVar[tuple[str, ...]]
    optional_inputs: ClassVar[tuple[str, ...]] = ()
    formula: ClassVar[str]
    parameters: ClassVar[Needs] = ()
    # Said (after "Family <name> ") when `needed` finds no usable set of parameters.
    unmet: ClassVar[str] = ""

    # Other sets of parameters the family can work from instead of `parameters`.
    alternatives: ClassVar[tuple[Needs, ...]] = ()

    def needed(self, present: set[str]) -> Needs | None:
        """The parameters this family will use, given the names present; None if none fit."""
        if not self.alternatives:
            return self.parameters
        for choice in (self.parameters, *self.alternatives):
            if {name for name, _ in choice} <= present:
                return choice
        return None

    def rules_problem(self, rules: Rules) -> str | None:
        """What is wrong with the applicability rules for this family, if anything."""
        if rules.max_events_per_day is not None:
            return "max_events_per_day is for per_event methodologies only."
        return None

    def count_cap_mg(self, definition: Definition) -> int | None:
        """A daily cap the family derives from the definition (milligrams), if it has one."""
        return None

    def bounds_problem(self, parsed: Parameters) -> str | None:
        """What is wrong with the parameter values beyond their units, if anything."""
        return None

    def parameter_problem(self, parsed: Parameters) -> str | None:
        """The one error on a version's parameters as a whole, or None if the family can use
        them: a needed one missing or in the wrong dimension (the last such is named), a value
        out of bounds, or a parameter it would not use."""
        needed = self.needed(set(parsed))
        if needed is None:
            return f"Family {self.name} {self.unmet}."
        problem = None
        for name, dimension in needed:
            if name not in parsed:
                problem = f"Family {self.name} needs parameter {name}."
            elif parsed[name].dimension != dimension:
                problem = (f"{name} has unit {parsed[name].unit}; needs a "
                           f"{CANONICAL_UNIT[dimension]} unit.")
        if problem is None:
            problem = self.bounds_problem(parsed)
        unused = set(parsed) - {name for name, _ in needed}
        if problem is None and unused:
            problem = f"Unused parameter(s) for {self.name}: " + ", ".join(sorted(unused)) + "."
        return problem

    def reduce(self, params: Parameters, activity: Mapping[str, Any], steps: Steps) -> Decimal:
        """ER in grams before the floor at zero and the rounding, each step recorded."""
        raise NotImplementedError

    def calculate(self, definition: Definition, activity: Mapping[str, Any],
                  parameter_steps: Mapping[str, ParameterStep] | None = None) -> Calculation:
        """The reduction in grams CO2e (quantised to 0.001) and every step that produced it."""
        steps = Steps(parameter_steps)
        with localcontext(CONTEXT):
            er = max(self.reduce(definition.parameters, activity, steps), ZERO)
        return steps.result(quantise_grams(er))

    def coverage_reason(self, definition: Definition, activity: Mapping[str, Any]) -> Reason | None:
        """A rejection when the methodology does not cover what the activity is about."""
        return None


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


class PerEvent(Family):
    """A fixed reduction per qualifying event (an order without cutlery, a purchase with one's
    own bag), counted by the till or platform that saw it, with a daily count cap.

    The reduction per event is a sourced factor (`EF_event`), or a sourced factor per kg times
    an assumed mass per event (`EF_kg` × `M_event`: a used-clothing deposit), so that the
    source and the assumption stay separate parameters. It must be whole milligrams, so that
    the daily cap (`max_events_per_day` events) is exactly that many events' worth."""

    name = "per_event"
    action_type = "everyday"
    required_inputs = ("events", "occurred_at")
    optional_inputs = ("station_id",)
    formula = "ER = EF_event × events  (or ER = EF_kg × M_event × events)"
    parameters = (("EF_event", "g_per_event"),)
    alternatives = ((("EF_kg", "g_per_kg"), ("M_event", "kg_per_event")),)
    unmet = "needs EF_event, or EF_kg and M_event"

    def bounds_problem(self, parsed: Parameters) -> str | None:
        grams = self.grams_per_event(parsed)
        if grams == 0:
            return "The reduction per event must be greater than 0."
        if grams != grams.quantize(GRAMS):
            return "The reduction per event must be whole milligrams (at most 3 decimals in g)."
        return None

    def rules_problem(self, rules: Rules) -> str | None:
        if rules.max_events_per_day is None:
            return ("Family per_event needs applicability.max_events_per_day "
                    "(its daily count cap).")
        return None

    @staticmethod
    def grams_per_event(params: Parameters) -> Decimal:
        with localcontext(CONTEXT):
            if "EF_event" in params:
                return params["EF_event"].canonical
            return params["EF_kg"].canonical * params["M_event"].canonical

    def count_cap_mg(self, definition: Definition) -> int | None:
        grams = self.grams_per_event(definition.parameters)
        return int(grams * MG_PER_G) * definition.rules.max_events_per_day

    def reduce(self, params: Parameters, activity: Mapping[str, Any], steps: Steps) -> Decimal:
        events = read_input(activity, "events", integer=True)
        if "EF_event" in params:
            ef = steps.parameter(params["EF_event"])
            steps.input("events", events, "events")
            return steps.value("ER", "EF_event × events", ef * events, "gCO2e")
        ef_kg = steps.parameter(params["EF_kg"])
        mass = steps.parameter(params["M_event"])
        steps.input("events", events, "events")
        per_event = steps.value("ER_event", "EF_kg × M_event", ef_kg * mass, "gCO2e")
        return steps.value("ER", "ER_event × events", per_event * events, "gCO2e")


# The registry, in the order of vocabulary.CALCULATOR_FAMILIES (a test keeps them equal).
REGISTRY: dict[str, Family] = {family.name: family for family in (
    TransitDistance(), TransitBoarding(), EvCharging(), Recyclables(), PerEvent())}

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
