"""User and partner administration over HTTP: suspension bites at once, every change is in the
audit log, and auditors filter the log by time."""
from __future__ import annotations

import datetime as dt

import pytest

from models import Action
from tests.api.test_actions import operator, recent, rider, seeded, send_batch, trip  # noqa: F401
from tests.conftest import all_table_counts, assert_problem, table_counts

AUDIT = "/api/v1/admin/audit-log"


def test_suspended_partner_key_stops_at_once_over_http(client, app, actors, seeded, operator, rider):  # noqa: F811
    admin = actors.user("admin")
    ok = send_batch(client, operator, [{**trip(recent(3)), "external_id": "T-1",
                                        "external_ref": "CARD-0001"}])
    assert ok.status_code == 200
    r = client.post(f"/api/v1/admin/partners/{operator.id}/suspend", json={"suspended": True},
                    headers=admin.headers)
    assert r.status_code == 200 and r.json["suspended"] is True
    refused = send_batch(client, operator, [{**trip(recent(2)), "external_id": "T-2",
                                             "external_ref": "CARD-0001"}])
    assert_problem(refused, 401, "partner_suspended")
    assert table_counts(app, Action)["actions"] == 1
    client.post(f"/api/v1/admin/partners/{operator.id}/suspend", json={"suspended": False},
                headers=admin.headers)
    again = send_batch(client, operator, [{**trip(recent(2)), "external_id": "T-2",
                                           "external_ref": "CARD-0001"}])
    assert again.status_code == 200
    actions = [e["action"] for e in client.get(AUDIT, query_string={"object_type": "partner"},
                                               headers=admin.headers).json["items"]]
    assert actions[:2] == ["partner.reinstated", "partner.suspended"]


def test_every_administrative_change_is_in_the_audit_log(client, actors):
    admin, auditor = actors.user("admin"), actors.user("auditor")
    citizen = actors.user("citizen")
    partner = client.post("/api/v1/admin/partners", json={"name": "Metro Co", "kind": "transit_operator"},
                          headers=admin.headers).json
    steps = [  # adding auditor is four-eyes: a pending grant (202)
        ("post", f"/api/v1/admin/users/{citizen.id}/roles", {"roles": ["citizen", "auditor"]}, 202),
        ("post", f"/api/v1/admin/users/{citizen.id}/suspend", {"suspended": True, "reason": "spam"}, 200),
        ("post", f"/api/v1/admin/users/{citizen.id}/suspend", {"suspended": False}, 200),
        ("post", f"/api/v1/admin/partners/{partner['id']}/rotate-secret", None, 200),
        ("post", f"/api/v1/admin/partners/{partner['id']}/suspend", {"suspended": True}, 200),
    ]
    for method, url, body, status in steps:
        r = getattr(client, method)(url, json=body, headers=admin.headers)
        assert r.status_code == status, (url, r.json)
    log = client.get(AUDIT, query_string={"actor_user_id": str(admin.id), "limit": 50},
                     headers=auditor.headers).json["items"]
    assert [e["action"] for e in reversed(log)][-7:] == [
        "partner.create", "role_grant.requested", "user.roles_set", "user.suspended",
        "user.reinstated", "partner.rotate_secret", "partner.suspended"]
    assert all(e["request_id"] for e in log[:7])  # made over HTTP: traceable to the request


def test_auditors_filter_the_audit_log_by_time(client, actors):
    admin, auditor = actors.user("admin"), actors.user("auditor")
    citizen = actors.user("citizen")
    client.post(f"/api/v1/admin/users/{citizen.id}/suspend", json={"suspended": True},
                headers=admin.headers)
    now = dt.datetime.now(dt.timezone.utc)

    def entries(**query):
        r = client.get(AUDIT, query_string=query, headers=auditor.headers)
        assert r.status_code == 200, r.json
        return [e["action"] for e in r.json["items"]]

    assert "user.suspended" in entries(created_from=(now - dt.timedelta(minutes=5)).isoformat())
    assert entries(created_from=(now + dt.timedelta(minutes=5)).isoformat()) == []
    assert entries(created_to=(now - dt.timedelta(minutes=5)).isoformat()) == []
    window = entries(created_from=(now - dt.timedelta(minutes=5)).isoformat(),
                     created_to=(now + dt.timedelta(minutes=5)).isoformat(),
                     action="user.suspended")
    assert window == ["user.suspended"]


@pytest.mark.parametrize("query", [{"created_from": "yesterday"},
                                   {"created_from": "2026-01-01T00:00:00"},  # no offset
                                   {"created_to": "2026-02-30T00:00:00Z"},
                                   {"limit": 0}, {"limit": 201}],
                         ids=["not_a_time", "naive_time", "impossible_date", "limit_zero",
                              "limit_over_max"])
def test_bad_audit_queries_are_422_and_change_nothing(client, app, actors, query):
    auditor = actors.user("auditor")
    before = all_table_counts(app)
    assert_problem(client.get(AUDIT, query_string=query, headers=auditor.headers), 422, "validation")
    assert all_table_counts(app) == before


def test_citizens_cannot_read_the_audit_log(client, actors):
    assert_problem(client.get(AUDIT, headers=actors.user("citizen").headers), 403)


@pytest.mark.parametrize("url", ["/api/v1/admin/users?q=%00", "/api/v1/admin/audit-log?action=a%00b"])
def test_nul_in_a_query_string_is_400_not_a_database_error(client, app, actors, url):
    admin = actors.user("admin")
    before = all_table_counts(app)
    assert_problem(client.get(url, headers=admin.headers), 400, "malformed_query")
    assert all_table_counts(app) == before
