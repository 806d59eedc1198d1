"""Citizen notifications (docs/notifications.md): the kinds, their dedupe keys, the reminder
windows and the retention. Pure: times in, keys and day buckets out."""
from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from typing import Iterator

# review_decided and action_reversed are written by the services that decide them (`notify`).
NOTIFICATION_KINDS = ("points_expiring", "voucher_expiring", "review_decided", "action_reversed")
# A reserved voucher is announced once its validity ends within this.
VOUCHER_NOTICE = dt.timedelta(hours=1)
# Read notifications are deleted this long after they were read; any notification this long
# after it was made (a reminder of something long past is of no use).
READ_RETENTION = dt.timedelta(days=30)
MAX_AGE = dt.timedelta(days=180)
MAX_DEDUPE_KEY = 200


def points_expiring_key(day: dt.date) -> str:
    """One `points_expiring` per citizen and scheme day on which points lapse."""
    return f"points_expiring:{day.isoformat()}"


def voucher_expiring_key(redemption_id: uuid.UUID) -> str:
    return f"voucher_expiring:{redemption_id}"


def expiry_days(now: dt.datetime, window_days: int,
                timezone: str) -> Iterator[tuple[dt.date, dt.datetime, dt.datetime]]:
    """The scheme days a points reminder covers, soonest first: today up to and including the
    day `window_days` ahead, each as (day, start, end), its first and next day's first instant
    in UTC. Whole days, so one reminder names every point that lapses on its day; the bounds
    are computed day by day, so a change of UTC offset is exact."""
    tz = zoneinfo.ZoneInfo(timezone)
    today = now.astimezone(tz).date()
    for offset in range(window_days + 1):
        day = today + dt.timedelta(days=offset)
        yield day, _midnight(day, tz), _midnight(day + dt.timedelta(days=1), tz)


def _midnight(day: dt.date, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.timezone.utc)
