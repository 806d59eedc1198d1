"""District scoping (docs/roles.md, "District admins and auditors"): an admin or auditor scoped to
320505 walks every staff operation of the OpenAPI document against objects of 320506 and gets
403 (city-wide operations) or 404 / 403 `outside_district` (district-scoped ones), with nothing
changed; the same district-scoped operations work on objects of their own district."""
from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest

from carbon_credits.domain.vocabulary import PRIVILEGED_ROLES
from tests.api.test_actions import recent, seeded, trip  # noqa: F401
from tests.conftest import all_table_counts, assert_problem

OWN, OTHER = "320505", "320506"
STAFF = set(PRIVILEGED_ROLES)


def _grant(client, requester, approver, user, role, region):
    r = client.post(f"/api/v1/admin/users/{user.id}/roles",
                    json={"roles": [role], "region": region}, headers=requester.headers)
    assert r.status_code == 202, r.json
    grant = r.json["pending_grants"][0]
    assert grant["region"] == region
    a = client.post(f"/api/v1/admin/role-grants/{grant['id']}/approve", json={},
                    headers=approver.headers)
    assert a.status_code == 200, a.json


def _district_objects(client, actors, region):
    citizen = actors.user("citizen")
    assert client.patch("/api/v1/me", json={"region": region}, headers=citizen.headers).status_code == 200
    credited = client.post("/api/v1/actions", json=trip(recent(3), minutes=30, km=2, mode="walk"),
                           headers=citizen.headers).json
    pending = client.post("/api/v1/actions", json=trip(recent(5)), headers=citizen.headers).json
    assert (credited["status"], pending["status"]) == ("credited", "pending_review")
    assert credited["region"] == pending["region"] == region
    return {"citizen": citizen, "credited": credited["id"], "pending": pending["id"]}


@pytest.fixture
def district(client, app, seeded, actors):  # noqa: F811
    admin, second = actors.user("admin"), actors.user("admin")
    staff = {"admin": actors.user("citizen"), "auditor": actors.user("citizen")}
    for role, user in staff.items():
        _grant(client, admin, second, user, role, OWN)
        me = client.get("/api/v1/me", headers=user.headers).json
        assert role in me["roles"]
    listed = client.get(f"/api/v1/admin/users/{staff['admin'].id}", headers=admin.headers).json
    assert listed["staff_region"] == OWN
    today = dt.datetime.now(dt.timezone.utc).date()
    dates = {"from": (today - dt.timedelta(days=2)).isoformat(),
             "to": (today + dt.timedelta(days=1)).isoformat()}
    exports = {region: client.post("/api/v1/admin/reports/exports",
                                   json={**dates, "region": region}, headers=admin.headers).json["id"]
               for region in (OWN, OTHER, None)}
    return {"city_admin": admin, "staff": staff, "dates": dates, "exports": exports,
            OWN: _district_objects(client, actors, OWN), OTHER: _district_objects(client, actors, OTHER)}


def _operations(client):
    spec = client.get("/api/v1/openapi.json").json
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete") and set(op["x-roles"]) <= STAFF:
                yield path, method, op


def _fill(path: str, objects: dict) -> str:
    def fill(match):
        name = match.group(1)
        if name == "action_id":
            return objects["pending"]
        if name == "export_id":
            return objects["export"]
        if name == "code":
            return "SH-METRO"
        if name in ("v", "a", "b", "version"):
            return "1"
        return str(uuid.uuid4())
    return re.sub(r"\{([^}]+)\}", fill, path)


BODIES = {"approve": {}, "reject": {"reason": "not plausible"}, "reverse": {"reason": "card cloned"}}


def test_a_district_admin_or_auditor_reaches_nothing_of_another_district(client, app, district):
    other = {**district[OTHER], "export": district["exports"][OTHER]}
    before = all_table_counts(app)
    walked = {"city_wide_only": 0, "scoped": 0}
    for role, user in district["staff"].items():
        for path, method, op in _operations(client):
            if role not in op["x-roles"]:
                continue
            url = _fill(path, other)
            body = BODIES.get(path.rsplit("/", 1)[-1], {**district["dates"]}) if method != "get" else None
            query = {**district["dates"], "group_by": "region"} if path.endswith("/reductions") else None
            r = client.open(url, method=method.upper(), json=body, query_string=query,
                            headers=user.headers)
            where = f"{role}: {method.upper()} {path}"
            if not op.get("x-district-scoped"):
                assert r.status_code == 403 and r.json["type"] == "/problems/city_wide_only", where
                walked["city_wide_only"] += 1
                continue
            walked["scoped"] += 1
            if "{" in path:  # one object of the other district: as if it did not exist
                assert r.status_code == 404, (where, r.json)
            elif method == "get" and path.endswith("/actions"):  # the list: only their own
                assert r.status_code == 200 and r.json["items"], where
                assert {a["region"] for a in r.json["items"]} == {OWN}, where
                assert_problem(client.get(url, query_string={"region": OTHER}, headers=user.headers),
                               403, "outside_district")
            elif path.endswith("/reductions"):
                assert r.status_code == 200 and r.json["region"] == OWN, where
                assert {i["region"] for i in r.json["items"]} <= {OWN}
                assert_problem(client.get(url, query_string={**query, "region": OTHER},
                                          headers=user.headers), 403, "outside_district")
            else:  # POST /exports asking for another district
                assert_problem(client.post(url, json={**body, "region": OTHER}, headers=user.headers),
                               403, "outside_district")
    # The reverse route with an Idempotency-Key goes through the same check.
    reverse = client.post(f"/api/v1/admin/actions/{district[OTHER]['credited']}/reverse",
                          json=BODIES["reverse"], headers={**district["staff"]["auditor"].headers,
                                                           "Idempotency-Key": "k-1"})
    assert_problem(reverse, 404)
    after = all_table_counts(app)
    # The one POST /exports without a region that the walk made per role is the only write.
    assert {k: v for k, v in after.items() if k not in ("report_exports", "audit_log")} == \
        {k: v for k, v in before.items() if k not in ("report_exports", "audit_log")}
    assert after["report_exports"] == before["report_exports"] + 2
    assert walked["city_wide_only"] > 30 and walked["scoped"] >= 10


def test_a_district_auditor_and_admin_work_in_their_own_district(client, app, district):
    auditor, admin = district["staff"]["auditor"], district["staff"]["admin"]
    own = district[OWN]
    listed = client.get("/api/v1/admin/actions", headers=admin.headers).json["items"]
    assert {a["id"] for a in listed} == {own["pending"], own["credited"]}
    assert client.get(f"/api/v1/admin/actions/{own['credited']}", headers=admin.headers).status_code == 200
    approved = client.post(f"/api/v1/admin/actions/{own['pending']}/approve", json={},
                           headers=auditor.headers)
    assert approved.status_code == 200 and approved.json["status"] == "credited", approved.json
    reversed_ = client.post(f"/api/v1/admin/actions/{own['credited']}/reverse",
                            json=BODIES["reverse"], headers=auditor.headers)
    assert reversed_.status_code == 200 and reversed_.json["status"] == "reversed"
    report = client.get("/api/v1/admin/reports/reductions",
                        query_string={**district["dates"], "group_by": "region"},
                        headers=admin.headers).json
    assert [i["region"] for i in report["items"]] == [OWN] and report["items"][0]["actions"] == 1
    created = client.post("/api/v1/admin/reports/exports", json={**district["dates"]},
                          headers=admin.headers)
    assert created.status_code == 202 and created.json["region"] == OWN
    for export_id in (created.json["id"], district["exports"][OWN]):
        assert client.get(f"/api/v1/admin/reports/exports/{export_id}",
                          headers=admin.headers).status_code == 200
    # A city-wide export is not theirs either.
    assert_problem(client.get(f"/api/v1/admin/reports/exports/{district['exports'][None]}",
                              headers=admin.headers), 404)
    # City-wide staff still see everything.
    city = client.get("/api/v1/admin/actions", headers=district["city_admin"].headers).json["items"]
    assert len(city) == 4


def test_a_region_needs_an_admin_or_auditor_grant(client, app, actors):
    admin = actors.user("admin")
    user = actors.user("citizen")
    before = all_table_counts(app)
    for body in ({"roles": ["citizen"], "region": OWN}, {"roles": ["verifier"], "region": OWN},
                 {"roles": ["auditor"], "region": "999999"}):
        assert_problem(client.post(f"/api/v1/admin/users/{user.id}/roles", json=body,
                                   headers=admin.headers), 422)
    assert all_table_counts(app) == before
