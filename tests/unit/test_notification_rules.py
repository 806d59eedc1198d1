"""The reminder rules (domain/notifications.py) and the window setting: whole scheme days,
soonest first, exact across a change of UTC offset; NOTIFY_POINTS_EXPIRING_DAYS is 1-365."""
from __future__ import annotations

import datetime as dt

import pytest

from carbon_credits.config import ConfigError, load_settings
from carbon_credits.domain.notifications import expiry_days, points_expiring_key

UTC = dt.timezone.utc
GOOD = {"SECRET_KEY": "k" * 40}


def test_the_window_is_today_and_the_next_days_in_the_scheme_time_zone():
    now = dt.datetime(2026, 12, 5, 17, 30, tzinfo=UTC)  # already 6 December in Shanghai
    days = list(expiry_days(now, 2, "Asia/Shanghai"))
    assert [d for d, _, _ in days] == [dt.date(2026, 12, 6), dt.date(2026, 12, 7),
                                      dt.date(2026, 12, 8)]
    day, start, end = days[0]
    assert start == dt.datetime(2026, 12, 5, 16, tzinfo=UTC)
    assert end == dt.datetime(2026, 12, 6, 16, tzinfo=UTC) == days[1][1]


def test_a_day_of_a_clock_change_is_23_hours_long():
    now = dt.datetime(2026, 3, 28, 12, tzinfo=UTC)
    [_, (day, start, end)] = list(expiry_days(now, 1, "Europe/Berlin"))
    assert day == dt.date(2026, 3, 29) and end - start == dt.timedelta(hours=23)


def test_the_key_names_the_day():
    assert points_expiring_key(dt.date(2026, 12, 31)) == "points_expiring:2026-12-31"


def test_the_window_setting_defaults_to_30_days_and_is_bounded():
    assert load_settings(GOOD).notify_points_expiring_days == 30
    assert load_settings({**GOOD, "NOTIFY_POINTS_EXPIRING_DAYS": "365"}).notify_points_expiring_days == 365
    for bad in ("0", "366", "-1", "thirty", "1.5"):
        with pytest.raises(ConfigError, match="NOTIFY_POINTS_EXPIRING_DAYS"):
            load_settings({**GOOD, "NOTIFY_POINTS_EXPIRING_DAYS": bad})
