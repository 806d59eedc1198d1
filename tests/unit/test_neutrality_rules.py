"""The neutrality rule of carbon-neutral events, as integers (docs/events.md)."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, strategies as st

from carbon_credits.domain import neutrality
from carbon_credits.domain.vocabulary import MAX_EVENT_FOOTPRINT_G

DAY = dt.date(2026, 3, 15)


def test_neutral_exactly_at_the_footprint_and_not_a_milligram_below():
    assert neutrality.neutrality(footprint_g=3000, retired_mg=3_000_000).neutral
    below = neutrality.neutrality(footprint_g=3000, retired_mg=2_999_999)
    assert not below.neutral and below.shortfall_mg == 1


@given(footprint_g=st.integers(1, MAX_EVENT_FOOTPRINT_G), retired_mg=st.integers(0, 10**18))
def test_neutral_is_exactly_no_shortfall(footprint_g, retired_mg):
    judged = neutrality.neutrality(footprint_g=footprint_g, retired_mg=retired_mg)
    assert judged.neutral == (judged.shortfall_mg == 0) == (retired_mg >= footprint_g * 1000)
    assert judged.shortfall_mg + min(retired_mg, judged.footprint_mg) == judged.footprint_mg


@pytest.mark.parametrize("footprint_g, retired_mg", [(0, 0), (True, 0), (3.0, 0), (1, -1), (1, 0.5)])
def test_only_whole_numbers_are_judged(footprint_g, retired_mg):
    with pytest.raises(ValueError):
        neutrality.neutrality(footprint_g=footprint_g, retired_mg=retired_mg)


def test_an_event_record_is_checked_field_by_field():
    assert neutrality.event_errors(kind="wedding", starts_on=DAY, ends_on=DAY, footprint_g=1) == {}
    assert set(neutrality.event_errors(kind="picnic", starts_on=DAY,
                                       ends_on=DAY - dt.timedelta(days=1), footprint_g=0)) == {
        "kind", "ends_on", "footprint_g"}
    last = DAY + dt.timedelta(days=neutrality.MAX_EVENT_DAYS - 1)
    assert neutrality.event_errors(kind="exhibition", starts_on=DAY, ends_on=last, footprint_g=1) == {}
    assert "ends_on" in neutrality.event_errors(kind="exhibition", starts_on=DAY,
                                                ends_on=last + dt.timedelta(days=1), footprint_g=1)
    assert "footprint_g" in neutrality.event_errors(kind="other", starts_on=DAY, ends_on=DAY,
                                                    footprint_g=MAX_EVENT_FOOTPRINT_G + 1)
