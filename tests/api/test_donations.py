"""Public-good projects and donations (docs/donations.md): admins create projects, citizens give
points (a `donate` transfer, idempotent, on the statement, with a receipt), anyone reads the
progress; every refusal changes nothing."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import text

from tests.conftest import all_table_counts, assert_problem
from tests.donations_support import (DONATIONS, PROJECTS, PUBLIC_PROJECTS, create_project,
                                     project_body, project_row, verify_ledger)
from tests.rewards_support import balance, citizen_with_points, give_points


@pytest.fixture
def admin(actors):
    return actors.user("admin")


def donate(client, citizen, project_id, points, **headers):
    return client.post(DONATIONS, json={"project_id": str(project_id), "points": points},
                       headers={**citizen.headers, **headers})


def test_admin_creates_a_project_and_anyone_reads_its_progress(client, admin):
    project = create_project(client, admin, region="320506", target_points=2000)
    assert (project["status"], project["donated_points"], project["remaining_points"],
            project["progress_percent"], project["donors"]) == ("open", 0, 2000, "0.00", 0)
    assert project["region"] == "320506"
    listed = client.get(PUBLIC_PROJECTS)
    assert listed.status_code == 200 and listed.headers["Cache-Control"].startswith("public")
    assert [p["id"] for p in listed.json["items"]] == [project["id"]]
    again = client.get(PUBLIC_PROJECTS, headers={"If-None-Match": listed.headers["ETag"]})
    assert again.status_code == 304
    one = client.get(f"{PUBLIC_PROJECTS}/{project['id']}")
    assert one.status_code == 200 and one.json["name"] == project["name"]
    assert_problem(client.get(f"{PUBLIC_PROJECTS}/{uuid.uuid4()}"), 404)


@pytest.mark.parametrize("overrides", [
    {"name": ""}, {"name": "   "}, {"beneficiary": None}, {"description": ""},
    {"target_points": 0}, {"target_points": -5}, {"target_points": 1.5}, {"target_points": "100"},
    {"target_points": True}, {"target_points": 10**16}, {"region": "999999"}, {"region": 320506},
    {"unexpected": 1}])
def test_bad_project_input_is_422_and_changes_nothing(app, client, admin, overrides):
    before = all_table_counts(app)
    assert_problem(client.post(PROJECTS, json=project_body(**overrides), headers=admin.headers), 422)
    assert all_table_counts(app) == before


@pytest.mark.parametrize("role", ["citizen", "auditor", "verifier"])
def test_only_admins_create_projects(app, client, actors, role):
    user = actors.user(role)
    before = all_table_counts(app)
    assert_problem(client.post(PROJECTS, json=project_body(), headers=user.headers), 403)
    assert all_table_counts(app) == before


def test_a_donation_moves_points_and_returns_a_receipt(app, client, actors, admin):
    project = create_project(client, admin, target_points=1000)
    citizen = citizen_with_points(actors, app, 1000)
    r = donate(client, citizen, project["id"], 300)
    assert r.status_code == 201, r.json
    receipt = r.json
    assert (receipt["points"], receipt["project"]["id"]) == (300, project["id"])
    assert receipt["receipt_number"].startswith("D-") and receipt["ledger_seq"] >= 1
    assert balance(app, citizen.id) == (700, 0)
    statement = client.get("/api/v1/me/ledger", headers=citizen.headers).json["items"]
    entry = statement[0]
    assert (entry["kind"], entry["reason"], entry["amount"], entry["balance_after"],
            entry["donation_id"], entry["id"]) == ("donate", "points_donated", -300, 700,
                                                   receipt["id"], receipt["transfer_id"])
    shown = client.get(f"{PUBLIC_PROJECTS}/{project['id']}").json
    assert (shown["donated_points"], shown["remaining_points"], shown["progress_percent"],
            shown["donations"], shown["donors"]) == (300, 700, "30.00", 1, 1)
    mine = client.get(DONATIONS, headers=citizen.headers).json["items"]
    assert [d["id"] for d in mine] == [receipt["id"]]
    assert client.get(f"{DONATIONS}/{receipt['id']}", headers=citizen.headers).json == receipt
    other = actors.user("citizen")
    assert_problem(client.get(f"{DONATIONS}/{receipt['id']}", headers=other.headers), 404)
    assert verify_ledger(app).ok


def test_a_retried_donation_with_the_same_key_gives_once(app, client, actors, admin):
    project = create_project(client, admin)
    citizen = citizen_with_points(actors, app, 500)
    first = donate(client, citizen, project["id"], 200, **{"Idempotency-Key": "gift-1"})
    second = donate(client, citizen, project["id"], 200, **{"Idempotency-Key": "gift-1"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["Idempotent-Replayed"] == "true" and second.json == first.json
    assert balance(app, citizen.id) == (300, 0)
    assert project_row(app, project["id"])["donated_points"] == 200
    other = donate(client, citizen, project["id"], 100, **{"Idempotency-Key": "gift-1"})
    assert_problem(other, 409, "idempotency_key_reused")


def _refusal_cases(app, client, actors, admin):
    open_project = create_project(client, admin, target_points=1000)
    small = create_project(client, admin, target_points=100)
    closed = create_project(client, admin)
    assert client.post(f"{PROJECTS}/{closed['id']}/close", json={"reason": "season over"},
                       headers=admin.headers).status_code == 200
    rich = citizen_with_points(actors, app, 1000)
    poor = citizen_with_points(actors, app, 50)
    unverified = actors.user("citizen", verified=False)
    give_points(app, [unverified.id], 500)
    return [
        (poor, open_project["id"], 60, 409, "insufficient_balance"),
        (rich, small["id"], 101, 409, "exceeds_target"),
        (rich, closed["id"], 10, 409, "project_not_open"),
        (rich, uuid.uuid4(), 10, 404, None),
        (unverified, open_project["id"], 10, 403, "account_unverified"),
        *[(rich, open_project["id"], points, 422, None)
          for points in (0, -1, 1.5, "10", True, None, 10**13)],
    ]


def test_refused_donations_change_nothing(app, client, actors, admin):
    for citizen, project_id, points, status, code in _refusal_cases(app, client, actors, admin):
        before = all_table_counts(app)
        points_before = balance(app, citizen.id)
        assert_problem(donate(client, citizen, project_id, points), status, code)
        assert all_table_counts(app) == before, (points, code)
        assert balance(app, citizen.id) == points_before


def test_reaching_the_target_completes_the_project(app, client, actors, admin):
    project = create_project(client, admin, target_points=500)
    citizen = citizen_with_points(actors, app, 1000)
    assert donate(client, citizen, project["id"], 200).status_code == 201
    assert donate(client, citizen, project["id"], 300).status_code == 201
    shown = client.get(f"{PUBLIC_PROJECTS}/{project['id']}").json
    assert (shown["status"], shown["progress_percent"], shown["remaining_points"]) == \
        ("completed", "100.00", 0)
    assert shown["ended_at"] is not None
    assert_problem(donate(client, citizen, project["id"], 1), 409, "project_not_open")
    assert_problem(client.post(f"{PROJECTS}/{project['id']}/close", json={"reason": "done now"},
                               headers=admin.headers), 409, "project_not_open")
    assert balance(app, citizen.id) == (500, 0)


def test_points_past_their_expiry_cannot_be_given(app, client, actors, admin):
    from carbon_credits.services import ledger
    from carbon_credits.services.ledger import EarnEntry
    from models import db
    project = create_project(client, admin)
    citizen = actors.user("citizen")
    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3 * 366)
    with app.app_context():
        ledger.post_earns([EarnEntry(user_id=citizen.id, amount=400, external_ref=f"old:{uuid.uuid4()}",
                                     event_time=long_ago)])
        db.session.remove()
    give_points(app, [citizen.id], 100)
    assert_problem(donate(client, citizen, project["id"], 150), 409, "insufficient_balance")
    assert donate(client, citizen, project["id"], 100).status_code == 201
    assert balance(app, citizen.id) == (0, 0)
    assert verify_ledger(app).ok


@pytest.mark.no_verify
def test_verify_catches_a_project_total_edited_behind_the_ledger(app, client, actors, admin):
    from models import db
    project = create_project(client, admin)
    citizen = citizen_with_points(actors, app, 300)
    assert donate(client, citizen, project["id"], 100).status_code == 201
    assert verify_ledger(app).ok
    with app.app_context():
        db.session.execute(text("UPDATE public_projects SET donated_points = 900 WHERE id = :id"),
                           {"id": uuid.UUID(project["id"]).hex if db.engine.dialect.name == "sqlite"
                            else project["id"]})
        db.session.commit()
        db.session.remove()
    problems = verify_ledger(app).problems
    assert any("donated_points 900 but its account received 100" in p for p in problems), problems


def test_admins_list_and_close_projects(app, client, actors, admin):
    project = create_project(client, admin)
    auditor = actors.user("auditor")
    listed = client.get(f"{PROJECTS}?status=open", headers=auditor.headers)
    assert [p["id"] for p in listed.json["items"]] == [project["id"]]
    assert_problem(client.get(f"{PROJECTS}?status=gone", headers=auditor.headers), 422)
    assert_problem(client.post(f"{PROJECTS}/{project['id']}/close", json={"reason": "x"},
                               headers=admin.headers), 422)
    closed = client.post(f"{PROJECTS}/{project['id']}/close", json={"reason": "season over"},
                         headers=admin.headers)
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    assert_problem(client.post(f"{PROJECTS}/{uuid.uuid4()}/close", json={"reason": "season over"},
                               headers=admin.headers), 404)


def test_donations_are_in_the_personal_data_export(app, client, actors, admin):
    project = create_project(client, admin)
    citizen = citizen_with_points(actors, app, 300)
    receipt = donate(client, citizen, project["id"], 120).json
    export = client.get("/api/v1/me/export", headers=citizen.headers)
    assert export.status_code == 200
    (gift,) = export.get_json()["donations"]
    assert (gift["id"], gift["points"], gift["project_name"]) == (receipt["id"], 120, project["name"])


def test_openapi_shows_every_donation_endpoint_with_examples(client):
    spec = client.get("/api/v1/openapi.json").json
    wanted = {("/api/v1/admin/projects", "post"), ("/api/v1/admin/projects", "get"),
              ("/api/v1/admin/projects/{project_id}/close", "post"),
              ("/api/v1/public/projects", "get"), ("/api/v1/public/projects/{project_id}", "get"),
              ("/api/v1/me/donations", "post"), ("/api/v1/me/donations", "get"),
              ("/api/v1/me/donations/{donation_id}", "get")}
    for path, method in wanted:
        assert method in spec["paths"][path], (path, method)
    for path, method in {("/api/v1/admin/projects", "post"), ("/api/v1/me/donations", "post")}:
        operation = spec["paths"][path][method]
        assert operation["requestBody"]["content"]["application/json"]["example"]
        assert operation["responses"]["201"]["content"]["application/json"]["example"]
