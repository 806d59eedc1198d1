"""RQ job functions (queue `carbon_credits`): the worker's entry point, beside `wsgi.py`.

    rq worker --url "$REDIS_URL" carbon_credits          # process jobs
    rq cron scheduler                                    # enqueue the due jobs every minute

Each task builds the application once per worker process (from `wsgi`, like `flask --app wsgi`)
and runs a service inside an app context. Services enqueue these tasks by name through
`carbon_credits.services.queue`, so nothing below this level imports it.
"""
from __future__ import annotations

import uuid

from carbon_credits import jobs
from carbon_credits.services import reports
from carbon_credits.services.queue import QUEUE_NAME
from models import db

_app = None


def _get_app():
    global _app
    if _app is None:
        from wsgi import app
        _app = app
    return _app


def run_job(name: str) -> int:
    """Run one job of `carbon_credits.jobs.DUE_JOBS` by name."""
    with _get_app().app_context():
        try:
            return jobs.run_job(name)
        finally:
            db.session.remove()


def run_due() -> dict:
    """Run every due job once (what `flask jobs run-due` does)."""
    with _get_app().app_context():
        try:
            return jobs.run_due()
        finally:
            db.session.remove()


def run_report_export(export_id: str) -> bool:
    """Produce one requested report export (enqueued after the request's commit)."""
    with _get_app().app_context():
        try:
            return reports.run_export(export_id=uuid.UUID(export_id))
        finally:
            db.session.remove()


def enqueue_due(connection) -> list:
    """Put one RQ job per registered due job on the queue."""
    from rq import Queue
    queue = Queue(QUEUE_NAME, connection=connection)
    return [queue.enqueue(run_job, name, description=f"due job {name}")
            for name in jobs.job_names()]
