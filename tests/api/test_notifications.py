"""GET /me/notifications and marking them read: a citizen sees and marks only their own
(another's is a 404 that changes nothing); the unread filter and count; cursor pages; bad
input is a 4xx problem; the export carries them and erasure deletes them."""
from __future__ import annotations

import json

import pytest

from tests.conftest import all_table_counts, assert_problem
from tests.notifications_support import NOTIFICATIONS, earn, job_now, run_job


@pytest.fixture
def told(app, actors):
    """A citizen told of points lapsing on three days (newest notification: the last day)."""
    citizen = actors.user("citizen")
    for days in (0, 2, 4):
        earn(app, citizen.id, 10 + days, days_after_base=days)
    assert run_job(app, job_now(10)) == 3
    return citizen


def listed(client, user, query: str = "") -> dict:
    r = client.get(f"{NOTIFICATIONS}{query}", headers=user.headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.json


def test_my_notifications_newest_first_with_the_unread_count(client, told):
    body = listed(client, told)
    assert body["unread_count"] == 3 and body["next_cursor"] is None
    # Written in one run (same `created_at`): the order is then by id, still one total order.
    assert len(body["items"]) == 3
    assert all(n["kind"] == "points_expiring" and n["read"] is False and n["read_at"] is None
               for n in body["items"])
    assert sorted(n["data"]["points"] for n in body["items"]) == [10, 12, 14]


def test_pages_follow_the_cursor_without_gaps_or_repeats(client, told):
    first = listed(client, told, "?limit=2")
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = listed(client, told, f"?limit=2&cursor={first['next_cursor']}")
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    ids = [n["id"] for n in first["items"] + second["items"]]
    assert len(set(ids)) == 3 and ids == [n["id"] for n in listed(client, told)["items"]]


def test_marking_one_read_filters_it_out_of_unread(client, told):
    target = listed(client, told)["items"][1]
    r = client.post(f"{NOTIFICATIONS}/{target['id']}/read", headers=told.headers)
    assert r.status_code == 200, r.json
    assert r.json["id"] == target["id"] and r.json["read"] is True and r.json["read_at"]
    again = client.post(f"{NOTIFICATIONS}/{target['id']}/read", headers=told.headers)
    assert again.json["read_at"] == r.json["read_at"]  # the first reading stays
    unread = listed(client, told, "?unread=true")
    assert unread["unread_count"] == 2
    assert target["id"] not in {n["id"] for n in unread["items"]} and len(unread["items"]) == 2
    assert len(listed(client, told, "?unread=false")["items"]) == 3


def test_read_all_marks_every_unread_one(client, told):
    r = client.post(f"{NOTIFICATIONS}/read-all", headers=told.headers)
    assert r.status_code == 200 and r.json == {"marked": 3}
    assert client.post(f"{NOTIFICATIONS}/read-all", headers=told.headers).json == {"marked": 0}
    body = listed(client, told)
    assert body["unread_count"] == 0 and all(n["read"] for n in body["items"])
    assert listed(client, told, "?unread=true")["items"] == []


def test_another_citizens_notification_is_not_found_and_stays_unread(client, app, actors, told):
    intruder = actors.user("citizen")
    target = listed(client, told)["items"][0]
    before = all_table_counts(app)
    assert_problem(client.post(f"{NOTIFICATIONS}/{target['id']}/read",
                               headers=intruder.headers), 404, "not_found")
    assert client.post(f"{NOTIFICATIONS}/read-all", headers=intruder.headers).json == {"marked": 0}
    assert listed(client, intruder) == {"items": [], "next_cursor": None, "unread_count": 0}
    assert listed(client, told)["unread_count"] == 3
    assert all_table_counts(app) == before


@pytest.mark.parametrize("query", ["?unread=maybe", "?limit=0", "?limit=201", "?colour=red",
                                   "?cursor=not-a-cursor", "?cursor=WyJ4Il0"])
def test_bad_query_is_a_problem(client, told, query):
    assert_problem(client.get(f"{NOTIFICATIONS}{query}", headers=told.headers), 422)


@pytest.mark.parametrize("path", ["/not-a-uuid/read", "/00000000-0000-0000-0000-000000000000/read"])
def test_bad_or_unknown_ids_are_not_found_and_change_nothing(client, app, told, path):
    before = all_table_counts(app)
    assert_problem(client.post(f"{NOTIFICATIONS}{path}", headers=told.headers), 404)
    assert listed(client, told)["unread_count"] == 3
    assert all_table_counts(app) == before


def test_only_signed_in_citizens_have_notifications(client, actors):
    assert_problem(client.get(NOTIFICATIONS), 401)
    assert_problem(client.get(NOTIFICATIONS, headers=actors.user("admin").headers), 403)
    assert_problem(client.post(f"{NOTIFICATIONS}/read-all"), 401)


def test_my_export_contains_my_notifications(client, told, actors):
    other = actors.user("citizen")
    r = client.get("/api/v1/me/export", headers=told.headers)
    assert r.status_code == 200
    exported = json.loads(r.get_data(as_text=True))["notifications"]
    assert sorted(n["data"]["points"] for n in exported) == [10, 12, 14]
    assert {n["user_id"] for n in exported} == {str(told.id)}
    assert {n["kind"] for n in exported} == {"points_expiring"}
    r = client.get("/api/v1/me/export", headers=other.headers)
    assert json.loads(r.get_data(as_text=True))["notifications"] == []


def test_erasure_deletes_my_notifications_and_nobody_elses(client, app, actors, told):
    from tests.notifications_support import notification_rows
    other = actors.user("citizen")
    earn(app, other.id, 5)
    assert run_job(app, job_now(10)) == 1
    r = client.delete("/api/v1/me", json={"password": told.password}, headers=told.headers)
    assert r.status_code == 200, r.json
    assert [row["user_id"] for row in notification_rows(app)] == [other.id]
    assert run_job(app, job_now(10)) == 0  # an erased citizen is not told again


def test_decisions_on_my_actions_are_notified_once_each(client, app, actors):
    """Approval, rejection (with its reason) and reversal reach the citizen's list, written in
    the decision's own unit of work; the approver's note stays with the staff."""
    import datetime as dt

    from carbon_credits.services.methodologies import seed_methodologies
    from tests.api.test_actions import ACTIONS, recent, trip
    with app.app_context():
        seed_methodologies()
    rider, reviewer = actors.user("citizen"), actors.user("auditor")
    pending = [client.post(ACTIONS, json=trip(recent(5) + dt.timedelta(hours=i)),
                           headers=rider.headers).json for i in range(2)]
    assert [p["status"] for p in pending] == ["pending_review"] * 2
    base = "/api/v1/admin/actions"
    client.post(f"{base}/{pending[0]['id']}/approve", json={"note": "tap-in found"},
                headers=reviewer.headers)
    client.post(f"{base}/{pending[1]['id']}/reject", json={"reason": "no tap-in"},
                headers=reviewer.headers)
    client.post(f"{base}/{pending[0]['id']}/reverse", json={"reason": "duplicate of a card trip"},
                headers=reviewer.headers)
    items = listed(client, rider)["items"]
    got = sorted((n["kind"], n["data"]["action_id"], n["data"].get("decision")) for n in items)
    assert got == sorted([("review_decided", pending[0]["id"], "approved"),
                          ("review_decided", pending[1]["id"], "rejected"),
                          ("action_reversed", pending[0]["id"], None)])
    by_kind = {(n["kind"], n["data"]["action_id"]): n["data"] for n in items}
    assert "tap-in found" not in json.dumps(items)
    assert by_kind[("review_decided", pending[1]["id"])]["reason"] == "no tap-in"
    assert by_kind[("action_reversed", pending[0]["id"])]["reason"] == "duplicate of a card trip"
    assert by_kind[("action_reversed", pending[0]["id"])]["clawed_back"] == 970
