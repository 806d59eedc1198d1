"""Pure registry rules beyond units and serial formats: a lot's period, settlement and summary,
choosing the lowest serials, whether a serial belongs to a lot, and the invariants' arithmetic
on serial ranges. (tests/unit/test_certificate_domain.py covers units, serials and carving.)"""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from carbon_credits.domain import certificates as rules

UTC = dt.timezone.utc


# --- a lot's period ---------------------------------------------------------------------------

def test_a_period_within_one_year_running_forwards_is_valid():
    assert rules.period_errors(dt.date(2026, 1, 1), dt.date(2026, 12, 31)) == {}
    assert rules.period_errors(dt.date(2026, 3, 5), dt.date(2026, 3, 5)) == {}


def test_a_period_running_backwards_is_refused():
    assert rules.period_errors(dt.date(2026, 3, 5), dt.date(2026, 3, 4)) == {
        "period_to": ["Must not be before period_from."]}


def test_a_period_across_new_year_is_refused_because_a_lot_has_one_vintage():
    assert rules.period_errors(dt.date(2025, 12, 31), dt.date(2026, 1, 1)) == {
        "period_to": ["A lot's period lies within one calendar year (its vintage)."]}


def test_a_backwards_period_across_years_reports_only_the_direction():
    assert rules.period_errors(dt.date(2026, 1, 1), dt.date(2025, 12, 31)) == {
        "period_to": ["Must not be before period_from."]}


# --- settled scheme days --------------------------------------------------------------------

def test_the_last_settled_day_is_yesterday_less_the_review_period():
    at = dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert rules.last_settled_day(at, 0, "UTC") == dt.date(2026, 3, 9)
    assert rules.last_settled_day(at, 7, "UTC") == dt.date(2026, 3, 2)


def test_the_last_settled_day_counts_days_in_the_schemes_time_zone():
    # 17:00 UTC on 9 March is already 10 March in Shanghai (UTC+8): 9 March has closed there.
    at = dt.datetime(2026, 3, 9, 17, 0, tzinfo=UTC)
    assert rules.last_settled_day(at, 0, "Asia/Shanghai") == dt.date(2026, 3, 9)
    assert rules.last_settled_day(at, 0, "UTC") == dt.date(2026, 3, 8)


# --- a lot's summary ------------------------------------------------------------------------

def test_the_summary_states_the_lot_in_exact_strings():
    summary = rules.lot_summary(code="SH-METRO", version=2, period_from=dt.date(2026, 2, 1),
                                period_to=dt.date(2026, 2, 28), action_count=3,
                                verified_mg=9_700_123, unit_mg=1_000_000, quantity=9,
                                remainder_mg=700_123, first=41, last=49)
    assert summary == {
        "methodology": {"code": "SH-METRO", "version": 2},
        "period": {"from": "2026-02-01", "to": "2026-02-28"},
        "vintage_year": 2026,
        "action_count": 3,
        "verified_g": "9700.123",
        "unit_g": "1000.000",
        "quantity": 9,
        "issued_g": "9000.000",
        "issued_tco2e": "0.009000000",
        "remainder_unissued_g": "700.123",
        "serials": "CC-SH-METRO-2026-000000041-000000049",
    }


def test_a_one_unit_lot_summarises_a_single_serial():
    summary = rules.lot_summary(code="X", version=1, period_from=dt.date(2025, 5, 1),
                                period_to=dt.date(2025, 5, 1), action_count=1,
                                verified_mg=1_000_000, unit_mg=1_000_000, quantity=1,
                                remainder_mg=0, first=7, last=7)
    assert summary["serials"] == "CC-X-2025-000000007"
    assert summary["remainder_unissued_g"] == "0.000"


# --- choosing the lowest serials ------------------------------------------------------------

def test_the_lowest_serials_take_whole_blocks_before_the_next():
    blocks = [(1, 3), (10, 5), (20, 2)]  # (serial_start, quantity), in serial order
    assert rules.lowest_serials(blocks, 3) == [(0, 1, 3)]
    assert rules.lowest_serials(blocks, 4) == [(0, 1, 3), (1, 10, 10)]
    assert rules.lowest_serials(blocks, 10) == [(0, 1, 3), (1, 10, 14), (2, 20, 21)]


def test_the_lowest_serials_of_nothing_are_none():
    assert rules.lowest_serials([(1, 3)], 0) == []
    assert rules.lowest_serials([], 0) == []


def test_more_serials_than_the_blocks_hold_are_refused():
    with pytest.raises(ValueError):
        rules.lowest_serials([(1, 3), (10, 5)], 9)
    with pytest.raises(ValueError):
        rules.lowest_serials([], 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 50), st.integers(1, 20)), max_size=8), st.data())
def test_the_lowest_serials_are_exactly_the_quantity_taken_from_the_front(gaps_and_sizes, data):
    blocks, start = [], 1
    for gap, size in gaps_and_sizes:
        start += gap
        blocks.append((start, size))
        start += size
    quantity = data.draw(st.integers(0, sum(size for _, size in blocks)))
    parts = rules.lowest_serials(blocks, quantity)
    assert sum(last - first + 1 for _, first, last in parts) == quantity
    assert [index for index, _, _ in parts] == list(range(len(parts)))
    for index, first, last in parts:
        block_start, size = blocks[index]
        assert first == block_start and first <= last <= block_start + size - 1
    assert all(last == blocks[i][0] + blocks[i][1] - 1 for i, _, last in parts[:-1])


# --- a serial of a lot ----------------------------------------------------------------------

LOT = dict(code="SH-METRO", year=2026, serial_start=100, serial_end=199)


def test_a_single_serial_inside_the_lot_belongs_to_it():
    for number in (100, 150, 199):
        parsed = rules.parse_serial(rules.format_serial("SH-METRO", 2026, number))
        assert rules.is_serial_of_lot(parsed, **LOT)


@pytest.mark.parametrize("text", ["CC-SH-METRO-2026-000000099", "CC-SH-METRO-2026-000000200",
                                  "CC-SH-BUS-2026-000000150", "CC-SH-METRO-2025-000000150",
                                  "CC-SH-METRO-2026-000000100-000000101"])
def test_serials_outside_the_lot_or_ranges_are_not_a_serial_of_it(text):
    assert not rules.is_serial_of_lot(rules.parse_serial(text), **LOT)


def test_a_range_found_by_its_first_serial_must_stay_within_the_lot():
    terms = dict(code="SH-METRO", year=2026, serial_end=199)
    assert rules.range_in_lot(rules.parse_serial("CC-SH-METRO-2026-000000150-000000199"), **terms)
    assert not rules.range_in_lot(rules.parse_serial("CC-SH-METRO-2026-000000150-000000200"),
                                  **terms)
    assert not rules.range_in_lot(rules.parse_serial("CC-SH-BUS-2026-000000150"), **terms)
    assert not rules.range_in_lot(rules.parse_serial("CC-SH-METRO-2027-000000150"), **terms)


# --- the invariants' arithmetic -------------------------------------------------------------

def test_neighbouring_ranges_that_share_serials_are_found():
    assert rules.overlapping_neighbours([]) == []
    assert rules.overlapping_neighbours([(1, 10)]) == []
    assert rules.overlapping_neighbours([(1, 10), (11, 20), (21, 30)]) == []
    assert rules.overlapping_neighbours([(1, 10), (10, 20), (25, 30)]) == [1]
    assert rules.overlapping_neighbours([(1, 10), (5, 6), (6, 9)]) == [1, 2]


def test_blocks_that_tile_the_lot_form_one_contiguous_run():
    assert rules.contiguous_run(100, [(100, 104), (105, 105), (106, 199)]) == (200, True)
    assert rules.contiguous_run(100, []) == (100, True)


def test_a_gap_or_an_overlap_stops_the_run_where_it_is():
    assert rules.contiguous_run(100, [(100, 104), (107, 199)]) == (105, False)
    assert rules.contiguous_run(100, [(100, 104), (104, 199)]) == (105, False)
    assert rules.contiguous_run(100, [(101, 199)]) == (100, False)


def test_a_lot_issues_whole_units_and_never_more_than_verified():
    assert rules.lot_issues_within_verified(issued_mg=9_000_000, quantity=9, unit_mg=1_000_000,
                                            verified_mg=9_700_000)
    assert rules.lot_issues_within_verified(issued_mg=9_000_000, quantity=9, unit_mg=1_000_000,
                                            verified_mg=9_000_000)
    assert not rules.lot_issues_within_verified(issued_mg=9_500_000, quantity=9,
                                                unit_mg=1_000_000, verified_mg=9_700_000)
    assert not rules.lot_issues_within_verified(issued_mg=10_000_000, quantity=10,
                                                unit_mg=1_000_000, verified_mg=9_700_000)


def test_live_blocks_are_the_block_statuses_but_superseded():
    from carbon_credits.domain.vocabulary import BLOCK_STATUSES
    assert set(rules.LIVE_BLOCK_STATUSES) == set(BLOCK_STATUSES) - {"superseded"}
