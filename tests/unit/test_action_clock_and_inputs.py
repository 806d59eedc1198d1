"""Pure rules: one instant per action, and the inputs each calculator family needs."""
from __future__ import annotations

import datetime as dt

import pytest

from carbon_credits.domain import actions as rules
from carbon_credits.domain import methodology as m

END = dt.datetime(2025, 3, 1, 15, 58, tzinfo=dt.timezone.utc)


def test_a_windowed_action_happens_when_it_ends():
    assert rules.action_instant(occurred_at=None, ended_at=END) == END
    assert rules.action_instant(occurred_at=END + dt.timedelta(minutes=4), ended_at=END) == END
    assert rules.action_instant(occurred_at=END, ended_at=None) == END
    with pytest.raises(ValueError):
        rules.action_instant(occurred_at=None, ended_at=None)


@pytest.mark.parametrize("offset, agree", [
    (dt.timedelta(0), True), (dt.timedelta(minutes=5), True), (-dt.timedelta(minutes=5), True),
    (dt.timedelta(minutes=5, seconds=1), False), (-dt.timedelta(days=10), False)])
def test_a_sent_occurred_at_must_agree_with_the_end(offset, agree):
    assert rules.clocks_agree(occurred_at=END + offset, ended_at=END) is agree
    assert rules.clocks_agree(occurred_at=END + offset, ended_at=None) is True


def test_every_family_says_what_it_needs():
    assert set(m.INPUTS) == set(m.FAMILIES)
    assert m.required_inputs("transit_boarding") == {
        "required": ("boardings", "occurred_at"),
        "optional": ("started_at", "ended_at", "distance_km")}
    assert m.missing_inputs("transit_boarding", {"distance_km", "occurred_at"}) == ["boardings"]
    assert m.missing_inputs("transit_distance", {"boardings", "occurred_at"}) == [
        "distance_km", "started_at", "ended_at"]
    assert m.missing_inputs("ev_charging", {"energy_kwh", "started_at", "ended_at",
                                            "station_id", "occurred_at"}) == []
    assert m.missing_inputs("recyclables", {"weight_kg", "occurred_at"}) == ["category",
                                                                             "station_id"]
    with pytest.raises(ValueError):
        m.required_inputs("teleport")
