"""Operations: JSON logs with request ids, business metrics, the gunicorn configuration, and
the job registry that `jobs run-due` and the RQ workers share."""
from __future__ import annotations

import io
import json
import logging
import runpy

import structlog

from api.business_metrics import snapshot
from tests.api.test_actions import operator, recent, rider, seeded, send_batch, trip  # noqa: F401


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exposed")


def test_logs_are_json_with_the_request_id(app, client, monkeypatch):
    from api.logs import json_formatter
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    logger = logging.getLogger("carbon_credits")
    logger.addHandler(handler)
    monkeypatch.setattr(logger, "level", logging.INFO)
    try:
        with app.test_request_context("/anything", headers={"X-Request-ID": "req-123"}):
            app.preprocess_request()
            logging.getLogger("carbon_credits.demo").info("stdlib says %s", "hello")
            structlog.get_logger("carbon_credits.demo").info("structlog says", points=5)
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["stdlib says hello", "structlog says"]
    assert {line["request_id"] for line in lines} == {"req-123"}
    assert lines[1]["points"] == 5 and lines[1]["level"] == "info" and "timestamp" in lines[1]


def test_every_request_is_logged_with_its_id_and_status(client, caplog):
    with caplog.at_level(logging.INFO, logger="carbon_credits.http"):
        r = client.get("/healthz", headers={"X-Request-ID": "abc-1"})
    assert r.headers["X-Request-ID"] == "abc-1"
    record = next(rec for rec in caplog.records if rec.name == "carbon_credits.http")
    assert record.msg["request_id"] == "abc-1" and record.msg["status"] == 200


def test_business_metrics_count_actions_points_and_holds(client, app, seeded, operator, rider):  # noqa: F811
    send_batch(client, operator, [{**trip(recent(3)), "external_id": "T-1",
                                   "external_ref": "CARD-0001"}])
    client.post("/api/v1/actions", json=trip(recent(5)), headers=rider.headers)  # pending review
    with app.app_context():
        snapshot(max_age=0)  # refresh the per-process cache
    text = client.get("/metrics").get_data(as_text=True)
    assert _metric(text, "carbon_business_metrics_up") == 1
    assert _metric(text, 'carbon_actions{status="credited"}') == 1
    assert _metric(text, 'carbon_actions{status="pending_review"}') == 1
    assert _metric(text, "carbon_points_credited_total") == 970
    assert _metric(text, "carbon_points_redeemed_total") == 0
    assert _metric(text, "carbon_ledger_holds_open") == 0
    assert _metric(text, "http_requests_total") >= 1


def test_gunicorn_takes_its_worker_count_from_the_environment(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "7")
    monkeypatch.setenv("GUNICORN_THREADS", "3")
    config = runpy.run_path("gunicorn.conf.py")
    assert config["workers"] == 7 and config["threads"] == 3
    assert callable(config["child_exit"]) and config["preload_app"] is True


def test_due_jobs_include_insights_work_and_rq_tasks_resolve():
    import worker as tasks
    from carbon_credits import jobs
    assert {"rebuild_leaderboards", "run_pending_report_exports",
            "purge_idempotency_keys"} <= set(jobs.job_names())
    assert tasks.QUEUE_NAME == "carbon_credits"
    assert callable(tasks.run_report_export) and callable(tasks.run_job)
    # Services enqueue worker tasks by dotted name; each name they use must resolve.
    from carbon_credits.services import queue
    assert queue.WORKER_MODULE == tasks.__name__ and queue.QUEUE_NAME == tasks.QUEUE_NAME
