"""Pure registry rules: whole units rounded down, serial formats, range splitting."""
from __future__ import annotations

from decimal import Decimal

import pytest

from carbon_credits.domain import certificates as rules


def test_issuable_units_round_down_and_keep_the_remainder():
    assert rules.issuable_units(9_700_000, 1_000_000) == (9, 700_000)
    assert rules.issuable_units(999_999, 1_000_000) == (0, 999_999)
    assert rules.issuable_units(3_000_000, 1_000_000) == (3, 0)
    with pytest.raises(ValueError):
        rules.issuable_units(1, 0)


def test_tonnes_are_exact():
    assert rules.tonnes(9_000_000) == Decimal("0.009")
    assert format(rules.tonnes(1), "f") == "0.000000001"


@pytest.mark.parametrize("code", ["SH-METRO", "X-2024", "EV-CHARGING-CN", "A"])
def test_serials_round_trip(code):
    one = rules.format_serial(code, 2026, 42)
    assert one == f"CC-{code}-2026-000000042"
    assert rules.parse_serial(one) == rules.ParsedSerial(code, 2026, 42, 42)
    run = rules.format_range(code, 2026, 1, 40)
    assert rules.parse_serial(run) == rules.ParsedSerial(code, 2026, 1, 40)
    assert rules.format_range(code, 2026, 7, 7) == rules.format_serial(code, 2026, 7)


@pytest.mark.parametrize("bad", ["", "CC", "CC-SH-METRO-2026-42", "XX-SH-METRO-2026-000000001",
                                 "CC-SH-METRO-2026-000000002-000000001",
                                 "CC-SH-METRO-2026-000000000", "CC-SH METRO-2026-000000001",
                                 "CC-SH-METRO-2026-000000001-"])
def test_malformed_serials_are_refused(bad):
    with pytest.raises(ValueError):
        rules.parse_serial(bad)


def test_carve_splits_a_block_around_the_taken_part():
    assert rules.carve(1, 9, 1, 5) == [(1, 5, True), (6, 9, False)]
    assert rules.carve(1, 9, 4, 6) == [(1, 3, False), (4, 6, True), (7, 9, False)]
    assert rules.carve(1, 9, 0, 20) == [(1, 9, True)]
    assert rules.carve(5, 9, 1, 3) == [(5, 9, False)]
