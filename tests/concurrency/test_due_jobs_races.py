"""`jobs run-due` started twice at the same moment on PostgreSQL: due points expire once, a
pending report export is produced once, and the leaderboard rebuild is harmless.
(Reservations and holds racing the same way: tests/concurrency/test_rewards_races.py.)"""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from carbon_credits.config import PROJECT_ROOT
from models import LedgerTransfer, ReportExport, db
from tests.conftest import DATABASE_URL, REDIS_URL, TEST_SECRET

pytestmark = pytest.mark.postgres


def _run_due_twice_at_once() -> list[dict[str, str]]:
    env = {**os.environ, "DATABASE_URL": DATABASE_URL, "SECRET_KEY": TEST_SECRET,
           "CARBON_ENV": "test", "REDIS_URL": REDIS_URL or ""}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "run-due"]
    procs = [subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    return [dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
            for out, _ in outputs]


def test_run_due_twice_concurrently_expires_points_and_exports_once(app, actors):
    from carbon_credits.services import ledger, reports
    citizen, admin = actors.user("citizen"), actors.user("admin")
    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=800)  # past the 24 months
    with app.app_context():
        for i in range(3):
            ledger.post_earn(user_id=citizen.id, amount=100 + i, external_ref=f"old-{i}",
                             event_time=long_ago + dt.timedelta(hours=i))
        export = reports.request_export(date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 1, 31),
                                        group_by="day", actor_user_id=admin.id)
        export_id = export.id
        db.session.remove()
    results = _run_due_twice_at_once()
    assert sum(int(r["expire_due_lots"]) for r in results) == 3  # each lot by one run only
    assert sorted(int(r["run_pending_report_exports"]) for r in results) == [0, 1]
    assert all(r["rebuild_leaderboards"].isdigit() for r in results)
    with app.app_context():
        expired = db.session.scalar(select(func.coalesce(func.sum(LedgerTransfer.amount), 0))
                                    .where(LedgerTransfer.kind == "expire"))
        assert expired == 303
        assert ledger.get_balance(user_id=citizen.id).available == 0
        assert db.session.get(ReportExport, export_id).status == "done"
        assert db.session.get(ReportExport, export_id).attempts == 1
        db.session.remove()
