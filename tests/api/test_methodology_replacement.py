"""Replacing and retiring methodology versions (issue #12, item 4): approving version N+1 ends
version N at N+1's start in the same transaction (no gap, no retirement first); retiring the
only version in force of a scope is four-eyes."""
from __future__ import annotations

import datetime as dt

import pytest

from models import MethodologyRetirement, MethodologyVersion, db
from tests.conftest import all_table_counts, assert_problem, table_counts

ADMIN = "/api/v1/admin/methodologies"
PARAM = {"name": "RF", "value": 97, "unit": "gCO2/km", "source": "test", "source_status": "secondary"}
SWITCH = "2031-01-01T00:00:00+08:00"


def path(v, suffix="", code="CITY-METRO"):
    return f"{ADMIN}/{code}/versions/{v}{suffix}"


@pytest.fixture
def team(actors):
    class Team:
        admin = actors.user("admin")
        admin2 = actors.user("admin")
        auditor = actors.user("auditor")
        auditor2 = actors.user("auditor")
        citizen = actors.user("citizen")
    return Team


def draft(client, team, effective_from, *, value=97, code="CITY-METRO", **extra):
    body = {"family": "transit_distance", "parameters": [{**PARAM, "value": value}],
            "effective_from": effective_from, **extra}
    r = client.post(f"{ADMIN}/{code}/versions", json=body, headers=team.admin.headers)
    assert r.status_code == 201, r.json
    v = r.json["version"]
    assert client.post(path(v, "/submit", code), headers=team.admin.headers).status_code == 200
    return v


@pytest.fixture
def in_force(client, team):
    """CITY-METRO v1, approved, in force since 2025 with no end (97 g/km)."""
    r = client.post(ADMIN, json={"code": "CITY-METRO", "title": "City metro",
                                 "action_type": "transit", "mode": "metro"}, headers=team.admin.headers)
    assert r.status_code == 201
    draft(client, team, "2025-01-01T00:00:00+08:00")
    assert client.post(path(1, "/approve"), headers=team.auditor.headers).status_code == 200


def calc(client, when):
    r = client.post("/api/v1/methodologies/CITY-METRO/calculate",
                    json={"occurred_at": when, "activity": {"distance_km": 10}})
    assert r.status_code == 200, r.json
    return r.json["version"], r.json["reduction_g"]


def version(app, v, code="CITY-METRO"):
    from models import Methodology
    with app.app_context():
        row = db.session.scalars(db.select(MethodologyVersion).join(MethodologyVersion.methodology)
                                 .where(Methodology.code == code,
                                        MethodologyVersion.version == v)).one()
        db.session.remove()
        return row


# --- replacement --------------------------------------------------------------------------------

def test_approving_the_next_version_ends_the_current_one_at_its_start(client, app, team, in_force):
    draft(client, team, SWITCH, value=90)
    r = client.post(path(2, "/approve"), headers=team.auditor.headers)
    assert r.status_code == 200, r.json
    v1 = client.get(path(1), headers=team.admin.headers).json
    assert v1["status"] == "approved"  # ended, not withdrawn
    assert dt.datetime.fromisoformat(v1["effective_until"]) == dt.datetime.fromisoformat(SWITCH)
    # Gap-free: the instant before the switch is v1's, the switch itself v2's.
    assert calc(client, "2030-12-31T23:59:59.999999+08:00") == (1, "970.000")
    assert calc(client, SWITCH) == (2, "900.000")
    log = client.get(f"{ADMIN}/CITY-METRO/audit-log", headers=team.auditor.headers).json["items"]
    superseded = next(e for e in log if e["action"] == "methodology.version_superseded")
    assert superseded["details"]["version"] == 1 and superseded["details"]["superseded_by"] == 2


def test_a_refused_replacement_leaves_the_current_version_in_force(client, app, team, in_force):
    draft(client, team, SWITCH, value=90)
    before = all_table_counts(app)
    # The admin who drafted it cannot approve it (not an auditor); an author is refused.
    assert_problem(client.post(path(2, "/approve"), headers=team.admin.headers), 403, "role_required")
    assert all_table_counts(app) == before
    assert version(app, 1).effective_until is None
    assert calc(client, "2032-01-01T00:00:00+08:00") == (1, "970.000")


def test_a_successor_starting_before_its_predecessor_is_409(client, app, team):
    client.post(ADMIN, json={"code": "CITY-METRO", "title": "City metro",
                             "action_type": "transit", "mode": "metro"}, headers=team.admin.headers)
    draft(client, team, SWITCH)
    assert client.post(path(1, "/approve"), headers=team.auditor.headers).status_code == 200
    draft(client, team, "2030-06-01T00:00:00+08:00", value=90)
    before = all_table_counts(app)
    assert_problem(client.post(path(2, "/approve"), headers=team.auditor.headers), 409,
                   "replacement_starts_too_early")
    assert all_table_counts(app) == before
    assert version(app, 1).effective_until is None and version(app, 2).status == "submitted"


def test_a_replacement_may_not_end_its_predecessor_in_the_past(client, app, team, in_force):
    yesterday = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).isoformat()
    draft(client, team, yesterday, value=90)
    before = all_table_counts(app)
    assert_problem(client.post(path(2, "/approve"), headers=team.auditor.headers), 409,
                   "replacement_in_the_past")
    assert all_table_counts(app) == before


def test_another_code_in_the_scope_still_overlaps(client, app, team, in_force):
    client.post(ADMIN, json={"code": "OTHER-METRO", "title": "Other metro",
                             "action_type": "transit", "mode": "metro"}, headers=team.admin.headers)
    draft(client, team, SWITCH, code="OTHER-METRO")
    before = all_table_counts(app)
    assert_problem(client.post(path(1, "/approve", "OTHER-METRO"), headers=team.auditor.headers),
                   409, "methodology_overlap")
    assert all_table_counts(app) == before
    assert version(app, 1).effective_until is None


# --- retirement ------------------------------------------------------------------------------------

def test_retiring_the_only_version_in_force_is_four_eyes(client, app, team, in_force):
    before = table_counts(app, MethodologyVersion)
    r = client.post(path(1, "/retire"), json={"reason": "factor withdrawn"}, headers=team.admin.headers)
    assert r.status_code == 202, r.json
    request = r.json
    assert request["status"] == "pending" and request["requested_by"] == str(team.admin.id)
    assert request["version"] == 1 and request["effective_until"] is None
    assert table_counts(app, MethodologyVersion) == before
    assert version(app, 1).status == "approved"
    # Asking again returns the same pending request.
    again = client.post(path(1, "/retire"), json={}, headers=team.admin.headers)
    assert again.status_code == 202 and again.json["id"] == request["id"]
    # The requester cannot approve it.
    before = all_table_counts(app)
    assert_problem(client.post(path(1, "/retire/approve"), json={}, headers=team.admin.headers),
                   403, "four_eyes")
    assert_problem(client.post(path(1, "/retire/approve"), json={}, headers=team.citizen.headers),
                   403, "role_required")
    assert all_table_counts(app) == before
    # Someone else does: retired now.
    r = client.post(path(1, "/retire/approve"), json={"note": "agreed"}, headers=team.auditor.headers)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "retired" and r.json["retired_by"] == str(team.auditor.id)
    listed = client.get(path(1, "/retirements"), headers=team.admin2.headers).json
    assert [(x["status"], x["decided_by"]) for x in listed] == [("approved", str(team.auditor.id))]
    assert_problem(client.post(path(1, "/retire/approve"), json={}, headers=team.auditor2.headers),
                   404, "retirement_not_found")


def test_a_rejected_retirement_leaves_the_version_in_force(client, app, team, in_force):
    assert client.post(path(1, "/retire"), json={}, headers=team.auditor.headers).status_code == 202
    assert_problem(client.post(path(1, "/retire/reject"), json={"note": "no"},
                               headers=team.auditor.headers), 403, "four_eyes")
    r = client.post(path(1, "/retire/reject"), json={"note": "keep it"}, headers=team.admin.headers)
    assert r.status_code == 200 and r.json["status"] == "rejected"
    assert version(app, 1).status == "approved" and version(app, 1).effective_until is None
    assert calc(client, dt.datetime.now(dt.timezone.utc).isoformat()) == (1, "970.000")


def test_an_approver_whose_role_the_requester_granted_cannot_approve_a_retirement(
        client, app, team, in_force, actors):
    friend = actors.user("citizen")
    r = client.post(f"/api/v1/admin/users/{friend.id}/roles", json={"roles": ["auditor"]},
                    headers=team.admin.headers)
    grant = r.json["pending_grants"][0]["id"]
    assert client.post(f"/api/v1/admin/role-grants/{grant}/approve", json={},
                       headers=team.admin2.headers).status_code == 200
    assert client.post(path(1, "/retire"), json={}, headers=team.admin.headers).status_code == 202
    assert_problem(client.post(path(1, "/retire/approve"), json={}, headers=friend.headers),
                   403, "four_eyes")


def test_retiring_a_version_with_a_successor_is_one_person(client, app, team, in_force):
    draft(client, team, SWITCH, value=90)
    assert client.post(path(2, "/approve"), headers=team.auditor.headers).status_code == 200
    # Retiring v1 now would leave a gap until v2 starts: four-eyes.
    r = client.post(path(1, "/retire"), json={}, headers=team.admin.headers)
    assert r.status_code == 202
    client.post(path(1, "/retire/reject"), json={"note": "wait"}, headers=team.auditor.headers)
    # Retiring it at (or after) the switch: v2 takes over there, one person suffices.
    r = client.post(path(1, "/retire"), json={"effective_until": "2032-01-01T00:00:00+00:00"},
                    headers=team.admin.headers)
    assert r.status_code == 200 and r.json["status"] == "retired"
    assert dt.datetime.fromisoformat(r.json["effective_until"]) == dt.datetime.fromisoformat(SWITCH)
    assert table_counts(app, MethodologyRetirement)["methodology_retirements"] == 1


def test_retiring_a_version_not_yet_in_force_is_one_person(client, app, team):
    client.post(ADMIN, json={"code": "CITY-METRO", "title": "City metro",
                             "action_type": "transit", "mode": "metro"}, headers=team.admin.headers)
    draft(client, team, SWITCH)
    assert client.post(path(1, "/approve"), headers=team.auditor.headers).status_code == 200
    r = client.post(path(1, "/retire"), json={}, headers=team.admin.headers)
    assert r.status_code == 200 and r.json["status"] == "retired"


def test_the_database_refuses_a_retirement_decided_by_its_requester(app, team, client, in_force):
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError
    assert client.post(path(1, "/retire"), json={}, headers=team.admin.headers).status_code == 202
    with app.app_context():
        with pytest.raises(IntegrityError):
            db.session.execute(text("UPDATE methodology_retirements SET status = 'approved', "
                                    "decided_by = requested_by"))
            db.session.flush()
        db.session.rollback()
        db.session.remove()
