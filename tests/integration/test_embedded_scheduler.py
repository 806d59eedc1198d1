"""The embedded default runs its due jobs without cron or Redis: `flask jobs loop` runs them
every few seconds until SIGTERM, and gunicorn started with RUN_SCHEDULER=1 (what `make run`
does) starts that loop beside its workers and stops it when it stops."""
from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from carbon_credits.config import PROJECT_ROOT
from models import ReportExport, db
from tests.conftest import TEST_SECRET


def _env(app, **extra) -> dict:
    return {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": TEST_SECRET, "CARBON_ENV": "test", "REDIS_URL": "", **extra}


def _wait_until(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _export_status(app, export_id) -> str:
    with app.app_context():
        try:
            return db.session.get(ReportExport, export_id).status
        finally:
            db.session.remove()


def _pending_export(app, actors):
    from carbon_credits.services import reports
    admin = actors.user("admin")
    with app.app_context():
        export = reports.request_export(date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 1, 31),
                                        group_by="day", actor_user_id=admin.id)
        export_id = export.id
        db.session.remove()
    return export_id


def test_jobs_loop_runs_due_work_and_stops_cleanly_on_sigterm(app, actors):
    export_id = _pending_export(app, actors)
    loop = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "loop",
                             "--interval", "1"], cwd=PROJECT_ROOT, env=_env(app),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_until(lambda: _export_status(app, export_id) == "done", timeout=90,
                    what="the loop to produce the pending export")
    finally:
        loop.send_signal(signal.SIGTERM)
        out, err = loop.communicate(timeout=60)
    assert loop.returncode == 0, err
    assert "run_pending_report_exports: 1" in out
    assert "jobs loop: stopped after" in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append((int(entry.name), cmdline))
    return found


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:  # nosec B310
            return r.status == 200
    except OSError:
        return False


def test_gunicorn_with_run_scheduler_starts_and_stops_the_jobs_loop(app, actors):
    export_id = _pending_export(app, actors)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "wsgi:app"], cwd=PROJECT_ROOT,
        env=_env(app, RUN_SCHEDULER="1", SCHEDULER_INTERVAL_SECONDS="1"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_until(lambda: _answers(port), timeout=90, what="gunicorn to answer")
        loops = [pid for pid, cmd in _children(server.pid) if "jobs loop" in cmd]
        assert len(loops) == 1
        _wait_until(lambda: _export_status(app, export_id) == "done", timeout=90,
                    what="the scheduler to produce the pending export")
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=90)
    assert server.returncode == 0, err[-3000:]
    assert not Path(f"/proc/{loops[0]}").exists() or "zombie" in Path(
        f"/proc/{loops[0]}/status").read_text()
