"""Pure crediting policy (carbon_credits/domain/crediting.py): the version in force, the claim
window, the status a claim's reasons lead to, the daily cap and points."""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from carbon_credits.domain import crediting
from carbon_credits.domain.methodology import points_for

UTC = dt.timezone.utc
JAN = dt.datetime(2025, 1, 1, tzinfo=UTC)
MAR = dt.datetime(2025, 3, 1, tzinfo=UTC)
JUN = dt.datetime(2025, 6, 1, tzinfo=UTC)
SECOND = dt.timedelta(seconds=1)


@dataclasses.dataclass
class Version:
    status: str
    effective_from: dt.datetime | None
    effective_until: dt.datetime | None = None
    name: str = ""


# --- version in force ------------------------------------------------------------------------

def test_effective_from_is_inclusive_and_effective_until_exclusive():
    v = Version("approved", JAN, MAR)
    assert crediting.is_in_force(v, JAN)
    assert not crediting.is_in_force(v, JAN - SECOND)
    assert crediting.is_in_force(v, MAR - SECOND)
    assert not crediting.is_in_force(v, MAR)


def test_an_open_ended_version_stays_in_force():
    assert crediting.is_in_force(Version("approved", JAN), dt.datetime(2100, 1, 1, tzinfo=UTC))


def test_a_retired_version_is_still_in_force_inside_its_window():
    retired = Version("retired", JAN, MAR)
    assert crediting.is_in_force(retired, JAN + SECOND)
    assert not crediting.is_in_force(retired, MAR)


@pytest.mark.parametrize("status", ["draft", "submitted", "rejected"])
def test_versions_not_approved_are_never_in_force(status):
    assert not crediting.is_in_force(Version(status, JAN), MAR)
    assert crediting.version_in_force([Version(status, JAN)], MAR) is None


def test_a_version_without_a_start_is_not_in_force():
    assert not crediting.is_in_force(Version("approved", None), MAR)


def test_an_action_gets_the_version_of_its_own_instant():
    old, new = Version("retired", JAN, MAR, "v1"), Version("approved", MAR, None, "v2")
    versions = [new, old]
    assert crediting.version_in_force(versions, MAR - SECOND) is old
    assert crediting.version_in_force(versions, MAR) is new  # the handover instant: the new one
    assert crediting.version_in_force(versions, JUN) is new
    assert crediting.version_in_force(versions, JAN - SECOND) is None
    assert crediting.version_in_force([], MAR) is None


def test_a_draft_never_displaces_the_approved_version():
    approved, draft = Version("approved", JAN, None, "v1"), Version("draft", MAR, None, "v2")
    assert crediting.version_in_force([draft, approved], JUN) is approved


def test_overlapping_windows_pick_the_latest_start_whatever_the_order():
    early, late = Version("approved", JAN, None, "early"), Version("approved", MAR, None, "late")
    assert crediting.version_in_force([early, late], JUN) is late
    assert crediting.version_in_force([late, early], JUN) is late


# --- the claim window --------------------------------------------------------------------------

def test_the_claim_window_boundary_instant_is_inside():
    now = JUN
    edge = now - dt.timedelta(days=7)
    assert crediting.within_claim_window(occurred_at=edge, now=now, window_days=7)
    assert not crediting.within_claim_window(occurred_at=edge - SECOND, now=now, window_days=7)
    assert crediting.claim_window_reason(occurred_at=edge, now=now, window_days=7) is None
    assert crediting.claim_window_reason(occurred_at=edge - SECOND, now=now, window_days=7) == {
        "code": "claim_window_expired", "message": "Claims must arrive within 7 days of the action.",
        "outcome": "reject"}


def test_a_claim_from_the_future_is_not_late():
    assert crediting.within_claim_window(occurred_at=JUN + SECOND, now=JUN, window_days=1)


# --- status from reasons -----------------------------------------------------------------------

def reasons(*outcomes):
    return [crediting.reason(f"r{i}", "m", outcome) for i, outcome in enumerate(outcomes)]


@pytest.mark.parametrize("outcomes, status", [
    ((), "credited"),
    (("info",), "credited"),
    (("review",), "pending_review"),
    (("info", "review"), "pending_review"),
    (("reject",), "rejected"),
    (("review", "reject"), "rejected"),
    (("reject", "review", "info"), "rejected"),
])
def test_any_reject_rejects_else_any_review_goes_to_review(outcomes, status):
    assert crediting.decide_status(reasons(*outcomes)) == status


def test_a_reason_defaults_to_reject():
    assert crediting.reason("x", "why") == {"code": "x", "message": "why", "outcome": "reject"}


# --- the daily cap -----------------------------------------------------------------------------

@pytest.mark.parametrize("reduction, used, cap, credited", [
    (970_000, 0, None, 970_000),            # no cap
    (970_000, 10**12, None, 970_000),       # no cap, however much is used
    (970_000, 0, 5_000_000, 970_000),       # well under
    (970_000, 4_030_000, 5_000_000, 970_000),  # lands exactly on the cap
    (970_000, 4_850_000, 5_000_000, 150_000),  # over: the rest up to the cap
    (970_000, 5_000_000, 5_000_000, 0),     # at the cap already
    (970_000, 6_000_000, 5_000_000, 0),     # used beyond the cap (a lowered cap): never negative
    (0, 0, 5_000_000, 0),                   # zero reduction
    (0, 6_000_000, 5_000_000, 0),
    (970_000, 0, 0, 0),                     # a zero cap credits nothing
])
def test_allowed_under_cap(reduction, used, cap, credited):
    assert crediting.allowed_under_cap(reduction_mg=reduction, used_mg=used, cap_mg=cap) == credited


def test_a_capped_credit_carries_the_one_cap_reason():
    credit = crediting.credit(reduction_mg=970_000, used_mg=4_850_000, cap_mg=5_000_000,
                              scope="transit:metro", points_per_gram=1)
    assert credit == crediting.Credit(150_000, 150, {
        "code": "daily_cap_reached", "outcome": "info",
        "message": "Daily cap of 5000.000 g for transit:metro reached: 820.000 g not credited."})


@pytest.mark.parametrize("used, cap", [(0, None), (0, 5_000_000), (4_030_000, 5_000_000)])
def test_a_credit_in_full_has_no_cap_reason(used, cap):
    credit = crediting.credit(reduction_mg=970_000, used_mg=used, cap_mg=cap, scope="walk",
                              points_per_gram=2)
    assert credit == crediting.Credit(970_000, 1940, None)


def test_a_zero_reduction_is_not_capped():
    credit = crediting.credit(reduction_mg=0, used_mg=9_000_000, cap_mg=5_000_000, scope="walk",
                              points_per_gram=1)
    assert credit == crediting.Credit(0, 0, None)


@given(reduction=st.integers(0, 10**13), used=st.integers(0, 10**13),
       cap=st.one_of(st.none(), st.integers(0, 10**12)))
def test_credited_never_exceeds_the_reduction_nor_what_is_left_of_the_cap(reduction, used, cap):
    credited = crediting.allowed_under_cap(reduction_mg=reduction, used_mg=used, cap_mg=cap)
    assert 0 <= credited <= reduction
    if cap is None:
        assert credited == reduction
    else:
        assert credited <= max(0, cap - used)
        assert credited == reduction or used + credited >= cap  # held back only at the cap


@given(reduction=st.integers(0, 10**13), used=st.integers(0, 10**13),
       cap=st.one_of(st.none(), st.integers(0, 10**12)), ppg=st.integers(1, 1000))
def test_the_cap_reason_appears_exactly_when_something_is_held_back(reduction, used, cap, ppg):
    credit = crediting.credit(reduction_mg=reduction, used_mg=used, cap_mg=cap, scope="s",
                              points_per_gram=ppg)
    assert (credit.cap_reason is not None) == (credit.credited_mg < reduction)
    assert credit.points == crediting.points_for_mg(credit.credited_mg, ppg)


# --- points ------------------------------------------------------------------------------------

@pytest.mark.parametrize("mg, ppg, points", [
    (970_000, 1, 970),
    (970_999, 1, 970),     # rounded down: never over-credit
    (999, 1, 0),
    (1_500, 3, 4),         # 4.5 -> 4
    (1, 1000, 1),          # 0.001 g at 1000 points per gram
    (333, 3, 0),           # 0.999 -> 0
    (0, 1000, 0),
])
def test_points_for_credited_milligrams_round_down(mg, ppg, points):
    assert crediting.points_for_mg(mg, ppg) == points


@given(mg=st.integers(0, 10**13), ppg=st.integers(1, 1000))
def test_points_agree_with_the_grams_rule_and_with_integer_arithmetic(mg, ppg):
    points = crediting.points_for_mg(mg, ppg)
    assert points == points_for(Decimal(mg) / 1000, ppg) == mg * ppg // 1000
