"""Migration 0023 (notifications) down and up again: the table goes (its rows with it) and
comes back empty with its unique key and indexes; it has no trigger and every other trigger comes
back; the rest of the data stays."""
from __future__ import annotations

import uuid

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from models import Notification, db
from tests.integration.test_migration_0016 import _trigger_names
from tests.notifications_support import earn, job_now, notification_rows, run_job
from tests.rewards_support import balance


def test_down_and_up_again(app, actors):
    directory = app.extensions["migrate"].directory
    citizen = actors.user("citizen")
    earn(app, citizen.id, 40)
    assert run_job(app, job_now(10)) == 1
    with app.app_context():
        triggers_before = _trigger_names()
        downgrade(directory=directory, revision="0022")
        db.session.remove()
        try:
            assert "notifications" not in inspect(db.engine).get_table_names()
            triggers_down = _trigger_names()
        finally:
            upgrade(directory=directory)
        db.session.remove()
        inspector = inspect(db.engine)
        assert {"ix_notifications_user", "ix_notifications_read_at",
                "ix_notifications_created_at"} <= {i["name"] for i in
                                                   inspector.get_indexes("notifications")}
        triggers_after = _trigger_names()
        db.session.remove()
    # Later revisions' tables (and their triggers) go on the way down too; 0023 adds none.
    assert triggers_after == triggers_before and triggers_down <= triggers_before
    assert not {t for t in triggers_before if t.startswith("notifications")}
    assert notification_rows(app) == []
    assert balance(app, citizen.id) == (40, 0)
    assert run_job(app, job_now(10)) == 1  # the job works on the new table, once per key
    [row] = notification_rows(app)
    with app.app_context():
        with pytest.raises(IntegrityError):
            with db.engine.begin() as conn:
                conn.execute(Notification.__table__.insert().values(
                    id=uuid.uuid4(), user_id=citizen.id, kind=row["kind"],
                    data={}, dedupe_key=row["dedupe_key"], created_at=row["created_at"]))
        db.session.remove()
