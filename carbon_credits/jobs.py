"""Due background work: the registry `jobs run-due` and the RQ workers both run.

Each job is a service that takes `now=` and returns how many things it changed. Every one is
idempotent and safe to run on several workers at once (conditional updates and row locks), and
each does its work in its own units of work, so one failing job never undoes another. Add later
work (leaderboards, reports) by appending to `DUE_JOBS`.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Callable

from carbon_credits.services import (idempotency, leaderboards, ledger, partitions, privacy, reports,
                                     rewards)
from carbon_credits.services.notifications import notify_expiring
from carbon_credits.services.webhooks import dispatch as webhook_dispatch

log = logging.getLogger(__name__)

# Order matters a little: reservations first, so their holds are released as the redemption
# expires (the ledger's own hold expiry then finds nothing left to do for them).
DUE_JOBS: list[tuple[str, Callable[..., int]]] = [
    ("release_expired_reservations", rewards.release_expired_reservations),
    ("expire_due_holds", ledger.expire_due_holds),
    ("expire_due_lots", ledger.expire_due_lots),
    # Reminders (docs/notifications.md): points lapsing soon, vouchers expiring within the hour.
    ("notify_expiring", notify_expiring),
    # Insights: each rebuilds or produces from the database, so a rerun is harmless.
    ("rebuild_leaderboards", leaderboards.rebuild_current),
    ("run_pending_report_exports", reports.run_pending_exports),
    ("purge_idempotency_keys", idempotency.purge_expired),
    # Retention (docs/privacy.md): old codes, sessions, throttle counters, denylist entries.
    ("purge_expired_personal_data", privacy.purge_expired_personal_data),
    # Tamper evidence: extend the hash chain over transfers settled since the last run.
    ("seal_ledger", lambda *, now=None: ledger.seal_all()),
    # Monthly partitions, months ahead of the rows that will need them (PostgreSQL).
    ("ensure_partitions", partitions.ensure_partitions),
    # Outbound webhooks (docs/webhooks.md): deliver what is due, then forget old events.
    ("dispatch_webhooks", webhook_dispatch.dispatch_due),
    ("purge_webhook_events", webhook_dispatch.purge_expired_events),
]


def job_names() -> list[str]:
    return [name for name, _ in DUE_JOBS]


def run_job(name: str, *, now: dt.datetime | None = None) -> int:
    """Run one registered job once; returns its count."""
    for job_name, job in DUE_JOBS:
        if job_name == name:
            return job(now=now)
    raise KeyError(f"no such job: {name}")


def run_due(*, now: dt.datetime | None = None) -> dict[str, int | None]:
    """Run every due job once. A job that fails is logged and reported as None; the rest run."""
    from models import db
    results: dict[str, int | None] = {}
    for name, job in DUE_JOBS:
        try:
            results[name] = job(now=now)
        except Exception:
            log.exception("due job %s failed", name)
            db.session.rollback()
            results[name] = None
    return results


def run_every(interval_seconds: float, *, stop: threading.Event,
              on_run: Callable[[dict[str, int | None]], None] | None = None) -> int:
    """Run every due job, then wait `interval_seconds`, until `stop` is set; returns the number
    of runs. The embedded default's scheduler (`flask jobs loop`, started by `make run`): one
    process, no Redis, no cron. A run that raises is logged and the loop goes on."""
    from models import db
    runs = 0
    while not stop.is_set():
        try:
            results = run_due()
        except Exception:  # a broken connection, say: the next run starts afresh
            log.exception("due jobs run failed")
            db.session.rollback()
        else:
            if on_run is not None:
                on_run(results)
        finally:
            db.session.remove()
        runs += 1
        stop.wait(interval_seconds)
    return runs
