"""The `per_event` family and its daily count cap, without a database: parameters, rules,
arithmetic and breakdown, and the cap as the crediting policy applies it (hypothesis)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbon_credits.domain import crediting
from carbon_credits.domain import methodology as m
from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.vocabulary import grams_to_mg

D = Decimal


def param(name, value, unit, status="press"):
    return {"name": name, "value": str(value), "unit": unit, "source": "test source",
            "source_status": status}


def definition(parameters, **rules):
    return m.parse_definition(family="per_event", parameters=parameters,
                              rules={"max_events_per_day": 3, **rules}, action_type="everyday")


def refusal(parameters, rules) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as refused:
        m.parse_definition(family="per_event", parameters=parameters, rules=rules)
    return refused.value


def test_a_fixed_reduction_per_event_with_its_breakdown():
    d = definition([param("EF_event", 23, "gCO2e/event")])
    calc = m.calculate(d, {"events": 2})
    assert calc.reduction_g == D("46.000")
    assert [(s["kind"], s["name"]) for s in calc.breakdown] == [
        ("parameter", "EF_event"), ("input", "events"), ("intermediate", "ER"),
        ("result", "reduction_g")]
    assert m.count_cap_mg(d) == 69_000


def test_a_per_kg_factor_times_an_assumed_mass_keeps_both_in_the_breakdown():
    d = definition([param("EF_kg", "3.6", "kgCO2/kg"),
                    param("M_event", "500", "g/event", "scheme_design_choice")])
    calc = m.calculate(d, {"events": 3})
    steps = {s["name"]: s for s in calc.breakdown}
    assert steps["M_event"]["canonical_value"] == "0.500"
    assert steps["ER_event"]["value"] == "1800.0000"
    assert calc.reduction_g == D("5400.000")
    assert m.count_cap_mg(d) == 3 * 1_800_000


def test_no_events_sent_is_refused_not_invented():
    d = definition([param("EF_event", 5, "gCO2e/event")])
    with pytest.raises(ValidationFailed) as refused:
        m.calculate(d, {})
    assert "activity.events" in refused.value.errors
    assert m.missing_inputs("per_event", {"occurred_at"}) == ["events"]


@pytest.mark.parametrize("parameters, rules, field", [
    ([param("EF_event", 5, "gCO2e/event")], {}, "applicability"),
    ([param("EF_event", 5, "gCO2e/event")], {"max_events_per_day": 0},
     "applicability.max_events_per_day"),
    ([param("EF_event", 5, "gCO2e/event")], {"max_events_per_day": 1001},
     "applicability.max_events_per_day"),
    ([param("EF_event", 5, "gCO2e/event")], {"max_events_per_day": True},
     "applicability.max_events_per_day"),
    ([param("EF_event", 5, "gCO2e/event")], {"max_events_per_day": 2.5},
     "applicability.max_events_per_day"),
    ([param("EF_event", "5.0005", "gCO2e/event")], {"max_events_per_day": 2}, "parameters"),
    ([param("EF_event", 0, "gCO2e/event")], {"max_events_per_day": 2}, "parameters"),
    ([param("EF_kg", "3.6", "kgCO2/kg")], {"max_events_per_day": 2}, "parameters"),
    ([param("EF_event", 5, "gCO2e/kg")], {"max_events_per_day": 2}, "parameters"),
    ([param("EF_event", 5, "gCO2e/event"), param("RF", 1, "gCO2/km")],
     {"max_events_per_day": 2}, "parameters"),
])
def test_bad_per_event_definitions_are_refused(parameters, rules, field):
    assert field in refusal(parameters, rules).errors


def test_other_families_refuse_a_count_cap():
    with pytest.raises(ValidationFailed) as refused:
        m.parse_definition(family="recyclables", parameters=[param("EF_paper", 1, "kgCO2e/kg")],
                           rules={"max_events_per_day": 2})
    assert "applicability" in refused.value.errors


def test_per_event_serves_only_everyday():
    with pytest.raises(ValidationFailed):
        m.parse_definition(family="per_event", parameters=[param("EF_event", 5, "gCO2e/event")],
                           rules={"max_events_per_day": 2}, action_type="transit")


@given(grams_per_event=st.integers(min_value=1, max_value=10**7).map(lambda mg: D(mg) / 1000),
       cap_events=st.integers(min_value=1, max_value=50),
       records=st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=30))
def test_a_day_never_credits_more_than_its_count_cap(grams_per_event, cap_events, records):
    """Whatever the records of one citizen's day, what is credited is exactly
    min(events, cap) events' worth: never more, and nothing lost below the cap."""
    d = definition([param("EF_event", grams_per_event, "gCO2e/event")],
                   max_events_per_day=cap_events)
    cap_mg = m.count_cap_mg(d)
    used = 0
    for events in records:
        reduction = grams_to_mg(m.calculate(d, {"events": events}).reduction_g)
        credit = crediting.credit(reduction_mg=reduction, used_mg=used, cap_mg=cap_mg,
                                  scope="everyday:own_bag", points_per_gram=1)
        used += credit.credited_mg
    assert used == min(sum(records), cap_events) * grams_to_mg(grams_per_event)
