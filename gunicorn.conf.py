"""Production gunicorn settings; the worker count comes from the environment."""
import multiprocessing
import os
import subprocess
import sys

workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() * 2)))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = 100
accesslog = "-"
errorlog = "-"
# The embedded SQLite default serialises writers; two workers are plenty there.
if not os.environ.get("DATABASE_URL") and "WEB_CONCURRENCY" not in os.environ:
    workers = 2

# Load the app once in the master (config errors and the no-Redis warning appear once), then
# give every worker its own database connections: pools must not cross a fork.
preload_app = True


def post_fork(server, worker):
    from models import db
    from wsgi import app

    with app.app_context():
        for engine in db.engines.values():  # the primary's and, when configured, the replica's
            engine.dispose(close=False)


def child_exit(server, worker):
    # Prometheus multiprocess mode: drop a dead worker's live gauges (counters are kept).
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)


# `make run` sets RUN_SCHEDULER=1: the master starts `flask jobs loop` beside the workers, so the
# embedded default runs its due work (report exports, expiries, the ledger seal, webhooks)
# without cron or Redis, and stops it on shutdown. Production leaves it unset and runs
# `make worker` + `make scheduler` (docs/operations.md, "Running background jobs").
_scheduler = None


def when_ready(server):
    global _scheduler
    if os.environ.get("RUN_SCHEDULER") != "1":
        return
    interval = os.environ.get("SCHEDULER_INTERVAL_SECONDS", "30")
    _scheduler = subprocess.Popen(  # nosec B603: our own interpreter and command, no shell
        [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "loop", "--interval", interval])
    server.log.info("scheduler: jobs loop every %s s (pid %s)", interval, _scheduler.pid)


def on_exit(server):
    if _scheduler is not None and _scheduler.poll() is None:
        _scheduler.terminate()
        try:
            _scheduler.wait(timeout=graceful_timeout)
        except subprocess.TimeoutExpired:
            _scheduler.kill()
