"""The job queue, as services see it: one RQ queue, and work enqueued after the commit.

Services name a task of the worker entry point (`worker.py`) by its dotted path, so the service
layer never imports the worker (which builds the whole application). Without Redis there is no
queue: `jobs run-due` finds the same work in the database on its next run.
"""
from __future__ import annotations

from carbon_credits import kvstore
from carbon_credits.services.uow import after_commit

QUEUE_NAME = "carbon_credits"
WORKER_MODULE = "worker"


def enqueue(task: str, *args, description: str) -> None:
    """Put `worker.<task>(*args)` on the queue now (no-op without Redis)."""
    if not kvstore.is_redis():
        return
    from rq import Queue
    Queue(QUEUE_NAME, connection=kvstore.get_store()).enqueue(
        f"{WORKER_MODULE}.{task}", *args, description=description)


def enqueue_after_commit(task: str, *args, description: str) -> None:
    """Enqueue once the current unit of work commits, so a worker never sees uncommitted rows."""
    after_commit(lambda: enqueue(task, *args, description=description))
