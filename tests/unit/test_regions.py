"""The registry of Suzhou's districts and the parser every region a client sends goes through."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from carbon_credits.domain import regions
from carbon_credits.domain.errors import ValidationFailed


def test_registry_holds_the_sourced_codes_under_suzhou():
    assert set(regions.REGION_CODES) == {"320505", "320506", "320507", "320508", "320509",
                                         "320571", "320581", "320582", "320583", "320585"}
    assert all(r.parent == regions.CITY_CODE == "320500" for r in regions.REGIONS)
    assert [r.code for r in regions.REGIONS if r.statistical] == ["320571"]  # SIP: not GB/T 2260
    assert regions.BY_CODE["320505"].name_zh == "虎丘区"


@given(st.sampled_from(regions.REGION_CODES))
def test_a_known_code_is_stored_as_sent(code):
    assert regions.normalise_region(code) == code


def test_a_retired_code_is_stored_as_its_current_one():
    assert regions.normalise_region("320584") == "320509"


@given(st.one_of(st.text(max_size=12), st.integers(), st.none(), st.booleans(), st.floats(),
                 st.lists(st.text(max_size=6), max_size=2)))
def test_anything_outside_the_registry_is_refused(value):
    if isinstance(value, str) and (value in regions.REGION_CODES or value in regions.RETIRED_CODES):
        return
    with pytest.raises(ValidationFailed) as refused:
        regions.normalise_region(value)
    assert refused.value.code == "unknown_region" and "region" in refused.value.errors


@given(st.text(alphabet="0123456789", min_size=6, max_size=6))
def test_six_digits_pass_only_when_registered(code):
    known = code in regions.REGION_CODES or code in regions.RETIRED_CODES
    try:
        stored = regions.normalise_region(code)
    except ValidationFailed:
        assert not known
    else:
        assert known and stored in regions.REGION_CODES


@pytest.mark.parametrize("value", ["320500", "320505 ", " 320505", "３２０５０５", "320576",
                                   "32050５", 320505, "0x4e3c9"])
def test_lookalikes_and_the_city_itself_are_refused(value):
    with pytest.raises(ValidationFailed):
        regions.normalise_region(value)


def test_optional_region_keeps_none():
    assert regions.optional_region(None) is None


@given(st.sampled_from((None,) + regions.REGION_CODES), st.sampled_from((None,) + regions.REGION_CODES),
       st.sampled_from((None,) + regions.REGION_CODES))
def test_an_action_counts_for_station_then_partner_then_citizen(station, partner, citizen):
    expected = station if station else partner if partner else citizen
    assert regions.action_region(station=station, partner=partner, citizen=citizen) == expected
