"""The calculator family registry: what each family needs and computes, applicability rule by
rule, version diffs, and the seeded methodologies on worked examples (hand arithmetic)."""
from __future__ import annotations

import datetime as dt
import json
import pathlib
from decimal import Decimal

import pytest

from carbon_credits.domain import methodology as m
from carbon_credits.domain import vocabulary
from carbon_credits.domain.errors import ValidationFailed

D = Decimal
UTC = dt.timezone.utc
SEED = pathlib.Path(m.__file__).resolve().parents[2] / "data" / "seed_methodologies.json"


def param(name, value, unit, status="secondary", source="test source", **extra):
    return {"name": name, "value": str(value), "unit": unit, "source": source,
            "source_status": status, **extra}


def refusal(family, parameters, rules=None, action_type=None) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as refused:
        m.parse_definition(family=family, parameters=parameters, rules=rules or {},
                           action_type=action_type)
    return refused.value


# --- the registry ------------------------------------------------------------------------------

def test_the_registry_names_exactly_the_vocabulary_families_in_order():
    assert tuple(m.REGISTRY) == vocabulary.CALCULATOR_FAMILIES
    assert tuple(m.FAMILIES) == tuple(m.INPUTS) == tuple(m.DEFAULT_FORMULAS) \
        == vocabulary.CALCULATOR_FAMILIES
    assert all(family.name == name for name, family in m.REGISTRY.items())


def test_every_family_serves_a_known_action_type():
    assert m.FAMILIES == {"transit_distance": "transit", "transit_boarding": "transit",
                          "ev_charging": "ev_charging", "recyclables": "waste_sorting",
                          "per_event": "everyday", "metered_baseline": "household_energy"}
    assert set(m.FAMILIES.values()) == set(vocabulary.ACTION_TYPES)


@pytest.mark.parametrize("family, required, optional", [
    ("transit_distance", ("distance_km", "started_at", "ended_at"), ()),
    ("transit_boarding", ("boardings", "occurred_at"), ("started_at", "ended_at", "distance_km")),
    ("ev_charging", ("energy_kwh", "started_at", "ended_at", "station_id"), ()),
    ("recyclables", ("category", "weight_kg", "station_id", "occurred_at"), ()),
])
def test_required_and_optional_inputs_per_family(family, required, optional):
    assert m.required_inputs(family) == {"required": required, "optional": optional}
    assert m.missing_inputs(family, set()) == list(required)
    assert m.missing_inputs(family, set(required) | set(optional)) == []
    assert m.missing_inputs(family, set(required[1:])) == [required[0]]


def test_an_unknown_family_has_no_inputs():
    with pytest.raises(ValueError, match="unknown family nope"):
        m.required_inputs("nope")


def test_default_formulas_name_each_familys_factors():
    assert m.DEFAULT_FORMULAS["transit_boarding"] == "ER = RF_trip × boardings"
    assert m.DEFAULT_FORMULAS["recyclables"] == "ER = weight_kg × EF_<category>"
    assert "RF × distance_km" in m.DEFAULT_FORMULAS["transit_distance"]
    assert "energy_kwh / EC_ev" in m.DEFAULT_FORMULAS["ev_charging"]


@pytest.mark.parametrize("family", vocabulary.CALCULATOR_FAMILIES)
@pytest.mark.parametrize("action_type", vocabulary.ACTION_TYPES)
def test_a_family_is_usable_only_for_its_action_type(family, action_type):
    if m.FAMILIES[family] == action_type:
        return
    error = refusal(family, [param("RF", "1", "gCO2/km")], action_type=action_type)
    assert error.errors == {"family": [f"Not usable for {action_type}."]}
    assert error.detail == f"family {family} does not serve action type {action_type}"


def test_an_unknown_family_is_refused_before_its_parameters():
    error = refusal("bicycle_distance", "not even a list")
    assert error.errors == {"family": ["Unknown calculator family."]}
    assert error.detail == ("family must be one of transit_distance, transit_boarding, "
                            "ev_charging, recyclables, per_event, metered_baseline")


# --- transit_distance --------------------------------------------------------------------------

def test_transit_distance_net_factor_worked_example():
    metro = m.parse_definition(family="transit_distance",
                               parameters=[param("RF", "97", "gCO2/km")], rules={})
    result = m.calculate(metro, {"distance_km": D("12.345")})
    assert result.reduction_g == D("1197.465")  # 97 × 12.345
    assert result.breakdown == [
        {"step": 1, "kind": "parameter", "name": "RF", "value": "97", "unit": "gCO2/km",
         "source": "test source", "source_status": "secondary"},
        {"step": 2, "kind": "input", "name": "distance_km", "value": "12.345", "unit": "km"},
        {"step": 3, "kind": "intermediate", "name": "ER", "expression": "RF × distance_km",
         "value": "1197.465", "unit": "gCO2e"},
        {"step": 4, "kind": "result", "name": "reduction_g", "value": "1197.465",
         "unit": "gCO2e", "rounding": m.ROUNDING_RULE},
    ]


def test_transit_distance_baseline_minus_mode_converts_kilograms():
    definition = m.parse_definition(family="transit_distance", parameters=[
        param("EF_baseline", "0.104", "kgCO2/passenger-km"),
        param("EF_mode", "0.0125", "kgCO2/km", note="bus share")], rules={})
    result = m.calculate(definition, {"distance_km": D("3.3")})
    assert result.reduction_g == D("301.950")  # (104 − 12.5) × 3.3 = 91.5 × 3.3
    steps = {s["name"]: s for s in result.breakdown}
    assert steps["EF_baseline"]["canonical_value"] == "104.000"
    assert steps["EF_mode"]["canonical_value"] == "12.5000"
    assert steps["EF_mode"]["note"] == "bus share"
    assert (steps["BE"]["value"], steps["PE"]["value"], steps["ER"]["value"]) == \
        ("343.2000", "41.25000", "301.95000")
    assert steps["ER"]["expression"] == "max(BE − PE, 0)"


def test_transit_distance_needs_rf_or_both_emission_factors():
    error = refusal("transit_distance", [param("EF_baseline", "104", "gCO2/km")])
    assert error.errors == {"parameters": [
        "Family transit_distance needs RF, or EF_baseline and EF_mode."]}
    assert error.detail == "parameters: Family transit_distance needs RF, or EF_baseline and EF_mode."


def test_transit_distance_refuses_a_factor_per_trip():
    error = refusal("transit_distance", [param("RF", "97", "gCO2/trip")])
    assert error.errors == {"parameters": ["RF has unit gCO2/trip; needs a gCO2e/km unit."]}


def test_transit_distance_compares_the_factors_in_grams():
    equal = m.parse_definition(family="transit_distance", parameters=[
        param("EF_baseline", "0.1", "kgCO2/km"), param("EF_mode", "100", "gCO2/km")], rules={})
    assert m.calculate(equal, {"distance_km": D("5")}).reduction_g == D("0.000")
    error = refusal("transit_distance", [param("EF_baseline", "0.1", "kgCO2/km"),
                                         param("EF_mode", "100.001", "gCO2/km")])
    assert error.errors == {"parameters": ["EF_mode exceeds EF_baseline: no reduction to claim."]}


def test_transit_distance_refuses_a_parameter_it_would_not_use():
    error = refusal("transit_distance", [param("RF", "97", "gCO2/km"),
                                         param("EF_mode", "0", "gCO2/km"),
                                         param("EF_baseline", "1", "gCO2/km")])
    assert error.errors == {"parameters": [
        "Unused parameter(s) for transit_distance: EF_baseline, EF_mode."]}


def test_transit_distance_needs_the_distance():
    metro = m.parse_definition(family="transit_distance",
                               parameters=[param("RF", "97", "gCO2/km")], rules={})
    with pytest.raises(ValidationFailed) as refused:
        m.calculate(metro, {"started_at": dt.datetime(2025, 1, 1, tzinfo=UTC)})
    assert refused.value.errors == {"activity.distance_km": ["Required by this methodology."]}
    for bad, message in ((D("-1"), "Must be a non-negative number."),
                         (D("1e12") + 1, "Must be a non-negative number."),
                         ("5", "Must be a number."), (True, "Must be a number."),
                         (5.0, "Must be a number.")):
        with pytest.raises(ValidationFailed) as refused:
            m.calculate(metro, {"distance_km": bad})
        assert refused.value.errors == {"activity.distance_km": [message]}


# --- transit_boarding --------------------------------------------------------------------------

def test_transit_boarding_worked_example_in_kilograms_per_trip():
    bus = m.parse_definition(family="transit_boarding",
                             parameters=[param("RF_trip", "0.4225", "kgCO2/trip")], rules={})
    result = m.calculate(bus, {"boardings": 3})
    assert result.reduction_g == D("1267.500")  # 422.5 g × 3
    assert [(s["kind"], s["name"]) for s in result.breakdown] == [
        ("parameter", "RF_trip"), ("input", "boardings"), ("intermediate", "ER"),
        ("result", "reduction_g")]
    assert result.breakdown[0]["canonical_value"] == "422.5000"
    assert result.breakdown[0]["canonical_unit"] == "gCO2e/trip"


def test_transit_boarding_counts_whole_boardings_only():
    bus = m.parse_definition(family="transit_boarding",
                             parameters=[param("RF_trip", "422", "gCO2/trip")], rules={})
    assert m.calculate(bus, {"boardings": D("2.0")}).reduction_g == D("844.000")
    with pytest.raises(ValidationFailed) as refused:
        m.calculate(bus, {"boardings": D("1.5")})
    assert refused.value.errors == {"activity.boardings": ["Must be a non-negative whole number."]}


def test_transit_boarding_refuses_a_factor_per_km_and_a_missing_trip_factor():
    error = refusal("transit_boarding", [param("RF_trip", "422", "gCO2/km")])
    assert error.errors == {"parameters": ["RF_trip has unit gCO2/km; needs a gCO2e/trip unit."]}
    error = refusal("transit_boarding", [param("RF", "97", "gCO2/km")])
    assert error.errors == {"parameters": ["Family transit_boarding needs parameter RF_trip."]}


# --- ev_charging -------------------------------------------------------------------------------

EV_PARAMETERS = [param("EC_ev", "20", "kWh/100km"), param("FC_ice", "6.0", "L/100km"),
                 param("EF_fuel", "2.37", "kgCO2/L"), param("EF_grid", "0.5306", "kgCO2/kWh")]


def test_ev_charging_worked_example():
    ev = m.parse_definition(family="ev_charging", parameters=EV_PARAMETERS, rules={})
    result = m.calculate(ev, {"energy_kwh": D("7.5")})
    # km = 7.5 / 0.2 = 37.5; BE = 37.5 × 0.06 × 2370 = 5332.5; PE = 7.5 × 530.6 = 3979.5
    assert result.reduction_g == D("1353.000")
    values = {s["name"]: D(s["value"]) for s in result.breakdown if s["kind"] == "intermediate"}
    assert values == {"km": D("37.5"), "BE": D("5332.5"), "PE": D("3979.5"), "ER": D("1353")}


def test_ev_charging_divides_to_60_digits_and_rounds_once():
    ev = m.parse_definition(family="ev_charging", parameters=[
        param("EC_ev", "0.3", "kWh/km"), param("FC_ice", "0.06", "L/km"),
        param("EF_fuel", "2370", "gCO2/L"), param("EF_grid", "0", "gCO2/kWh")], rules={})
    result = m.calculate(ev, {"energy_kwh": 1})
    km = next(s for s in result.breakdown if s["name"] == "km")
    assert km["value"] == "3." + "3" * 59  # 1 / 0.3 to 60 significant digits
    assert result.reduction_g == D("474.000")  # 473.999…9 rounded once


@pytest.mark.parametrize("replaced, unit, message", [
    ("FC_ice", "kWh/km", "FC_ice has unit kWh/km; needs a L/km unit."),
    ("EC_ev", "L/100km", "EC_ev has unit L/100km; needs a kWh/km unit."),
    ("EF_grid", "gCO2/L", "EF_grid has unit gCO2/L; needs a gCO2/kWh unit."),
])
def test_ev_charging_refuses_a_parameter_of_the_wrong_dimension(replaced, unit, message):
    parameters = [dict(p, unit=unit) if p["name"] == replaced else p for p in EV_PARAMETERS]
    assert refusal("ev_charging", parameters).errors == {"parameters": [message]}


def test_ev_charging_names_the_last_missing_parameter():
    error = refusal("ev_charging", EV_PARAMETERS[1:3])
    assert error.errors == {"parameters": ["Family ev_charging needs parameter EF_grid."]}


def test_ev_charging_needs_a_positive_consumption():
    parameters = [dict(EV_PARAMETERS[0], value="0")] + EV_PARAMETERS[1:]
    assert refusal("ev_charging", parameters).errors == {
        "parameters": ["EC_ev must be greater than 0."]}


# --- recyclables -------------------------------------------------------------------------------

def test_recyclables_worked_examples_per_category():
    definition = m.parse_definition(family="recyclables", parameters=[
        param("EF_textile", "3.6", "kgCO2/kg"), param("EF_glass", "0.31", "tCO2e/t"),
        param("EF_metal", "2020", "gCO2e/kg")], rules={})
    assert m.calculate(definition, {"category": "textile", "weight_kg": D("0.25")}).reduction_g \
        == D("900.000")  # 3600 g/kg × 0.25 kg
    assert m.calculate(definition, {"category": "glass", "weight_kg": D("2")}).reduction_g \
        == D("620.000")  # 310 g/kg × 2 kg
    result = m.calculate(definition, {"category": "metal", "weight_kg": D("1.5")})
    assert result.reduction_g == D("3030.000")
    assert result.breakdown[1] == {"step": 2, "kind": "input", "name": "category",
                                   "value": "metal", "unit": None}
    assert result.breakdown[3]["expression"] == "weight_kg × EF_metal"


def test_recyclables_refuses_an_uncovered_category_naming_the_covered_ones():
    definition = m.parse_definition(family="recyclables", parameters=[
        param("EF_paper", "3.46", "kgCO2e/kg"), param("EF_kitchen", "0.1", "kgCO2e/kg")], rules={})
    for category in ("glass", None, 7):
        with pytest.raises(ValidationFailed) as refused:
            m.calculate(definition, {"category": category, "weight_kg": D("1")})
        assert refused.value.detail == "activity.category must be one of kitchen, paper"
        assert refused.value.errors == {"activity.category": ["Not covered by this methodology."]}


def test_recyclables_needs_a_factor_per_kilogram():
    error = refusal("recyclables", [param("EF_paper", "3.46", "gCO2/L")])
    assert error.errors == {"parameters": ["EF_paper has unit gCO2/L; needs a gCO2e/kg unit."]}
    error = refusal("recyclables", [param("EF_wood", "1", "kgCO2e/kg")])
    assert error.errors == {"parameters": [
        "Family recyclables needs at least one EF_<category> "
        "(paper, plastic, metal, glass, textile, kitchen)."]}
    error = refusal("recyclables", [param("EF_paper", "1", "kgCO2e/kg"),
                                    param("EF_wood", "1", "kgCO2e/kg")])
    assert error.errors == {"parameters": ["Unused parameter(s) for recyclables: EF_wood."]}


# --- every needed parameter, every unit --------------------------------------------------------

VALID = {
    "transit_distance": [param("RF", "97", "gCO2/km")],
    "transit_boarding": [param("RF_trip", "422", "gCO2/trip")],
    "ev_charging": EV_PARAMETERS,
    "recyclables": [param("EF_paper", "3.46", "kgCO2e/kg")],
    "per_event": [param("EF_event", "23", "gCO2e/event")],
    "metered_baseline": [param("EF_grid", "0.55", "kgCO2/kWh"), param("S_max", "0.3", "fraction")],
}
# Rules a family cannot do without (per_event: its daily count cap; metered: its baseline).
RULES = {"per_event": {"max_events_per_day": 3},
         "metered_baseline": {"baseline_method": "same_month_last_year", "baseline_months": 1,
                              "min_baseline_readings": 1}}


@pytest.mark.parametrize("family", vocabulary.CALCULATOR_FAMILIES)
def test_every_unit_of_another_dimension_is_refused(family):
    for index, entry in enumerate(VALID[family]):
        dimension = m.UNITS[entry["unit"]][0]
        for unit, (other, _) in m.UNITS.items():
            parameters = list(VALID[family])
            parameters[index] = dict(entry, unit=unit)
            if other == dimension:
                m.parse_definition(family=family, parameters=parameters,
                                   rules=RULES.get(family, {}))
                continue
            assert refusal(family, parameters, RULES.get(family)).errors == {"parameters": [
                f"{entry['name']} has unit {unit}; needs a {m.CANONICAL_UNIT[dimension]} unit."]}


def test_a_malformed_parameter_is_reported_before_the_familys_needs():
    error = refusal("ev_charging", [param("EC_ev", "x", "kWh/km")],
                    rules={"self_report": "maybe"})
    assert error.errors == {"parameters.0.value": ["Not a valid decimal number."],
                            "applicability.self_report": ["One of allowed, review, refused."]}
    assert error.detail == "parameters.0.value: Not a valid decimal number."


# --- applicability -----------------------------------------------------------------------------

START = dt.datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def distance_definition(**rules):
    return m.parse_definition(family="transit_distance",
                              parameters=[param("RF", "97", "gCO2/km")], rules=rules)


def trip(km, minutes=None):
    activity = {"distance_km": D(km)}
    if minutes is not None:
        activity.update(started_at=START, ended_at=START + dt.timedelta(minutes=minutes))
    return activity


def codes(reasons):
    return [r.code for r in reasons]


def test_minimum_and_maximum_are_inclusive():
    definition = distance_definition(min_distance_km="0.5", max_distance_km="100",
                                     self_report="allowed")
    for km in ("0.5", "100", "42"):
        assert m.check_applicability(definition, trip(km), channel="app") == []
    below = m.check_applicability(definition, trip("0.499"), channel="partner")
    assert [r.as_dict() for r in below] == [{
        "code": "distance_out_of_bounds", "outcome": "reject",
        "message": "distance_km 0.499 is below the minimum 0.5 km."}]
    above = m.check_applicability(definition, trip("100.01"), channel="partner")
    assert above[0].message == "distance_km 100.01 is above the maximum 100 km."


def test_speed_is_shown_to_three_decimals_and_checked_exactly():
    definition = distance_definition(max_speed_kmh="85.714")
    reasons = m.check_applicability(definition, trip("10", 7), channel="partner")  # 85.7142… km/h
    assert reasons == [m.Reason("speed_out_of_bounds",
                                "speed_kmh 85.714 is above the maximum 85.714 km/h.", "reject")]
    assert m.check_applicability(distance_definition(max_speed_kmh="90"), trip("10", 7),
                                 channel="partner") == []


def test_duration_and_other_quantities_have_bounds_too():
    definition = m.parse_definition(
        family="ev_charging", parameters=EV_PARAMETERS,
        rules={"max_duration_min": "600", "min_energy_kwh": "1", "max_energy_kwh": "150"})
    session = {"energy_kwh": D("0.5"), "started_at": START,
               "ended_at": START + dt.timedelta(hours=11)}
    reasons = m.check_applicability(definition, session, channel="partner")
    assert [(r.code, r.message) for r in reasons] == [
        ("energy_out_of_bounds", "energy_kwh 0.5 is below the minimum 1 kWh."),
        ("duration_out_of_bounds", "duration_min 660 is above the maximum 600 min.")]


def test_bounds_apply_only_to_the_quantities_present():
    definition = distance_definition(min_weight_kg="1", max_boardings="1", min_distance_km="1")
    reasons = m.check_applicability(definition, {"boardings": 5, "weight_kg": D("0.1")},
                                    channel="partner")
    assert codes(reasons) == ["weight_out_of_bounds", "boardings_out_of_bounds"]
    assert m.check_applicability(definition, {}, channel="partner") == []


@pytest.mark.parametrize("policy, app_codes, outcome", [
    ("allowed", [], "accept"),
    ("review", ["self_report_review"], "review"),
    ("refused", ["self_report_refused"], "reject"),
])
def test_self_report_policy_applies_to_the_app_channel_only(policy, app_codes, outcome):
    definition = distance_definition(self_report=policy)
    app = m.check_applicability(definition, trip("5", 20), channel="app")
    assert codes(app) == app_codes and m.decide(app) == outcome
    assert m.check_applicability(definition, trip("5", 20), channel="partner") == []


def test_the_self_report_policy_defaults_to_review():
    assert distance_definition().rules.self_report == "review"
    reasons = m.check_applicability(distance_definition(), trip("5"), channel="app")
    assert reasons == [m.Reason("self_report_review",
                                "Self-reported claims for this scope need an auditor's review.",
                                "review")]


def test_an_unknown_channel_is_a_programming_error():
    with pytest.raises(ValueError, match="channel must be one of"):
        m.check_applicability(distance_definition(), trip("5"), channel="kiosk")


def test_a_speed_bound_without_times_sends_only_a_self_report_to_review():
    definition = distance_definition(max_speed_kmh="30", self_report="allowed")
    reasons = m.check_applicability(definition, trip("5"), channel="app")
    assert codes(reasons) == ["speed_unverifiable"] and m.decide(reasons) == "review"
    assert m.check_applicability(definition, trip("5"), channel="partner") == []


def test_a_window_that_does_not_move_forward_is_rejected_without_a_speed():
    definition = distance_definition(max_speed_kmh="30", max_duration_min="60",
                                     self_report="allowed")
    for minutes in (0, -5):
        reasons = m.check_applicability(definition, trip("5", minutes), channel="app")
        assert reasons == [m.Reason("bad_time_window", "ended_at must be after started_at.",
                                    "reject")]


def test_only_a_category_family_checks_the_category():
    recycle = m.parse_definition(family="recyclables",
                                 parameters=[param("EF_paper", "3.46", "kgCO2e/kg")], rules={})
    reasons = m.check_applicability(recycle, {"category": "glass", "weight_kg": D("1")},
                                    channel="partner")
    assert reasons == [m.Reason("category_not_covered",
                                "Category 'glass' is not covered by this methodology.", "reject")]
    assert m.check_applicability(recycle, {"category": "paper"}, channel="partner") == []
    assert m.check_applicability(distance_definition(), {"category": "glass"},
                                 channel="partner") == []


def test_reasons_come_in_rule_order_and_reject_wins():
    definition = m.parse_definition(family="recyclables",
                                    parameters=[param("EF_paper", "3.46", "kgCO2e/kg")],
                                    rules={"max_weight_kg": "50", "self_report": "review"})
    reasons = m.check_applicability(definition, {"category": "wood", "weight_kg": D("51")},
                                    channel="app")
    assert codes(reasons) == ["self_report_review", "category_not_covered",
                              "weight_out_of_bounds"]
    assert m.decide(reasons) == "reject"


# --- diff_snapshots ----------------------------------------------------------------------------

def test_diff_of_identical_snapshots_is_empty():
    snapshot = {"family": "transit_distance", "parameters": [param("RF", "97", "gCO2/km")],
                "applicability": {"self_report": "review"}}
    assert m.diff_snapshots(snapshot, dict(snapshot)) == []


def test_diff_lists_added_removed_and_changed_fields_in_name_order():
    a = {"family": "transit_distance", "formula_text": "old",
         "parameters": [param("RF", "97", "gCO2/km"), param("EF_old", "1", "gCO2/km")],
         "applicability": {"self_report": "review", "max_distance_km": "100"}}
    b = {"family": "transit_distance", "formula_text": "new", "daily_cap_g": "5000.000",
         "parameters": [param("RF", "98", "gCO2/km", status="doc"),
                        param("EF_new", "2", "gCO2/km")],
         "applicability": {"self_report": "review", "min_distance_km": "1"}}
    assert m.diff_snapshots(a, b) == [
        {"field": "applicability.max_distance_km", "change": "changed", "from": "100", "to": None},
        {"field": "applicability.min_distance_km", "change": "changed", "from": None, "to": "1"},
        {"field": "daily_cap_g", "change": "changed", "from": None, "to": "5000.000"},
        {"field": "formula_text", "change": "changed", "from": "old", "to": "new"},
        {"field": "parameters.EF_new", "change": "added", "from": None,
         "to": param("EF_new", "2", "gCO2/km")},
        {"field": "parameters.EF_old", "change": "removed", "from": param("EF_old", "1", "gCO2/km"),
         "to": None},
        {"field": "parameters.RF.source_status", "change": "changed", "from": "secondary",
         "to": "doc"},
        {"field": "parameters.RF.value", "change": "changed", "from": "97", "to": "98"},
    ]


def test_diff_treats_missing_parameters_and_rules_as_empty():
    a = {"parameters": None, "applicability": None}
    b = {"parameters": [param("RF", "1", "gCO2/km")], "applicability": {"self_report": "allowed"}}
    assert [(c["field"], c["change"]) for c in m.diff_snapshots(a, b)] == [
        ("applicability.self_report", "changed"), ("parameters.RF", "added")]
    assert m.diff_snapshots({}, {"parameters": [], "applicability": {}}) == []


# --- the seeded methodologies (golden values) --------------------------------------------------

def seeded() -> dict[str, m.Definition]:
    data = json.loads(SEED.read_text(encoding="utf-8"))
    return {f"{entry['code']} v{version['version']}": m.parse_definition(
                family=version["family"], parameters=version["parameters"],
                rules=version["applicability"], action_type=entry["action_type"])
            for entry in data["methodologies"] for version in entry["versions"]}


@pytest.mark.parametrize("version, activity, grams", [
    ("SH-METRO v1", {"distance_km": D("0.5")}, "48.500"),           # 97 × 0.5
    ("SH-METRO v1", {"distance_km": D("12.345")}, "1197.465"),      # 97 × 12.345
    ("SH-BUS-BOARDING v1", {"boardings": 1}, "422.000"),            # 422 × 1
    ("SH-BIKESHARE v1", {"distance_km": D("3.3")}, "323.400"),      # 98 × 3.3
    ("BJ-WALK v1", {"distance_km": D("2.25")}, "234.000"),          # (104 − 0) × 2.25
    ("EV-CHARGING-CN v1", {"energy_kwh": D("7.5")}, "1353.000"),    # 5332.5 − 3979.5
    ("EV-CHARGING-CN v1", {"energy_kwh": 0}, "0.000"),
    ("RECYCLABLES-CN v1", {"category": "textile", "weight_kg": D("0.25")}, "900.000"),
    ("RECYCLABLES-CN v1", {"category": "kitchen", "weight_kg": D("0.5")}, "50.000"),
    ("RECYCLABLES-CN v1", {"category": "plastic", "weight_kg": D("0.0015")}, "1.260"),
    ("SZ-PT-METRO v1", {"distance_km": D("10")}, "467.000"),        # 46.7 × 10
])
def test_seeded_methodologies_compute_the_hand_worked_values(version, activity, grams):
    result = m.calculate(seeded()[version], activity)
    assert result.reduction_g == D(grams)
    assert str(result.reduction_g) == grams
    assert result.breakdown[-1]["value"] == grams


def test_every_seeded_version_parses_into_its_family():
    definitions = seeded()
    assert {d.family for d in definitions.values()} == set(vocabulary.CALCULATOR_FAMILIES)
    assert definitions["SH-BUS-BOARDING v1"].rules.bounds == {"boardings": (D(1), D(1))}
