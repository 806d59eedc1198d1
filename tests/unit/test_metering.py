"""Household metering rules without a database: periods, the baseline a version defines from a
meter's own history, the metered_baseline family's arithmetic, and the exact split among
members (hypothesis: nothing lost, nothing invented, nobody favoured)."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbon_credits.domain import metering
from carbon_credits.domain import methodology as m
from carbon_credits.domain.errors import ValidationFailed

D = Decimal
NOV = dt.date(2026, 11, 1)


def history(**months) -> dict:
    """{"2025-11": 230, "2025-10": ("12", True)} -> readings (value, estimated)."""
    found = {}
    for key, value in months.items():
        period = metering.parse_period(key.replace("_", "-")[1:])
        consumption, estimated = value if isinstance(value, tuple) else (value, False)
        found[period] = metering.Reading(period, D(str(consumption)), estimated)
    return found


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "26-11", "2026-1", "2026-11-01", "", None, 202611])
def test_a_period_is_a_month_written_yyyy_mm(text):
    with pytest.raises(ValueError):
        metering.parse_period(text)


@given(st.integers(2000, 2100), st.integers(1, 12), st.integers(-300, 300))
def test_month_arithmetic_round_trips(year, month, offset):
    period = dt.date(year, month, 1)
    moved = metering.add_months(period, offset)
    assert moved.day == 1 and metering.add_months(moved, -offset) == period
    assert metering.parse_period(metering.period_text(period)) == period


def test_same_month_last_year_and_its_absence():
    found = metering.baseline(method="same_month_last_year", months=1, min_readings=1,
                              period=NOV, history=history(y2025_11=230, y2026_10=100))
    assert found.value == 230 and found.periods == (dt.date(2025, 11, 1),)
    assert found.basis == "same_month_last_year: mean of 2025-11"
    assert metering.baseline(method="same_month_last_year", months=1, min_readings=1,
                             period=NOV, history=history(y2026_10=100)) is None


def test_an_estimated_month_is_never_a_reference():
    assert metering.baseline(method="same_month_last_year", months=1, min_readings=1,
                             period=NOV, history=history(y2025_11=(230, True))) is None


def test_trailing_average_needs_its_minimum_of_actual_readings():
    h = history(y2026_10=13, y2026_09=11, y2026_08=12)
    found = metering.baseline(method="trailing_average", months=3, min_readings=2, period=NOV,
                              history=h)
    assert found.value == 12
    h = history(y2026_10=13, y2026_09=(1, True))
    assert metering.baseline(method="trailing_average", months=3, min_readings=2, period=NOV,
                             history=h) is None


def definition(**rules):
    return m.parse_definition(
        family="metered_baseline", action_type="household_energy",
        parameters=[{"name": "EF_grid", "value": "0.5500", "unit": "kgCO2/kWh", "source": "s",
                     "source_status": "press"},
                    {"name": "S_max", "value": "30", "unit": "%", "source": "s",
                     "source_status": "scheme_design_choice"}],
        rules={"baseline_method": "same_month_last_year", "baseline_months": 1,
               "min_baseline_readings": 1, **rules})


@pytest.mark.parametrize("consumption, baseline, grams", [
    ("200", "230", "16500.000"),      # 30 kWh saved
    ("260.5", "230", "0.000"),        # above the baseline: nothing, never negative
    ("20", "230", "37950.000"),       # 210 saved, capped at 30% of 230 = 69
    ("230", "230", "0.000"),
    ("229.999", "230", "0.550"),
])
def test_the_metered_saving(consumption, baseline, grams):
    calc = m.calculate(definition(), {"consumption": D(consumption), "baseline": D(baseline)})
    assert calc.reduction_g == D(grams)


@pytest.mark.parametrize("rules, field", [
    ({"baseline_method": None}, "applicability"),
    ({"baseline_method": "median"}, "applicability.baseline_method"),
    ({"baseline_months": 0}, "applicability.baseline_months"),
    ({"baseline_months": 25}, "applicability.baseline_months"),
    ({"min_baseline_readings": "1"}, "applicability.min_baseline_readings"),
    ({"max_events_per_day": 3}, "applicability"),
])
def test_bad_metered_rules_are_refused(rules, field):
    with pytest.raises(ValidationFailed) as refused:
        definition(**rules)
    assert field in refused.value.errors


@pytest.mark.parametrize("s_max", ["0", "101", "1.5"])
def test_s_max_is_a_share_of_the_baseline(s_max):
    unit = "%" if s_max != "1.5" else "fraction"
    with pytest.raises(ValidationFailed) as refused:
        m.parse_definition(family="metered_baseline", parameters=[
            {"name": "EF_water", "value": "332", "unit": "gCO2/m3", "source": "s",
             "source_status": "scheme_design_choice"},
            {"name": "S_max", "value": s_max, "unit": unit, "source": "s",
             "source_status": "scheme_design_choice"}],
            rules={"baseline_method": "trailing_average", "baseline_months": 3,
                   "min_baseline_readings": 2})
    assert "parameters" in refused.value.errors


members = st.lists(st.integers(1, 100), min_size=1, max_size=12).map(
    lambda ws: [(uuid.UUID(int=i + 1), w) for i, w in enumerate(ws)])


@given(st.integers(0, 10**13), members)
def test_a_split_adds_up_exactly_and_favours_nobody(total, weights):
    shares = metering.split_mg(total, weights)
    assert sum(shares.values()) == total
    whole = sum(w for _, w in weights)
    for member, weight in weights:
        exact = D(total) * weight / whole
        assert exact - 1 < shares[member] < exact + 1


def test_the_leftover_milligrams_go_to_the_largest_remainders():
    a, b, c = (uuid.UUID(int=i) for i in (1, 2, 3))
    assert metering.split_mg(16_500_550, [(a, 2), (b, 1), (c, 1)]) == {
        a: 8_250_275, b: 4_125_138, c: 4_125_137}
    assert metering.split_mg(2, [(c, 1), (b, 1), (a, 1)]) == {a: 1, b: 1, c: 0}


@pytest.mark.parametrize("weights", [[], [(uuid.UUID(int=1), 0)],
                                     [(uuid.UUID(int=1), 1), (uuid.UUID(int=1), 1)]])
def test_a_split_needs_distinct_members_with_positive_weights(weights):
    with pytest.raises(ValueError):
        metering.split_mg(10, weights)
