"""RQ job functions (queue `carbon_credits`). Each builds the app once per worker process and
runs a registered job inside an app context.

    rq worker --url "$REDIS_URL" carbon_credits          # process jobs
    rq cron carbon_credits.cron                          # enqueue the due jobs every minute

The app comes from the composition root named like `flask --app wsgi` does (`CARBON_APP`,
default `wsgi`), loaded at run time: this package never imports the HTTP layer.
"""
from __future__ import annotations

import importlib
import os

QUEUE_NAME = "carbon_credits"

_app = None


def _get_app():
    global _app
    if _app is None:
        _app = importlib.import_module(os.environ.get("CARBON_APP", "wsgi")).app
    return _app


def run_job(name: str) -> int:
    """Run one job of `carbon_credits.jobs.DUE_JOBS` by name."""
    from carbon_credits import jobs
    from models import db
    with _get_app().app_context():
        try:
            return jobs.run_job(name)
        finally:
            db.session.remove()


def run_due() -> dict:
    """Run every due job once (what `flask jobs run-due` does)."""
    from carbon_credits import jobs
    from models import db
    with _get_app().app_context():
        try:
            return jobs.run_due()
        finally:
            db.session.remove()


def run_report_export(export_id: str) -> bool:
    """Produce one requested report export (enqueued after the request's commit)."""
    import uuid
    from carbon_credits.services import reports
    from models import db
    with _get_app().app_context():
        try:
            return reports.run_export(export_id=uuid.UUID(export_id))
        finally:
            db.session.remove()


def enqueue_due(connection) -> list:
    """Put one RQ job per registered due job on the queue."""
    from rq import Queue
    from carbon_credits.jobs import job_names
    queue = Queue(QUEUE_NAME, connection=connection)
    return [queue.enqueue(run_job, name, description=f"due job {name}")
            for name in job_names()]
