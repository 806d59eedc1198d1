"""Helpers shared by the notifications tests (job, HTTP, races, migration)."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from carbon_credits.domain.ledger import add_months

UTC = dt.timezone.utc
NOTIFICATIONS = "/api/v1/me/notifications"
# Earns are dated from here (noon in the scheme's Asia/Shanghai), so their lots lapse 24 months
# on; the job is run at a `now` placed against that lapse (`job_now`).
BASE = (dt.datetime.now(UTC) - dt.timedelta(days=60)).replace(hour=4, minute=0, second=0,
                                                              microsecond=0)
LAPSE = add_months(BASE, 24)


def job_now(days_before_lapse: float) -> dt.datetime:
    """A `now` this many days before the lots earned at BASE lapse."""
    return LAPSE - dt.timedelta(days=days_before_lapse)


def earn(app, user_id, points: int, *, days_after_base: float = 0) -> None:
    """Give the citizen a lot of `points` earned `days_after_base` after BASE."""
    from carbon_credits.services import ledger
    from models import db
    with app.app_context():
        ledger.post_earn(user_id=user_id, amount=points, external_ref=f"test:{uuid.uuid4()}",
                         event_time=BASE + dt.timedelta(days=days_after_base))
        db.session.remove()


def run_job(app, now: dt.datetime, **kwargs) -> int:
    from carbon_credits.services import notifications
    from models import db
    with app.app_context():
        made = notifications.notify_expiring(now=now, **kwargs)
        db.session.remove()
    return made


def notification_rows(app, user_id=None) -> list[dict]:
    """Every notification (of one citizen), oldest key first, as plain dicts."""
    from models import Notification, db
    with app.app_context():
        query = select(Notification).order_by(Notification.user_id, Notification.dedupe_key)
        if user_id is not None:
            query = query.where(Notification.user_id == user_id)
        rows = [{"id": n.id, "user_id": n.user_id, "kind": n.kind, "data": n.data,
                 "dedupe_key": n.dedupe_key, "created_at": n.created_at, "read_at": n.read_at}
                for n in db.session.scalars(query)]
        db.session.remove()
    return rows


@pytest.fixture
def emitted(monkeypatch):
    """The webhook events emitted (type, data, keyword arguments); each still goes to the
    real `emit`, so they are written wherever the webhooks work writes them."""
    from carbon_credits.services import webhooks
    calls: list[tuple] = []
    real = webhooks.emit

    def spy(event_type, data, **kwargs):
        calls.append((event_type, data, kwargs))
        return real(event_type, data, **kwargs)

    monkeypatch.setattr(webhooks, "emit", spy)
    return calls
