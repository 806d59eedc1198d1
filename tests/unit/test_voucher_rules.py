"""Pure voucher rules: codes (generation, display, reading what a person typed), the expiry
instant of a reservation, and which ledger hold agrees with a redemption's status."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from carbon_credits.domain import vouchers
from carbon_credits.domain.vocabulary import HOLD_STATUSES, REDEMPTION_STATUSES

T0 = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.timezone.utc)


# --- codes ----------------------------------------------------------------------------------

def test_a_new_code_is_ten_characters_of_the_alphabet_and_reads_back_as_itself():
    for _ in range(50):
        code = vouchers.new_code()
        assert len(code) == vouchers.LENGTH
        assert set(code) <= set(vouchers.ALPHABET)
        assert vouchers.normalise(code) == code
        assert vouchers.normalise(vouchers.display(code)) == code


def test_codes_are_shown_in_groups_of_five():
    assert vouchers.display("ABCDE12345") == "ABCDE-12345"


@pytest.mark.parametrize("typed", ["abcde-12345", " ABCDE 12345 ", "abcde_12345", "ABCDE12345"])
def test_case_spaces_and_dashes_are_ignored(typed):
    assert vouchers.normalise(typed) == "ABCDE12345"


def test_the_usual_misreadings_are_corrected():
    assert vouchers.normalise("IL0O0-ABCDE") == "11000ABCDE"


@pytest.mark.parametrize("typed", ["", "ABCDE1234", "ABCDE123456", "ABCDE-1234U", "ABCDE!2345",
                                   "A" * 33, None, 1234567890])
def test_what_cannot_be_a_code_is_none(typed):
    assert vouchers.normalise(typed) is None


# --- expiry ---------------------------------------------------------------------------------

def test_a_reservation_expires_after_the_holds_time_to_live():
    assert vouchers.reservation_expires_at(T0, 30, T0 + dt.timedelta(days=1)) \
        == T0 + dt.timedelta(minutes=30)


def test_a_reservation_never_outlives_its_rewards_window():
    closes = T0 + dt.timedelta(minutes=10)
    assert vouchers.reservation_expires_at(T0, 30, closes) == closes
    assert vouchers.reservation_expires_at(T0, 30, T0 + dt.timedelta(minutes=30)) \
        == T0 + dt.timedelta(minutes=30)


def test_a_reservation_is_expired_from_its_expiry_instant_on():
    assert not vouchers.is_expired(T0, T0 - dt.timedelta(microseconds=1))
    assert vouchers.is_expired(T0, T0)
    assert vouchers.is_expired(T0, T0 + dt.timedelta(seconds=1))


def test_a_withdrawn_reservation_expires_if_overdue_and_is_cancelled_otherwise():
    assert vouchers.withdrawn_status(T0, T0 - dt.timedelta(seconds=1)) == "cancelled"
    assert vouchers.withdrawn_status(T0, T0) == "expired"
    assert vouchers.withdrawn_status(T0, T0 + dt.timedelta(hours=1)) == "expired"


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 7 * 24 * 60), st.integers(-10_000, 10_000), st.integers(-20_000, 20_000))
def test_a_reservation_is_live_until_it_expires_and_never_past_the_window(ttl, window_min, at_min):
    closes = T0 + dt.timedelta(minutes=window_min)
    expires_at = vouchers.reservation_expires_at(T0, ttl, closes)
    assert expires_at <= closes and expires_at <= T0 + dt.timedelta(minutes=ttl)
    now = T0 + dt.timedelta(minutes=at_min)
    assert vouchers.is_expired(expires_at, now) == (now >= expires_at)
    assert vouchers.withdrawn_status(expires_at, now) in REDEMPTION_STATUSES


# --- a redemption's hold --------------------------------------------------------------------

def test_every_redemption_status_names_the_hold_statuses_that_agree_with_it():
    assert set(vouchers.HOLD_STATUSES_BY_REDEMPTION) == set(REDEMPTION_STATUSES)
    for allowed in vouchers.HOLD_STATUSES_BY_REDEMPTION.values():
        assert set(allowed) <= set(HOLD_STATUSES)


@pytest.mark.parametrize("status, agreeing", [
    ("reserved", {"pending", "expired"}), ("redeemed", {"posted"}),
    ("cancelled", {"voided"}), ("expired", {"expired", "voided"})])
def test_a_hold_agrees_with_its_redemption_only_in_allowed_statuses(status, agreeing):
    for hold_status in HOLD_STATUSES:
        assert vouchers.hold_agrees(status=status, points=50, hold_status=hold_status,
                                    hold_amount=50) == (hold_status in agreeing)


def test_a_hold_for_other_points_never_agrees():
    assert not vouchers.hold_agrees(status="redeemed", points=50, hold_status="posted",
                                    hold_amount=49)
    assert not vouchers.hold_agrees(status="reserved", points=50, hold_status="pending",
                                    hold_amount=51)
