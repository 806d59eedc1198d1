"""Methodology review races on real PostgreSQL: threads with their own connections approve
overlapping versions of one scope, approve one version twice, and edit one draft at once."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from models import MethodologyVersion, db
from tests.concurrency.support import race

pytestmark = pytest.mark.postgres

ADMIN = "/api/v1/admin/methodologies"
PARAM = {"name": "RF", "value": 97, "unit": "gCO2/km", "source": "test", "source_status": "secondary"}
SCOPES = [("transit", "metro"), ("transit", "bus"), ("transit", "bike"), ("transit", "walk")]


def call(app, method, url, headers, json=None):
    r = app.test_client().open(url, method=method, json=json, headers=headers)
    return r.status_code, r.get_json(), r.headers.get("ETag")


def submitted_version(client, admin, code, mode, start):
    r = client.post(ADMIN, json={"code": code, "title": code, "action_type": "transit", "mode": mode},
                    headers=admin.headers)
    assert r.status_code == 201, r.json
    r = client.post(f"{ADMIN}/{code}/versions", headers=admin.headers,
                    json={"family": "transit_distance", "parameters": [PARAM],
                          "effective_from": start})
    assert r.status_code == 201, r.json
    assert client.post(f"{ADMIN}/{code}/versions/1/submit", headers=admin.headers).status_code == 200


def test_two_auditors_approving_overlapping_versions_exactly_one_succeeds(app, actors):
    admin = actors.user("admin")
    auditors = [actors.user("auditor"), actors.user("auditor")]
    client = actors.client
    for round_, (_, mode) in enumerate(SCOPES):
        codes = [f"R{round_}-A", f"R{round_}-B"]
        submitted_version(client, admin, codes[0], mode, "2030-01-01T00:00:00+00:00")
        submitted_version(client, admin, codes[1], mode, "2031-01-01T00:00:00+00:00")
        results = race(2, lambda i: call(app, "POST", f"{ADMIN}/{codes[i]}/versions/1/approve",
                                         auditors[i].headers))
        statuses = sorted(r[0] for r in results)
        assert statuses == [200, 409], results
        assert [r[1]["type"] for r in results if r[0] == 409] == ["/problems/methodology_overlap"]
    with app.app_context():
        approved = db.session.scalars(select(MethodologyVersion)
                                      .where(MethodologyVersion.status == "approved")).all()
        assert len(approved) == len(SCOPES)
        db.session.remove()


def test_one_version_approved_twice_at_once_is_approved_once(app, actors):
    admin = actors.user("admin")
    auditors = [actors.user("auditor") for _ in range(4)]
    submitted_version(actors.client, admin, "ONCE", "metro", "2030-01-01T00:00:00+00:00")
    results = race(4, lambda i: call(app, "POST", f"{ADMIN}/ONCE/versions/1/approve",
                                     auditors[i].headers))
    statuses = sorted(r[0] for r in results)
    assert statuses == [200, 409, 409, 409], results
    log = actors.client.get(f"{ADMIN}/ONCE/audit-log", headers=auditors[0].headers).json["items"]
    assert [e["action"] for e in log].count("methodology.version_approve") == 1


def test_concurrent_edits_with_the_same_etag_one_wins(app, actors):
    admins = [actors.user("admin") for _ in range(4)]
    client = actors.client
    client.post(ADMIN, json={"code": "EDIT", "title": "t", "action_type": "transit", "mode": "bus"},
                headers=admins[0].headers)
    etag = client.post(f"{ADMIN}/EDIT/versions", headers=admins[0].headers,
                       json={"family": "transit_distance", "parameters": [PARAM]}).headers["ETag"]
    results = race(4, lambda i: call(app, "PATCH", f"{ADMIN}/EDIT/versions/1",
                                     {**admins[i].headers, "If-Match": etag},
                                     {"daily_cap_g": 1000 + i}))
    statuses = sorted(r[0] for r in results)
    assert statuses == [200, 412, 412, 412], results
    winner = next(r for r in results if r[0] == 200)
    body = client.get(f"{ADMIN}/EDIT/versions/1", headers=admins[0].headers).json
    assert body["daily_cap_g"] == winner[1]["daily_cap_g"] and body["revision"] == 2
