"""Calculator families: exact arithmetic, one rounding step, breakdowns, applicability."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from carbon_credits.domain import methodology as m
from carbon_credits.domain.errors import ValidationFailed

D = Decimal
UTC = dt.timezone.utc


def param(name, value, unit, status="secondary", source="test source"):
    return {"name": name, "value": str(value), "unit": unit, "source": source,
            "source_status": status}


METRO = m.parse_definition(family="transit_distance",
                           parameters=[param("RF", "97", "gCO2/km", source="sthj.sh.gov.cn Q&A")],
                           rules={"min_distance_km": "0.5", "max_distance_km": "100",
                                  "min_speed_kmh": "5", "max_speed_kmh": "100",
                                  "self_report": "review"})
WALK = m.parse_definition(family="transit_distance",
                          parameters=[param("EF_baseline", "0.104", "kgCO2/passenger-km"),
                                      param("EF_mode", "0", "gCO2/passenger-km",
                                            "scheme_design_choice")],
                          rules={"max_distance_km": "20", "min_speed_kmh": "2",
                                 "max_speed_kmh": "8", "self_report": "allowed"})
BUS = m.parse_definition(family="transit_boarding",
                         parameters=[param("RF_trip", "422", "gCO2/trip")], rules={})
EV = m.parse_definition(family="ev_charging", parameters=[
    param("EC_ev", "20", "kWh/100km", "scheme_design_choice"),
    param("FC_ice", "6.0", "L/100km", "scheme_design_choice"),
    param("EF_fuel", "2.37", "kgCO2/L", "press"),
    param("EF_grid", "0.5306", "kgCO2/kWh", "press")], rules={})
RECYCLE = m.parse_definition(family="recyclables", parameters=[
    param("EF_paper", "3.46", "kgCO2e/kg"), param("EF_kitchen", "0.1", "kgCO2e/kg",
                                                  "scheme_design_choice")], rules={})


def test_ten_km_metro_trip_under_sh_metro_is_970_grams_naming_the_97_factor():
    result = m.calculate(METRO, {"distance_km": D("10")})
    assert result.reduction_g == D("970.000")
    assert str(result.reduction_g) == "970.000"
    factor = result.breakdown[0]
    assert factor["kind"] == "parameter" and factor["name"] == "RF"
    assert factor["value"] == "97" and factor["unit"] == "gCO2/km"
    assert factor["source"] == "sthj.sh.gov.cn Q&A" and factor["source_status"] == "secondary"
    assert [s["kind"] for s in result.breakdown] == ["parameter", "input", "intermediate", "result"]
    assert [s["step"] for s in result.breakdown] == [1, 2, 3, 4]
    assert result.breakdown[-1]["value"] == "970.000"


def test_walk_uses_baseline_minus_mode_with_unit_conversion():
    result = m.calculate(WALK, {"distance_km": D("2")})
    assert result.reduction_g == D("208.000")
    baseline = result.breakdown[0]
    assert baseline["canonical_value"] == "104.000" and baseline["canonical_unit"] == "gCO2e/km"
    names = [s["name"] for s in result.breakdown if s["kind"] == "intermediate"]
    assert names == ["BE", "PE", "ER"]


def test_bus_per_boarding_needs_the_number_of_boardings():
    with pytest.raises(m.ValidationFailed) as refused:
        m.calculate(BUS, {})  # no boarding count is invented
    assert "activity.boardings" in refused.value.errors
    assert m.calculate(BUS, {"boardings": 3}).reduction_g == D("1266.000")


def test_ev_charging_worked_example():
    result = m.calculate(EV, {"energy_kwh": D("10")})
    values = {s["name"]: s["value"] for s in result.breakdown if s["kind"] == "intermediate"}
    assert D(values["km"]) == 50 and D(values["BE"]) == 7110 and D(values["PE"]) == D("5306")
    assert result.reduction_g == D("1804.000")


def test_ev_charging_is_never_negative_on_a_dirty_grid():
    dirty = m.parse_definition(family="ev_charging", parameters=[
        param("EC_ev", "0.2", "kWh/km"), param("FC_ice", "0.06", "L/km"),
        param("EF_fuel", "2.37", "kgCO2/L"), param("EF_grid", "2", "kgCO2/kWh")], rules={})
    result = m.calculate(dirty, {"energy_kwh": D("10")})
    assert result.reduction_g == D("0.000")


def test_recyclables_by_category():
    assert m.calculate(RECYCLE, {"category": "paper", "weight_kg": D("2")}).reduction_g == D("6920.000")
    assert m.calculate(RECYCLE, {"category": "kitchen", "weight_kg": D("1.5")}).reduction_g == D("150.000")
    with pytest.raises(ValidationFailed):
        m.calculate(RECYCLE, {"category": "glass", "weight_kg": D("1")})


def test_rounding_is_half_even_and_happens_once():
    tiny = m.parse_definition(family="transit_distance",
                              parameters=[param("RF", "0.0005", "gCO2/km")], rules={})
    assert m.calculate(tiny, {"distance_km": D("1")}).reduction_g == D("0.000")   # half to even
    assert m.calculate(tiny, {"distance_km": D("3")}).reduction_g == D("0.002")   # 0.0015 -> 0.002
    # rounding per step would give 3 x 0.000 = 0; one rounding at the end gives 0.002


def test_points_round_down_to_whole_points():
    assert m.points_for(D("970.000"), 1) == 970
    assert m.points_for(D("970.999"), 1) == 970
    assert m.points_for(D("0.999"), 1) == 0
    assert m.points_for(D("1.5"), 3) == 4


@pytest.mark.parametrize("family, parameters, field", [
    ("nope", [param("RF", "1", "gCO2/km")], "family"),
    ("transit_distance", [], "parameters"),
    ("transit_distance", [param("RF", "-1", "gCO2/km")], "parameters.0.value"),
    ("transit_distance", [param("RF", "NaN", "gCO2/km")], "parameters.0.value"),
    ("transit_distance", [param("RF", "1", "furlongs")], "parameters.0.unit"),
    ("transit_distance", [param("RF", "1", "gCO2/km", status="rumour")], "parameters.0.source_status"),
    ("transit_distance", [param("RF", "1", "gCO2/km", source=" ")], "parameters.0.source"),
    ("transit_distance", [param("RF", "1", "kgCO2/kWh")], "parameters"),
    ("transit_distance", [param("EF_baseline", "1", "gCO2/km"), param("EF_mode", "2", "gCO2/km")],
     "parameters"),
    ("transit_boarding", [param("RF", "1", "gCO2/km")], "parameters"),
    ("ev_charging", [param("EC_ev", "0", "kWh/km"), param("FC_ice", "1", "L/km"),
                     param("EF_fuel", "1", "kgCO2/L"), param("EF_grid", "1", "kgCO2/kWh")],
     "parameters"),
    ("transit_distance", [param("RF", "1", "gCO2/km"), param("RF", "2", "gCO2/km")], "parameters.1.name"),
    ("transit_distance", [param("RF", "1", "gCO2/km"), param("extra", "2", "gCO2/km")], "parameters"),
])
def test_bad_definitions_are_refused_with_the_field(family, parameters, field):
    with pytest.raises(ValidationFailed) as error:
        m.parse_definition(family=family, parameters=parameters, rules={})
    assert field in error.value.errors


def test_family_must_serve_the_scope():
    with pytest.raises(ValidationFailed):
        m.parse_definition(family="recyclables", parameters=[param("EF_paper", "1", "kgCO2e/kg")],
                           rules={}, action_type="transit")


def test_rules_are_validated():
    for rules in ({"min_distance_km": "5", "max_distance_km": "1"}, {"self_report": "maybe"},
                  {"unknown_rule": 1}, {"max_speed_kmh": "fast"}):
        with pytest.raises(ValidationFailed):
            m.parse_definition(family="transit_boarding",
                               parameters=[param("RF_trip", "1", "gCO2/trip")], rules=rules)


def _trip(km, minutes):
    start = dt.datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    return {"distance_km": D(km), "started_at": start, "ended_at": start + dt.timedelta(minutes=minutes)}


def test_applicability_accepts_a_plausible_operator_trip():
    assert m.check_applicability(METRO, _trip("10", 25), channel="partner") == []
    assert m.decide([]) == "accept"


def test_self_report_of_a_partner_scope_goes_to_review():
    reasons = m.check_applicability(METRO, _trip("10", 25), channel="app")
    assert [r.code for r in reasons] == ["self_report_review"]
    assert m.decide(reasons) == "review"


def test_impossible_walk_is_rejected_with_reasons():
    reasons = m.check_applicability(WALK, _trip("30", 10), channel="app")
    codes = {r.code for r in reasons}
    assert codes == {"distance_out_of_bounds", "speed_out_of_bounds"}
    assert m.decide(reasons) == "reject"
    assert any("180" in r.message for r in reasons)


def test_too_short_and_too_slow_trips_are_rejected():
    assert {r.code for r in m.check_applicability(METRO, _trip("0.2", 1), channel="partner")} \
        == {"distance_out_of_bounds"}
    assert {r.code for r in m.check_applicability(METRO, _trip("1", 60), channel="partner")} \
        == {"speed_out_of_bounds"}


def test_time_window_must_move_forward_and_speed_needs_times():
    assert [r.code for r in m.check_applicability(METRO, _trip("5", 0), channel="partner")] \
        == ["bad_time_window"]
    walk = {"distance_km": D("5")}
    assert m.check_applicability(METRO, walk, channel="partner") == []
    reasons = m.check_applicability(WALK, walk, channel="app")
    assert [r.code for r in reasons] == ["speed_unverifiable"] and m.decide(reasons) == "review"


def test_refused_self_report_and_uncovered_category_reject():
    strict = m.parse_definition(family="recyclables",
                                parameters=[param("EF_paper", "3.46", "kgCO2e/kg")],
                                rules={"self_report": "refused", "max_weight_kg": "50"})
    reasons = m.check_applicability(strict, {"category": "glass", "weight_kg": D("60")}, channel="app")
    assert {r.code for r in reasons} == {"self_report_refused", "category_not_covered",
                                         "weight_out_of_bounds"}
    assert all(r.outcome == "reject" for r in reasons)


def test_diff_names_changed_parameters():
    a = {"family": "transit_distance", "parameters": [param("RF", "97", "gCO2/km")],
         "applicability": {"self_report": "review"}, "daily_cap_g": "5000.000"}
    b = {"family": "transit_distance", "parameters": [param("RF", "98", "gCO2/km"),
                                                     param("EF_x", "1", "gCO2/km")],
         "applicability": {"self_report": "allowed"}, "daily_cap_g": "5000.000"}
    changes = {c["field"]: c for c in m.diff_snapshots(a, b)}
    assert changes["parameters.RF.value"]["from"] == "97" and changes["parameters.RF.value"]["to"] == "98"
    assert changes["parameters.EF_x"]["change"] == "added"
    assert changes["applicability.self_report"]["to"] == "allowed"
    assert "daily_cap_g" not in changes


# --- properties ------------------------------------------------------------------------------

amounts = st.decimals(min_value=D("0"), max_value=D("100000"), places=6, allow_nan=False,
                      allow_infinity=False)
factors = st.decimals(min_value=D("0"), max_value=D("100000"), places=6, allow_nan=False,
                      allow_infinity=False)
DEFINITIONS = [(METRO, "distance_km"), (WALK, "distance_km"), (EV, "energy_kwh")]


def _activity(name, value):
    return {name: value, "category": "paper", "weight_kg": value} if name == "weight_kg" else {name: value}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(DEFINITIONS + [(RECYCLE, "weight_kg")]), amounts, amounts)
def test_reduction_is_never_negative_monotone_and_deterministic(case, x, y):
    definition, name = case
    low, high = sorted((x, y))
    a = m.calculate(definition, _activity(name, low))
    b = m.calculate(definition, _activity(name, high))
    assert a.reduction_g >= 0 and b.reduction_g >= 0
    assert a.reduction_g <= b.reduction_g
    again = m.calculate(definition, _activity(name, low))
    assert again.reduction_g == a.reduction_g and again.breakdown == a.breakdown


@settings(max_examples=150, deadline=None)
@given(factors, factors, amounts)
def test_any_valid_distance_definition_is_non_negative_and_rounding_is_stable(baseline, mode, km):
    baseline, mode = max(baseline, mode), min(baseline, mode)
    definition = m.parse_definition(family="transit_distance", parameters=[
        param("EF_baseline", baseline, "gCO2/km"), param("EF_mode", mode, "gCO2/km")], rules={})
    result = m.calculate(definition, {"distance_km": km})
    assert result.reduction_g >= 0
    assert result.reduction_g.as_tuple().exponent == -3
    assert m.quantise_grams(result.reduction_g) == result.reduction_g
    exact = (baseline - mode) * km
    assert abs(result.reduction_g - exact) <= D("0.0005")


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000))
def test_boardings_are_linear(a, b):
    total = m.calculate(BUS, {"boardings": a + b}).reduction_g
    assert total == m.calculate(BUS, {"boardings": a}).reduction_g + m.calculate(BUS, {"boardings": b}).reduction_g
