"""The reminder job on two workers at once (real PostgreSQL connections): every citizen is told
once per lapse day and per voucher, and each notification's webhook event is emitted once."""
from __future__ import annotations

import pytest

from tests.concurrency.support import race
from tests.notifications_support import (earn, emitted, job_now, notification_rows,  # noqa: F401
                                         run_job)
from tests.rewards_support import REDEMPTIONS, create_reward, give_points, merchant, now

pytestmark = pytest.mark.postgres


def test_two_runs_at_once_write_each_points_reminder_once(app, actors, emitted):  # noqa: F811
    citizens = [actors.user("citizen") for _ in range(12)]
    for i, citizen in enumerate(citizens):
        earn(app, citizen.id, 10 + i)
        earn(app, citizen.id, 1, days_after_base=3)
    for _ in range(3):
        results = race(2, lambda i: run_job(app, job_now(10)))
        assert all(isinstance(r, int) for r in results), results
    rows = notification_rows(app)
    assert len(rows) == 24
    assert len({(r["user_id"], r["dedupe_key"]) for r in rows}) == 24
    assert len(emitted) == 24
    assert sorted(e[1]["notification_id"] for e in emitted) == sorted(str(r["id"]) for r in rows)


def test_two_runs_at_once_write_each_voucher_reminder_once(app, actors, client,
                                                           emitted):  # noqa: F811
    _, staff = merchant(actors)
    reward = create_reward(client, staff, stock=20)
    citizens = [actors.user("citizen") for _ in range(8)]
    give_points(app, [c.id for c in citizens], 500)
    for citizen in citizens:
        r = client.post(REDEMPTIONS, json={"reward_id": reward["id"]}, headers=citizen.headers)
        assert r.status_code == 201, r.json
    moment = now()
    results = race(2, lambda i: run_job(app, moment))
    assert all(isinstance(r, int) for r in results) and sum(results) == 8, results
    assert len(notification_rows(app)) == 8 and len(emitted) == 8


def test_a_reminder_another_worker_is_writing_is_waited_for_then_skipped(app, actors, client,
                                                                         emitted):  # noqa: F811
    """Deterministic: the other worker's insert is held uncommitted on its own connection; the
    job's insert of the same key waits for it (seen in pg_stat_activity), then writes nothing
    and emits nothing."""
    import threading
    import time
    import uuid

    from sqlalchemy import text

    from carbon_credits.domain.notifications import voucher_expiring_key
    from models import Notification, db
    from tests.integration.test_notifications import _reserve
    citizen, _, _, voucher = _reserve(client, actors, app)
    with app.app_context():
        other = db.engine.connect()
        held = other.begin()
        other.execute(Notification.__table__.insert().values(
            id=uuid.uuid4(), user_id=citizen.id, kind="voucher_expiring", data={"by": "other"},
            dedupe_key=voucher_expiring_key(voucher["id"]), created_at=now()))
        result = {}
        worker = threading.Thread(target=lambda: result.update(made=run_job(app, now())))
        worker.start()
        waiting = 0
        for _ in range(200):
            with db.engine.connect() as probe:
                waiting = probe.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()")).scalar()
            if waiting:
                break
            time.sleep(0.05)
        held.commit()
        other.close()
        worker.join(timeout=60)
        db.session.remove()
    assert waiting == 1 and result == {"made": 0} and emitted == []
    [row] = notification_rows(app)
    assert row["data"] == {"by": "other"}
