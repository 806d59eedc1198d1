"""The due-jobs registry: `flask jobs run-due`, the RQ task functions and a real RQ worker."""
from __future__ import annotations

import pytest

import worker as tasks
from carbon_credits import jobs
from tests.conftest import REDIS_URL
from tests.rewards_support import (REDEMPTIONS, backdate_reservations, balance,
                                   citizen_with_points, create_reward, merchant, redemption_row,
                                   reward_row)


def _expired_reservation(actors, app):
    _, staff = merchant(actors)
    reward = create_reward(actors.client, staff, stock=1)
    citizen = citizen_with_points(actors, app, 500)
    redemption = actors.client.post(REDEMPTIONS, json={"reward_id": reward["id"]},
                                    headers=citizen.headers).json
    backdate_reservations(app)
    return reward, citizen, redemption


def _released(app, reward, citizen, redemption):
    assert redemption_row(app, redemption["id"])["status"] == "expired"
    assert balance(app, citizen.id) == (500, 0)
    assert reward_row(app, reward["id"])["stock"] == 1


def test_registry_holds_the_reward_and_ledger_expiries_first():
    assert jobs.job_names()[:3] == ["release_expired_reservations", "expire_due_holds",
                                    "expire_due_lots"]


def test_jobs_run_due_releases_expired_reservations_once(runner, actors, app):
    reward, citizen, redemption = _expired_reservation(actors, app)
    first = runner.invoke(args=["jobs", "run-due"])
    assert first.exit_code == 0, first.output
    assert "release_expired_reservations: 1" in first.output
    assert "expire_due_holds: 0" in first.output  # the reservation released its own hold
    second = runner.invoke(args=["jobs", "run-due"])
    assert "release_expired_reservations: 0" in second.output
    _released(app, reward, citizen, redemption)


def test_a_failing_job_is_reported_and_the_others_still_run(runner, actors, app, monkeypatch):
    reward, citizen, redemption = _expired_reservation(actors, app)

    def broken(*, now=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(jobs, "DUE_JOBS", [("broken", broken)] + jobs.DUE_JOBS)
    result = runner.invoke(args=["jobs", "run-due"])
    assert result.exit_code == 1
    assert "broken: failed" in result.output and "release_expired_reservations: 1" in result.output
    _released(app, reward, citizen, redemption)


def test_task_function_runs_a_job_in_an_app_context(actors, app, monkeypatch):
    reward, citizen, redemption = _expired_reservation(actors, app)
    monkeypatch.setattr(tasks, "_app", app)
    assert tasks.run_job("release_expired_reservations") == 1
    assert tasks.run_job("release_expired_reservations") == 0
    with pytest.raises(KeyError):
        tasks.run_job("no_such_job")
    _released(app, reward, citizen, redemption)


@pytest.mark.redis
def test_rq_worker_processes_the_enqueued_due_jobs(actors, app, monkeypatch):
    import redis
    from rq import SimpleWorker
    reward, citizen, redemption = _expired_reservation(actors, app)
    monkeypatch.setattr(tasks, "_app", app)
    connection = redis.Redis.from_url(REDIS_URL)
    enqueued = tasks.enqueue_due(connection)
    worker = SimpleWorker([tasks.QUEUE_NAME], connection=connection)
    worker.work(burst=True)
    results = {job.args[0]: job.return_value() for job in enqueued}
    assert results["release_expired_reservations"] == 1
    _released(app, reward, citizen, redemption)
