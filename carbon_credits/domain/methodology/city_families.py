"""The calculator families of a city deployment: everyday scenes counted per event, and
household energy metered against a baseline (docs/methodologies.md, docs/households.md)."""
from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any, Mapping

from carbon_credits.domain.methodology.breakdown import Steps, read_input
from carbon_credits.domain.methodology.definition import Definition
from carbon_credits.domain.methodology.family import Family, Parameters
from carbon_credits.domain.methodology.units import CONTEXT, ZERO
from carbon_credits.domain.vocabulary import GRAMS, MG_PER_G


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
    own_rules = required_rules = ("max_events_per_day",)

    def bounds_problem(self, parsed: Parameters) -> str | None:
        grams = self.grams_per_event(parsed)
        if grams == 0:
            return "The reduction per event must be greater than 0."
        if grams != grams.quantize(GRAMS):
            return "The reduction per event must be whole milligrams (at most 3 decimals in g)."
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


class MeteredBaseline(Family):
    """A household's monthly saving on its own meter against the baseline its methodology
    version defines (domain/metering: same month of earlier years, or the trailing average of
    the months before), times the grid or water factor.

    The baseline is worked out by the service from the meter's earlier actual readings and
    handed over with how it was made (`baseline_basis`); the family never invents one. The
    saving is never negative (a household that used more than its baseline earns nothing and
    owes nothing) and is capped at `S_max` of the baseline, so an empty home is not a saving."""

    name = "metered_baseline"
    action_type = "household_energy"
    required_inputs = ("consumption", "baseline", "occurred_at")
    formula = ("saving = min(max(baseline − consumption, 0), S_max × baseline); "
               "ER = saving × EF_grid (or EF_water)")
    parameters = (("EF_grid", "g_per_kwh"), ("S_max", "fraction"))
    alternatives = ((("EF_water", "g_per_m3"), ("S_max", "fraction")),)
    unmet = "needs S_max and EF_grid (electricity) or EF_water (water)"
    own_rules = ("baseline_method", "baseline_months", "min_baseline_readings")
    required_rules = own_rules

    def bounds_problem(self, parsed: Parameters) -> str | None:
        share = parsed["S_max"].canonical
        if not 0 < share <= 1:
            return "S_max must be greater than 0 and at most 1 (a share of the baseline)."
        return None

    def reduce(self, params: Parameters, activity: Mapping[str, Any], steps: Steps) -> Decimal:
        factor, unit = ((params["EF_grid"], "kWh") if "EF_grid" in params
                        else (params["EF_water"], "m3"))
        ef = steps.parameter(factor)
        s_max = steps.parameter(params["S_max"])
        consumption = steps.input("consumption", read_input(activity, "consumption"), unit)
        baseline = read_input(activity, "baseline")
        steps.add("input", name="baseline", value=_text(baseline), unit=unit,
                  basis=activity.get("baseline_basis"))
        saving = steps.value("saving", "max(baseline − consumption, 0)",
                             max(baseline - consumption, ZERO), unit)
        cap = steps.value("saving_cap", "S_max × baseline", s_max * baseline, unit)
        credited = steps.value("saving_credited", "min(saving, saving_cap)", min(saving, cap),
                               unit)
        return steps.value("ER", f"saving_credited × {factor.name}", credited * ef, "gCO2e")


def _text(value: Decimal) -> str:
    return format(value, "f")
