"""Methodology registry over HTTP: reads, dry runs, the review lifecycle, four-eyes, ETags."""
from __future__ import annotations

import datetime as dt

import pytest

from models import AuditEntry, Methodology, MethodologyVersion
from tests.conftest import all_table_counts, assert_problem, table_counts

ADMIN = "/api/v1/admin/methodologies"


def seed(app):
    from carbon_credits.services.seed import seed_all
    with app.app_context():
        return seed_all()


def version_path(code, v, suffix=""):
    return f"{ADMIN}/{code}/versions/{v}{suffix}"


def future(days=1):
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)).isoformat()


PARAM = {"name": "RF", "value": 97, "unit": "gCO2/km", "source": "sthj.sh.gov.cn Q&A",
         "source_status": "secondary"}


@pytest.fixture
def team(actors):
    class Team:
        admin = actors.user("admin")
        admin2 = actors.user("admin")
        auditor = actors.user("auditor")
        auditor2 = actors.user("auditor")
        both = actors.user("admin")  # drafts as admin, then becomes auditor (becomes_auditor)
        citizen = actors.user("citizen")
    return Team


def becomes_auditor(client, team, user):
    """No account holds admin and auditor at once: an admin moves to auditor through a
    four-eyes grant (requested by one admin, approved by another)."""
    r = client.post(f"/api/v1/admin/users/{user.id}/roles", json={"roles": ["auditor"]},
                    headers=team.admin2.headers)
    assert r.status_code == 202, r.json
    grant = r.json["pending_grants"][0]["id"]
    r = client.post(f"/api/v1/admin/role-grants/{grant}/approve", json={}, headers=team.admin.headers)
    assert r.status_code == 200, r.json


def new_code(client, team, code="CITY-METRO", mode="metro"):
    r = client.post(ADMIN, json={"code": code, "title": "City metro", "action_type": "transit",
                                 "mode": mode}, headers=team.admin.headers)
    assert r.status_code == 201, r.json
    return r


def new_draft(client, user, code="CITY-METRO", **overrides):
    body = {"family": "transit_distance", "parameters": [PARAM],
            "applicability": {"max_distance_km": 100, "self_report": "review"},
            "daily_cap_g": 5000, "effective_from": "2030-01-01T00:00:00+08:00", **overrides}
    r = client.post(f"{ADMIN}/{code}/versions", json=body, headers=user.headers)
    assert r.status_code == 201, r.json
    return r


# --- public reads and the seed ---------------------------------------------------------------

def test_seeded_sh_metro_computes_970_grams_for_10_km_with_its_source(client, app):
    seed(app)
    r = client.post("/api/v1/methodologies/SH-METRO/calculate", json={"activity": {"distance_km": 10}})
    assert r.status_code == 200, r.json
    body = r.json
    assert body["reduction_g"] == "970.000" and body["points"] == 970
    assert body["version"] == 1 and body["outcome"] == "accept"
    factor = body["breakdown"][0]
    assert factor["name"] == "RF" and factor["value"] == "97" and factor["unit"] == "gCO2/km"
    assert "sthj.sh.gov.cn" in factor["source"] and factor["source_status"] == "secondary"


def test_list_shows_the_six_approved_in_force_methodologies(client, app):
    seed(app)
    body = client.get("/api/v1/methodologies").json
    codes = [item["code"] for item in body["items"]]
    assert codes == sorted(["SH-METRO", "SH-BUS-BOARDING", "SH-BIKESHARE", "BJ-WALK",
                            "EV-CHARGING-CN", "RECYCLABLES-CN"])
    assert body["next_cursor"] is None
    page = client.get("/api/v1/methodologies?limit=4").json
    rest = client.get(f"/api/v1/methodologies?limit=4&cursor={page['next_cursor']}").json
    assert [i["code"] for i in page["items"] + rest["items"]] == codes


def test_public_read_shows_parameters_sources_and_caps_but_no_drafts(client, app, team):
    seed(app)
    body = client.get("/api/v1/methodologies/EV-CHARGING-CN").json
    version = body["versions"][0]
    assert version["status"] == "approved" and version["daily_cap_g"] == "10000.000"
    statuses = {p["name"]: p["source_status"] for p in version["parameters"]}
    assert statuses == {"EC_ev": "scheme_design_choice", "FC_ice": "scheme_design_choice",
                        "EF_fuel": "press", "EF_grid": "press"}
    assert version["applicability"]["self_report"] == "review"
    assert_problem(client.get("/api/v1/methodologies/SZ-PT-METRO"), 404, "methodology_not_found")
    admin_view = client.get(f"{ADMIN}/SZ-PT-METRO", headers=team.auditor.headers).json
    assert admin_view["versions"][0]["status"] == "draft"
    assert_problem(client.get("/api/v1/methodologies/NOPE"), 404)


def test_dry_run_on_a_draft_by_auditor_or_admin_but_not_anonymous_or_citizen(client, app, team):
    seed(app)
    body = {"version": 1, "activity": {"distance_km": 10}}
    url = "/api/v1/methodologies/SZ-PT-METRO/calculate"
    assert client.post(url, json=body, headers=team.auditor.headers).status_code == 200
    assert client.post(url, json=body, headers=team.admin.headers).status_code == 200
    assert_problem(client.post(url, json=body), 401)
    assert_problem(client.post(url, json=body, headers=team.citizen.headers), 403, "draft_access")
    assert_problem(client.post(url, json=body, headers={"Authorization": "Bearer junk"}), 401)
    # without a version the code has nothing in force
    assert_problem(client.post(url, json={"activity": {"distance_km": 10}}), 409,
                   "methodology_not_in_force")


def test_dry_run_reports_applicability(client, app):
    seed(app)
    r = client.post("/api/v1/methodologies/BJ-WALK/calculate", json={
        "channel": "app", "activity": {"distance_km": 30, "started_at": "2025-03-01T08:00:00+08:00",
                                       "ended_at": "2025-03-01T08:10:00+08:00"}})
    assert r.status_code == 200
    assert r.json["outcome"] == "reject"
    assert {x["code"] for x in r.json["reasons"]} == {"distance_out_of_bounds", "speed_out_of_bounds"}
    r = client.post("/api/v1/methodologies/SH-METRO/calculate",
                    json={"channel": "app", "activity": {"distance_km": 10}})
    assert r.json["outcome"] == "review"


@pytest.mark.parametrize("body, field", [
    ({}, "activity"),
    ({"activity": {"distance_km": "10"}}, "activity.distance_km"),
    ({"activity": {"distance_km": True}}, "activity.distance_km"),
    ({"activity": {"distance_km": -1}}, "activity.distance_km"),
    ({"activity": {"distance_km": 0}}, "activity.distance_km"),
    ({"activity": {"distance_km": 10, "points": 5}}, "activity.points"),
    ({"activity": {"distance_km": 10}, "reduction_g": 5}, "reduction_g"),
    ({"activity": {"distance_km": 10}, "occurred_at": "2025-01-01T00:00:00"}, "occurred_at"),
    ({"activity": {"boardings": 1}}, "activity.distance_km"),
    ({"activity": {"distance_km": 10}, "version": "1"}, "version"),
])
def test_bad_calculate_input_is_422_and_changes_nothing(client, app, body, field):
    seed(app)
    before = all_table_counts(app)
    r = client.post("/api/v1/methodologies/SH-METRO/calculate", json=body)
    problem = assert_problem(r, 422, "validation")
    assert field in problem["errors"], problem
    assert all_table_counts(app) == before


def test_huge_numbers_are_422_not_infinity(client, app):
    seed(app)
    r = client.post("/api/v1/methodologies/SH-METRO/calculate",
                    data=b'{"activity": {"distance_km": 1e400}}', content_type="application/json")
    assert "activity.distance_km" in assert_problem(r, 422, "validation")["errors"]


def test_calculate_with_occurred_at_before_any_version_is_409(client, app):
    seed(app)
    r = client.post("/api/v1/methodologies/SH-METRO/calculate",
                    json={"occurred_at": "2020-01-01T00:00:00+08:00", "activity": {"distance_km": 1}})
    assert_problem(r, 409, "methodology_not_in_force")


def test_seed_twice_changes_nothing(app, runner):
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0, first.output
    assert "14 version(s) created" in first.output
    counts = all_table_counts(app)
    with app.app_context():
        from models import db
        snapshot = [(v.id, v.status, v.revision, v.parameters) for v in
                    db.session.query(MethodologyVersion).order_by(MethodologyVersion.id)]
        db.session.remove()
    second = runner.invoke(args=["seed"])
    assert second.exit_code == 0 and "0 version(s) created; 14 already present" in second.output
    assert all_table_counts(app) == counts
    with app.app_context():
        again = [(v.id, v.status, v.revision, v.parameters) for v in
                 db.session.query(MethodologyVersion).order_by(MethodologyVersion.id)]
        db.session.remove()
    assert again == snapshot
    assert counts["methodologies"] == 14 and counts["methodology_versions"] == 14


# --- lifecycle -------------------------------------------------------------------------------

def test_full_lifecycle_draft_edit_submit_approve_retire_with_audit(client, app, team):
    new_code(client, team)
    created = new_draft(client, team.admin)
    assert created.json["status"] == "draft" and created.headers["ETag"] == created.json["etag"]
    etag = created.headers["ETag"]
    r = client.patch(version_path("CITY-METRO", 1), json={"daily_cap_g": 4000},
                     headers={**team.admin2.headers, "If-Match": etag})
    assert r.status_code == 200, r.json
    assert r.json["daily_cap_g"] == "4000.000" and r.json["revision"] == 2
    assert r.headers["ETag"] != etag
    r = client.post(version_path("CITY-METRO", 1, "/submit"), headers=team.admin.headers)
    assert r.status_code == 200 and r.json["status"] == "submitted"
    r = client.post(version_path("CITY-METRO", 1, "/approve"), headers=team.auditor.headers)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "approved" and r.json["approved_by"] == str(team.auditor.id)
    r = client.post(version_path("CITY-METRO", 1, "/retire"), json={}, headers=team.auditor.headers)
    assert r.status_code == 200 and r.json["status"] == "retired"
    log = client.get(f"{ADMIN}/CITY-METRO/audit-log", headers=team.auditor.headers).json["items"]
    actions = [(e["action"], e["actor_user_id"]) for e in reversed(log)]
    assert actions == [("methodology.create", str(team.admin.id)),
                       ("methodology.version_create", str(team.admin.id)),
                       ("methodology.version_edit", str(team.admin2.id)),
                       ("methodology.version_submit", str(team.admin.id)),
                       ("methodology.version_approve", str(team.auditor.id)),
                       ("methodology.version_retire", str(team.auditor.id))]


def _to_status(client, team, status):
    new_code(client, team)
    new_draft(client, team.admin)
    if status == "draft":
        return
    client.post(version_path("CITY-METRO", 1, "/submit"), headers=team.admin.headers)
    if status == "submitted":
        return
    if status == "rejected":
        client.post(version_path("CITY-METRO", 1, "/reject"), json={"reason": "bad"},
                    headers=team.auditor.headers)
        return
    client.post(version_path("CITY-METRO", 1, "/approve"), headers=team.auditor.headers)
    if status == "retired":
        client.post(version_path("CITY-METRO", 1, "/retire"), json={}, headers=team.admin.headers)


TRANSITIONS = {  # (from status, action) -> allowed
    "submit": {"draft"},
    "approve": {"submitted"},
    "reject": {"submitted"},
    "retire": {"approved"},
}
ACTORS = {"submit": "admin", "approve": "auditor", "reject": "auditor", "retire": "auditor"}


@pytest.mark.parametrize("status", ["draft", "submitted", "approved", "rejected", "retired"])
@pytest.mark.parametrize("action", ["submit", "approve", "reject", "retire"])
def test_every_transition_allowed_or_refused(client, app, team, status, action):
    _to_status(client, team, status)
    current = client.get(version_path("CITY-METRO", 1), headers=team.auditor.headers).json
    assert current["status"] == status
    body = {"reason": "not sourced"} if action == "reject" else {}
    user = getattr(team, ACTORS[action])
    before = all_table_counts(app)
    r = client.post(version_path("CITY-METRO", 1, f"/{action}"), json=body, headers=user.headers)
    if status in TRANSITIONS[action]:
        assert r.status_code == 200, r.json
        expected = {"submit": "submitted", "approve": "approved", "reject": "rejected",
                    "retire": "retired"}[action]
        assert r.json["status"] == expected
    else:
        assert_problem(r, 409, "invalid_transition")
        assert all_table_counts(app) == before


def test_rejection_needs_a_reason_and_is_recorded(client, app, team):
    _to_status(client, team, "submitted")
    assert_problem(client.post(version_path("CITY-METRO", 1, "/reject"), json={},
                               headers=team.auditor.headers), 422)
    r = client.post(version_path("CITY-METRO", 1, "/reject"), json={"reason": "source missing"},
                    headers=team.auditor.headers)
    assert r.json["status"] == "rejected" and r.json["rejection_reason"] == "source missing"


def test_drafter_cannot_approve_their_own_version(client, app, team):
    new_code(client, team)
    new_draft(client, team.both)
    client.post(version_path("CITY-METRO", 1, "/submit"), headers=team.admin.headers)
    becomes_auditor(client, team, team.both)
    before = all_table_counts(app)
    r = client.post(version_path("CITY-METRO", 1, "/approve"), headers=team.both.headers)
    assert_problem(r, 403, "four_eyes")
    assert all_table_counts(app) == before
    assert client.post(version_path("CITY-METRO", 1, "/approve"),
                       headers=team.auditor.headers).status_code == 200


def test_an_editor_or_submitter_cannot_approve_either(client, app, team):
    new_code(client, team)
    etag = new_draft(client, team.admin).headers["ETag"]
    client.patch(version_path("CITY-METRO", 1), json={"change_note": "tweak"},
                 headers={**team.both.headers, "If-Match": etag})
    client.post(version_path("CITY-METRO", 1, "/submit"), headers=team.admin.headers)
    becomes_auditor(client, team, team.both)
    assert_problem(client.post(version_path("CITY-METRO", 1, "/approve"), headers=team.both.headers),
                   403, "four_eyes")


def test_roles_drafting_is_admin_approving_is_auditor(client, app, team):
    new_code(client, team)
    assert_problem(client.post(f"{ADMIN}/CITY-METRO/versions", json={}, headers=team.auditor.headers), 403)
    new_draft(client, team.admin)
    client.post(version_path("CITY-METRO", 1, "/submit"), headers=team.admin.headers)
    assert_problem(client.post(version_path("CITY-METRO", 1, "/approve"), headers=team.admin2.headers),
                   403, "role_required")


def test_approved_versions_are_immutable(client, app, team):
    _to_status(client, team, "approved")
    etag = client.get(version_path("CITY-METRO", 1), headers=team.admin.headers).headers["ETag"]
    before = all_table_counts(app)
    r = client.patch(version_path("CITY-METRO", 1), json={"parameters": [{**PARAM, "value": 98}]},
                     headers={**team.admin.headers, "If-Match": etag})
    assert_problem(r, 409, "version_immutable")
    assert all_table_counts(app) == before
    body = client.get(version_path("CITY-METRO", 1), headers=team.admin.headers).json
    assert body["parameters"][0]["value"] == "97"


def test_submitted_versions_are_not_edited(client, app, team):
    _to_status(client, team, "submitted")
    etag = client.get(version_path("CITY-METRO", 1), headers=team.admin.headers).headers["ETag"]
    r = client.patch(version_path("CITY-METRO", 1), json={"change_note": "x"},
                     headers={**team.admin.headers, "If-Match": etag})
    assert_problem(r, 409, "version_not_draft")


def test_database_refuses_changes_to_an_approved_row(app, client, team):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError
    from models import db
    _to_status(client, team, "approved")
    with app.app_context():
        for statement in ("UPDATE methodology_versions SET parameters = '[]'",
                          "UPDATE methodology_versions SET effective_from = NULL",
                          "UPDATE methodology_versions SET status = 'draft'",
                          "DELETE FROM methodology_versions"):
            with pytest.raises(DBAPIError):
                db.session.execute(text(statement))
            db.session.rollback()
        db.session.remove()


def test_lost_update_is_refused_by_etag(client, app, team):
    new_code(client, team)
    etag = new_draft(client, team.admin).headers["ETag"]
    first = client.patch(version_path("CITY-METRO", 1), json={"daily_cap_g": 1000},
                         headers={**team.admin.headers, "If-Match": etag})
    assert first.status_code == 200
    before = all_table_counts(app)
    second = client.patch(version_path("CITY-METRO", 1), json={"daily_cap_g": 9000},
                          headers={**team.admin2.headers, "If-Match": etag})
    assert_problem(second, 412, "etag_mismatch")
    missing = client.patch(version_path("CITY-METRO", 1), json={"daily_cap_g": 9000},
                           headers=team.admin2.headers)
    assert_problem(missing, 428, "if_match_required")
    assert all_table_counts(app) == before
    assert client.get(version_path("CITY-METRO", 1), headers=team.admin.headers).json["daily_cap_g"] == "1000.000"


@pytest.mark.parametrize("body, field", [
    ({"parameters": [{**PARAM, "value": "97"}]}, "parameters.0.value"),
    ({"parameters": [{**PARAM, "unit": "furlongs"}]}, "parameters.0.unit"),
    ({"parameters": [{**PARAM, "source_status": "rumour"}]}, "parameters.0.source_status"),
    ({"parameters": [{k: v for k, v in PARAM.items() if k != "source"}]}, "parameters.0.source"),
    ({"parameters": []}, "parameters"),
    ({"family": "recyclables"}, "family"),
    ({"family": "ev_charging"}, "family"),
    ({"daily_cap_g": -1}, "daily_cap_g"),
    ({"daily_cap_g": 1.0001}, "daily_cap_g"),
    ({"effective_until": "2029-01-01T00:00:00+00:00"}, "effective_until"),
    ({"applicability": {"max_speed_kmh": "fast"}}, "applicability.max_speed_kmh"),
    ({"applicability": {"min_distance_km": 5, "max_distance_km": 1}}, "applicability.max_distance_km"),
    ({"status": "approved"}, "status"),
    ({"approved_by": "me"}, "approved_by"),
])
def test_bad_draft_edits_are_422_and_change_nothing(client, app, team, body, field):
    new_code(client, team)
    etag = new_draft(client, team.admin).headers["ETag"]
    before = all_table_counts(app)
    r = client.patch(version_path("CITY-METRO", 1), json=body,
                     headers={**team.admin.headers, "If-Match": etag})
    problem = assert_problem(r, 422)
    assert field in problem["errors"], problem
    assert all_table_counts(app) == before
    assert client.get(version_path("CITY-METRO", 1), headers=team.admin.headers).headers["ETag"] == etag


@pytest.mark.parametrize("body, field", [
    ({"code": "bad code", "title": "x", "action_type": "transit", "mode": "metro"}, "code"),
    ({"code": "X", "title": "x", "action_type": "flying", "mode": None}, "action_type"),
    ({"code": "X", "title": "x", "action_type": "transit"}, "mode"),
    ({"code": "X", "title": "x", "action_type": "ev_charging", "mode": "bus"}, "mode"),
])
def test_bad_new_codes_are_422(client, app, team, body, field):
    before = all_table_counts(app)
    problem = assert_problem(client.post(ADMIN, json=body, headers=team.admin.headers), 422)
    assert field in problem["errors"]
    assert all_table_counts(app) == before


def test_duplicate_code_is_409(client, app, team):
    new_code(client, team)
    before = table_counts(app, Methodology, AuditEntry)
    r = client.post(ADMIN, json={"code": "CITY-METRO", "title": "again", "action_type": "transit",
                                 "mode": "metro"}, headers=team.admin.headers)
    assert_problem(r, 409, "methodology_exists")
    assert table_counts(app, Methodology, AuditEntry) == before


def test_submit_needs_effective_from(client, team):
    new_code(client, team)
    new_draft(client, team.admin, effective_from=None)
    assert_problem(client.post(version_path("CITY-METRO", 1, "/submit"), headers=team.admin.headers), 422)


# --- selection by time, overlap, diff -------------------------------------------------------------

def _approve(client, team, code, v):
    assert client.post(version_path(code, v, "/submit"), headers=team.admin.headers).status_code == 200
    r = client.post(version_path(code, v, "/approve"), headers=team.auditor.headers)
    return r


def test_time_based_selection_across_a_version_change(client, app, team):
    new_code(client, team)
    new_draft(client, team.admin, effective_from="2025-01-01T00:00:00+08:00",
              effective_until="2025-03-01T00:00:00+08:00")
    assert _approve(client, team, "CITY-METRO", 1).status_code == 200
    new_draft(client, team.admin, based_on=1, parameters=[{**PARAM, "value": 90}],
              effective_from="2025-03-01T00:00:00+08:00", effective_until=None,
              change_note="new factor from March")
    assert _approve(client, team, "CITY-METRO", 2).status_code == 200

    def calc(when):
        return client.post("/api/v1/methodologies/CITY-METRO/calculate",
                           json={"occurred_at": when, "activity": {"distance_km": 10}}).json

    february = calc("2025-02-28T23:59:59+08:00")
    march = calc("2025-03-01T00:00:00+08:00")
    assert (february["version"], february["reduction_g"]) == (1, "970.000")
    assert (march["version"], march["reduction_g"]) == (2, "900.000")
    from carbon_credits.services.methodologies import get_version_in_force
    with app.app_context():
        at = dt.datetime(2025, 2, 10, tzinfo=dt.timezone.utc)
        assert get_version_in_force(action_type="transit", mode="metro", occurred_at=at).version == 1
        assert get_version_in_force(action_type="transit", mode="bus", occurred_at=at) is None


def test_overlapping_approval_in_the_same_scope_is_409(client, app, team):
    seed(app)
    client.post(version_path("SZ-PT-METRO", 1, "/submit"), headers=team.admin.headers)
    before = all_table_counts(app)
    r = client.post(version_path("SZ-PT-METRO", 1, "/approve"), headers=team.auditor.headers)
    body = assert_problem(r, 409, "methodology_overlap")
    assert "SH-METRO" in body["detail"]
    assert all_table_counts(app) == before


def test_retiring_the_holder_frees_the_scope_from_its_end(client, app, team):
    seed(app)
    end = future(days=30)
    r = client.post(version_path("SH-METRO", 1, "/retire"), json={"effective_until": end},
                    headers=team.admin.headers)
    assert r.status_code == 202 and r.json["status"] == "pending"  # nothing takes over: four-eyes
    r = client.post(version_path("SH-METRO", 1, "/retire/approve"), json={},
                    headers=team.auditor.headers)
    assert r.status_code == 200 and r.json["effective_until"] is not None
    etag = client.get(version_path("SZ-PT-METRO", 1), headers=team.admin.headers).headers["ETag"]
    client.patch(version_path("SZ-PT-METRO", 1), json={"effective_from": end},
                 headers={**team.admin.headers, "If-Match": etag})
    assert _approve(client, team, "SZ-PT-METRO", 1).status_code == 200
    # the retired version still explains trips made before its end
    r = client.post("/api/v1/methodologies/SH-METRO/calculate", json={"activity": {"distance_km": 1}})
    assert r.json["reduction_g"] == "97.000"


def test_retire_cannot_rewrite_history(client, app, team):
    seed(app)
    r = client.post(version_path("SH-METRO", 1, "/retire"),
                    json={"effective_until": "2024-06-01T00:00:00+08:00"}, headers=team.admin.headers)
    assert_problem(r, 422)


def test_diff_between_versions(client, app, team):
    new_code(client, team)
    new_draft(client, team.admin)
    new_draft(client, team.admin, based_on=1, parameters=[{**PARAM, "value": 98}], daily_cap_g=6000)
    body = client.get(f"{ADMIN}/CITY-METRO/versions/1/diff/2", headers=team.auditor.headers).json
    changes = {c["field"]: (c["from"], c["to"]) for c in body["changes"]}
    assert changes == {"parameters.RF.value": ("97", "98"), "daily_cap_g": ("5000.000", "6000.000")}
    assert_problem(client.get(f"{ADMIN}/CITY-METRO/versions/1/diff/9", headers=team.auditor.headers), 404)


def _docs_examples():
    import json
    import re
    from carbon_credits.config import PROJECT_ROOT
    text = (PROJECT_ROOT / "docs" / "methodologies.md").read_text(encoding="utf-8")
    section = text.split("### Worked examples", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([A-Z0-9-]+) \| (\d+) \| `(\{.*\})` \| ([0-9.]+) \|$", section, re.M)
    return [(code, int(v), json.loads(activity), grams) for code, v, activity, grams in rows]


def test_docs_have_one_example_per_seed_methodology():
    import json
    from carbon_credits.services.methodologies.seed import SEED_FILE
    seeded = {m["code"] for m in json.loads(SEED_FILE.read_text(encoding="utf-8"))["methodologies"]}
    assert len(seeded) == 14
    assert {row[0] for row in _docs_examples()} == seeded


@pytest.mark.parametrize("code, version, activity, grams", _docs_examples())
def test_docs_worked_examples_table(client, app, team, code, version, activity, grams):
    seed(app)
    r = client.post(f"/api/v1/methodologies/{code}/calculate",
                    json={"version": version, "activity": activity}, headers=team.auditor.headers)
    assert r.status_code == 200, r.json
    assert r.json["reduction_g"] == grams


def test_version_numbers_beyond_the_column_are_404_not_500(client, app, actors):
    admin = actors.user("admin")
    r = client.get("/api/v1/admin/methodologies/SH-METRO/versions/4796040231/diff/1",
                   headers=admin.headers)
    # Past the column's range the path matches no route at all (bounded <int:> converter).
    assert_problem(r, 404, "not_found")
