"""The clock the HTTP schemas read (carbon_credits/domain/clock.py)."""
from __future__ import annotations

import datetime as dt

from carbon_credits.domain.clock import utcnow


def test_now_is_aware_utc_and_moves_forward():
    first = utcnow()
    assert first.tzinfo is not None and first.utcoffset() == dt.timedelta(0)
    assert utcnow() >= first
    assert abs(utcnow() - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(seconds=5)

