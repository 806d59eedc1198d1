"""Donations under contention on real PostgreSQL: threads with their own connections give more
than a citizen holds, pass a project's target together, or retry one Idempotency-Key."""
from __future__ import annotations

import pytest

from models import Donation
from tests.concurrency.support import race
from tests.conftest import table_counts
from tests.donations_support import DONATIONS, create_project, project_row, verify_ledger
from tests.rewards_support import balance, citizen_with_points

pytestmark = pytest.mark.postgres


def post(app, citizen, project_id, points, **headers):
    r = app.test_client().post(DONATIONS, json={"project_id": project_id, "points": points},
                               headers={**citizen.headers, **headers})
    return r.status_code, r.get_json()


def test_a_citizen_cannot_give_the_same_points_twice(app, actors):
    admin = actors.user("admin")
    projects = [create_project(actors.client, admin, target_points=10_000)["id"] for _ in range(2)]
    citizen = citizen_with_points(actors, app, 100)
    results = race(8, lambda i: post(app, citizen, projects[i % 2], 60))
    statuses = sorted(r[0] for r in results)
    assert statuses == [201] + [409] * 7, results
    assert {r[1]["type"] for r in results if r[0] == 409} == {"/problems/insufficient_balance"}
    assert balance(app, citizen.id) == (40, 0)
    assert sum(project_row(app, p)["donated_points"] for p in projects) == 60
    assert verify_ledger(app).ok


def test_donors_racing_never_pass_the_target(app, actors):
    admin = actors.user("admin")
    project = create_project(actors.client, admin, target_points=100)["id"]
    citizens = [citizen_with_points(actors, app, 100) for _ in range(10)]
    results = race(10, lambda i: post(app, citizens[i], project, 40))
    statuses = [r[0] for r in results]
    assert statuses.count(201) == 2, results
    refused = {r[1]["type"] for r in results if r[0] == 409}
    assert refused <= {"/problems/exceeds_target"} and statuses.count(409) == 8
    assert project_row(app, project) == {"donated_points": 80, "donations": 2, "status": "open"}
    givers = [c for c, r in zip(citizens, results) if r[0] == 201]
    others = [c for c, r in zip(citizens, results) if r[0] != 201]
    assert all(balance(app, c.id) == (60, 0) for c in givers)
    assert all(balance(app, c.id) == (100, 0) for c in others)
    assert verify_ledger(app).ok


def test_the_last_points_complete_the_project_once(app, actors):
    admin = actors.user("admin")
    project = create_project(actors.client, admin, target_points=50)["id"]
    citizens = [citizen_with_points(actors, app, 100) for _ in range(6)]
    results = race(6, lambda i: post(app, citizens[i], project, 50))
    assert sorted(r[0] for r in results) == [201] + [409] * 5, results
    assert {r[1]["type"] for r in results if r[0] == 409} == {"/problems/project_not_open"}
    assert project_row(app, project) == {"donated_points": 50, "donations": 1,
                                         "status": "completed"}


def test_one_idempotency_key_raced_gives_once(app, actors):
    admin = actors.user("admin")
    project = create_project(actors.client, admin, target_points=10_000)["id"]
    citizen = citizen_with_points(actors, app, 1000)
    results = race(6, lambda i: post(app, citizen, project, 250, **{"Idempotency-Key": "one-gift"}))
    created = [r for r in results if r[0] == 201]
    assert created and all(r[1]["id"] == created[0][1]["id"] for r in created), results
    assert all(r[0] in (201, 409) for r in results), results
    assert table_counts(app, Donation)["donations"] == 1
    assert balance(app, citizen.id) == (750, 0)
