"""Outbound webhooks over HTTP: subscriptions, signed delivery to a real receiver, retries with
backoff, automatic disabling, redelivery, partner scoping and the SSRF rule (docs/webhooks.md)."""
from __future__ import annotations

import datetime as dt
import socket
import uuid

import pytest

from models import (AuditEntry, WebhookDelivery, WebhookDeliveryAttempt, WebhookEvent,
                    WebhookSubscription)
from tests.conftest import all_table_counts, assert_problem
from tests.webhooks_support import (WEBHOOKS, admin, dispatch, emit,  # noqa: F401
                                    override_settings, received, receiver, subscribe,
                                    table_count, verified)


def _now():
    return dt.datetime.now(dt.timezone.utc)


def _deliveries(client, admin, hook_id, **query):
    r = client.get(f"{WEBHOOKS}/{hook_id}/deliveries", query_string=query, headers=admin.headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


# --- subscriptions ----------------------------------------------------------------------------

def test_the_secret_is_shown_once_at_creation_and_never_again(client, admin, receiver):
    hook = subscribe(client, admin, receiver.url_for("/hook"), ["action.credited"])
    assert hook["secret"].startswith("whsec_") and hook["status"] == "active"
    assert hook["events"] == ["action.credited"]
    listed = client.get(WEBHOOKS, headers=admin.headers).get_json()["items"]
    one = client.get(f"{WEBHOOKS}/{hook['id']}", headers=admin.headers).get_json()
    assert [h["id"] for h in listed] == [hook["id"]]
    assert "secret" not in listed[0] and "secret" not in one
    assert hook["secret"] not in client.get(WEBHOOKS, headers=admin.headers).get_data(as_text=True)
    rotated = client.post(f"{WEBHOOKS}/{hook['id']}/rotate-secret", headers=admin.headers).get_json()
    assert rotated["secret"] != hook["secret"]


@pytest.mark.parametrize("body", [
    {"url": "ftp://example.test/hook", "events": ["*"]},
    {"url": "https://user:pw@example.test/hook", "events": ["*"]},
    {"url": "https://example.test/hook#frag", "events": ["*"]},
    {"url": "https:///nohost", "events": ["*"]},
    {"url": "https://example.test:99999/", "events": ["*"]},
    {"url": "https://exa mple.test/", "events": ["*"]},
    {"url": "https://example.test/" + "a" * 2000, "events": ["*"]},
    {"url": "https://example.test/hook", "events": []},
    {"url": "https://example.test/hook", "events": ["action.exploded"]},
    {"url": "https://example.test/hook", "events": ["*", "action.credited"]},
    {"url": "https://example.test/hook", "events": "action.credited"},
    {"url": "https://example.test/hook", "events": ["*"], "partner_id": str(uuid.UUID(int=7))},
    {"url": "https://example.test/hook", "events": ["*"], "partner_id": "not-a-uuid"},
    {"url": "https://example.test/hook", "events": ["*"], "secret": "mine"},
    {"events": ["*"]},
])
def test_a_bad_subscription_is_refused_and_writes_nothing(app, client, admin, body):
    before = all_table_counts(app)
    assert_problem(client.post(WEBHOOKS, json=body, headers=admin.headers), 422)
    assert all_table_counts(app) == before


def test_bad_changes_and_unknown_ids_are_refused_and_change_nothing(app, client, admin, receiver):
    hook = subscribe(client, admin, receiver.url_for("/hook"))
    before = all_table_counts(app)
    for body in ({"status": "paused"}, {"events": []}, {"url": "gopher://x"}, {"id": hook["id"]}):
        assert_problem(client.patch(f"{WEBHOOKS}/{hook['id']}", json=body, headers=admin.headers), 422)
    missing = uuid.uuid4()
    assert_problem(client.get(f"{WEBHOOKS}/{missing}", headers=admin.headers), 404)
    assert_problem(client.patch(f"{WEBHOOKS}/{missing}", json={"status": "disabled"},
                                headers=admin.headers), 404)
    assert_problem(client.get(f"{WEBHOOKS}/{missing}/deliveries", headers=admin.headers), 404)
    assert_problem(client.get(f"{WEBHOOKS}/{hook['id']}/deliveries", query_string={"cursor": "!!"},
                              headers=admin.headers), 422)
    assert_problem(client.get(f"{WEBHOOKS}/{hook['id']}/deliveries", query_string={"limit": 0},
                              headers=admin.headers), 422)
    assert_problem(client.post(f"{WEBHOOKS}/{hook['id']}/deliveries/{missing}/redeliver",
                               headers=admin.headers), 404)
    assert_problem(client.post(f"{WEBHOOKS}/{missing}/rotate-secret", headers=admin.headers), 404)
    assert all_table_counts(app) == before


def test_only_admins_manage_webhooks(app, client, actors, admin, receiver):
    hook = subscribe(client, admin, receiver.url_for("/hook"))
    others = [actors.user(role) for role in ("citizen", "auditor", "verifier")]
    webhook_tables = (WebhookSubscription, WebhookEvent, WebhookDelivery, WebhookDeliveryAttempt)
    before = [table_count(app, m) for m in webhook_tables]
    for other in others:
        calls = [("post", WEBHOOKS, {"url": "https://example.test/", "events": ["*"]}),
                 ("get", WEBHOOKS, None), ("get", f"{WEBHOOKS}/{hook['id']}", None),
                 ("patch", f"{WEBHOOKS}/{hook['id']}", {"status": "disabled"}),
                 ("get", f"{WEBHOOKS}/{hook['id']}/deliveries", None),
                 ("post", f"{WEBHOOKS}/{hook['id']}/rotate-secret", None),
                 ("post", f"{WEBHOOKS}/{hook['id']}/deliveries/{uuid.uuid4()}/redeliver", None)]
        for method, path, body in calls:
            assert_problem(getattr(client, method)(path, json=body, headers=other.headers), 403)
    assert_problem(client.get(WEBHOOKS), 401)
    assert [table_count(app, m) for m in webhook_tables] == before


def test_creating_and_changing_a_subscription_is_audited(app, client, admin, receiver):
    hook = subscribe(client, admin, receiver.url_for("/hook"))
    r = client.patch(f"{WEBHOOKS}/{hook['id']}", json={"events": ["lot.retired", "lot.issued"]},
                     headers=admin.headers)
    assert r.status_code == 200 and r.get_json()["events"] == ["lot.issued", "lot.retired"]
    again = client.get(f"{WEBHOOKS}/{hook['id']}", headers=admin.headers).get_json()
    assert again["events"] == ["lot.issued", "lot.retired"]
    from sqlalchemy import select
    from models import db
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEntry.action)
                                          .where(AuditEntry.object_id == hook["id"])))
        db.session.remove()
    assert sorted(actions) == ["webhook.create", "webhook.update"]


# --- delivery -----------------------------------------------------------------------------------

def test_an_event_arrives_signed_with_its_id_and_type(app, client, admin, receiver):
    hook = subscribe(client, admin, receiver.url_for("/hook"), ["points.expiring"])
    emit(app, "points.expiring", {"user_id": "u-1", "points": 120, "expires_on": "2027-01-31"})
    assert dispatch(app) == 1
    [request] = [req for req, _ in receiver.log]
    event = verified(request, hook["secret"])
    assert event["type"] == "points.expiring" and event["data"]["points"] == 120
    assert request.headers["X-Webhook-Id"] == hook["id"]
    assert event["created_at"].endswith("Z")
    page = _deliveries(client, admin, hook["id"])
    [delivery] = page["items"]
    assert delivery["status"] == "delivered" and delivery["event_id"] == event["id"]
    assert delivery["attempt_log"][0]["status_code"] == 200
    assert delivery["attempt_log"][0]["response_body"] == "ok"
    assert dispatch(app) == 0  # delivered once, never again


def test_voucher_expiring_is_delivered_like_any_event(app, client, admin, receiver):
    hook = subscribe(client, admin, receiver.url_for("/hook"), ["voucher.expiring"])
    emit(app, "voucher.expiring", {"redemption_id": "r-1", "expires_at": "2026-12-06T06:00:00Z"})
    emit(app, "points.expiring", {"points": 1})  # not subscribed: not even written
    dispatch(app)
    assert [e["type"] for e in received(receiver, hook)] == ["voucher.expiring"]
    assert table_count(app, WebhookEvent) == 1


def test_nothing_is_written_when_nobody_subscribes(app, client, admin, receiver):
    emit(app, "action.credited", {"action_id": "a"})
    hook = subscribe(client, admin, receiver.url_for("/hook"), ["lot.issued"])
    emit(app, "action.credited", {"action_id": "b"})
    client.patch(f"{WEBHOOKS}/{hook['id']}", json={"status": "disabled"}, headers=admin.headers)
    emit(app, "lot.issued", {"lot_id": "c"})
    assert table_count(app, WebhookEvent) == 0
    assert dispatch(app) == 0 and receiver.log == []


def test_a_partner_subscription_gets_only_its_partner_events_and_never_the_citizen(
        app, client, admin, actors, receiver):
    mine, other = actors.partner(), actors.partner()
    city = subscribe(client, admin, receiver.url_for("/hook"), ["action.credited"])
    scoped = subscribe(client, admin, receiver.url_for("/hook"), ["*"], partner_id=mine.id)
    citizen = str(uuid.uuid4())
    emit(app, "action.credited", {"action_id": "1", "user_id": citizen, "partner_id": str(mine.id)},
         partner_id=mine.id, user_id=uuid.UUID(citizen))
    emit(app, "action.credited", {"action_id": "2", "user_id": citizen}, partner_id=other.id)
    emit(app, "action.credited", {"action_id": "3", "user_id": citizen})
    dispatch(app)
    by_hook: dict[str, list] = {}
    for request, _ in receiver.log:
        secret = city["secret"] if request.headers["X-Webhook-Id"] == city["id"] else scoped["secret"]
        by_hook.setdefault(request.headers["X-Webhook-Id"], []).append(verified(request, secret))
    assert sorted(e["data"]["action_id"] for e in by_hook[city["id"]]) == ["1", "2", "3"]
    assert all(e["data"]["user_id"] == citizen for e in by_hook[city["id"]])
    [only] = by_hook[scoped["id"]]
    assert only["data"] == {"action_id": "1", "partner_id": str(mine.id)}
    assert all(citizen.encode() not in request.get_data() for request, _ in receiver.log
               if request.headers["X-Webhook-Id"] == scoped["id"])


def test_a_receiver_down_for_a_while_gets_everything_once_after_dedup(app, client, admin, httpserver):
    hook = subscribe(client, admin, httpserver.url_for("/hook"), ["*"])
    for i in range(3):
        emit(app, "action.credited", {"action_id": str(i)})
    httpserver.expect_request("/hook").respond_with_data("down", status=503)
    t0 = _now()
    assert dispatch(app, now=t0) == 3
    # Retries follow the backoff: nothing is due before 30 s, then 1 min after that.
    assert dispatch(app, now=t0 + dt.timedelta(seconds=29)) == 0
    assert dispatch(app, now=t0 + dt.timedelta(seconds=30)) == 3
    assert dispatch(app, now=t0 + dt.timedelta(seconds=89)) == 0
    httpserver.clear()
    httpserver.expect_request("/hook").respond_with_data("ok")
    assert dispatch(app, now=t0 + dt.timedelta(seconds=90)) == 3
    assert dispatch(app, now=t0 + dt.timedelta(hours=12)) == 0
    got = received(httpserver, hook)
    assert sorted(e["data"]["action_id"] for e in {e["id"]: e for e in got}.values()) == ["0", "1", "2"]
    items = _deliveries(client, admin, hook["id"])["items"]
    assert {d["status"] for d in items} == {"delivered"} and {d["attempts"] for d in items} == {3}
    assert [a["status_code"] for a in items[0]["attempt_log"]] == [503, 503, 200]


def test_a_closed_port_counts_as_a_failure_and_is_retried(app, client, admin, httpserver):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = subscribe(client, admin, f"http://127.0.0.1:{port}/hook", ["*"])
    emit(app, "lot.issued", {"lot_id": "L"})
    t0 = _now()
    assert dispatch(app, now=t0) == 1
    [delivery] = _deliveries(client, admin, hook["id"])["items"]
    assert delivery["status"] == "pending" and delivery["last_status_code"] is None
    assert "ConnectionError" in delivery["last_error"]
    client.patch(f"{WEBHOOKS}/{hook['id']}", json={"url": httpserver.url_for("/hook")},
                 headers=admin.headers)
    httpserver.expect_request("/hook").respond_with_data("ok")
    assert dispatch(app, now=t0 + dt.timedelta(seconds=30)) == 1
    [event] = received(httpserver, hook)
    assert event["data"] == {"lot_id": "L"}


def test_a_delivery_gives_up_after_the_maximum_attempts(app, client, admin, httpserver, monkeypatch):
    _settings(app, monkeypatch, webhook_max_attempts=3)
    hook = subscribe(client, admin, httpserver.url_for("/hook"), ["*"])
    httpserver.expect_request("/hook").respond_with_data("no", status=500)
    emit(app, "lot.retired", {"lot_id": "L"})
    t = _now()
    for _ in range(5):
        dispatch(app, now=t)
        t += dt.timedelta(hours=7)
    [delivery] = _deliveries(client, admin, hook["id"])["items"]
    assert delivery["status"] == "failed" and delivery["attempts"] == 3
    assert delivery["next_attempt_at"] is None and len(httpserver.log) == 3


def _settings(app, monkeypatch, **changes):
    return override_settings(monkeypatch, **changes)


def test_repeated_failures_disable_the_subscription_and_enabling_resumes(app, client, admin,
                                                                         httpserver, monkeypatch):
    _settings(app, monkeypatch, webhook_disable_after=4)
    hook = subscribe(client, admin, httpserver.url_for("/hook"), ["*"])
    httpserver.expect_request("/hook").respond_with_data("no", status=502)
    for i in range(2):
        emit(app, "voucher.redeemed", {"redemption_id": str(i)})
    t0 = _now()
    dispatch(app, now=t0)
    dispatch(app, now=t0 + dt.timedelta(minutes=1))
    state = client.get(f"{WEBHOOKS}/{hook['id']}", headers=admin.headers).get_json()
    assert state["status"] == "disabled" and state["consecutive_failures"] == 4
    assert "consecutive" in state["disabled_reason"]
    # Disabled: nothing is tried, and new events are not even recorded for it.
    emit(app, "voucher.redeemed", {"redemption_id": "late"})
    assert dispatch(app, now=t0 + dt.timedelta(hours=1)) == 0
    assert table_count(app, WebhookEvent) == 2
    httpserver.clear()
    httpserver.expect_request("/hook").respond_with_data("ok")
    r = client.patch(f"{WEBHOOKS}/{hook['id']}", json={"status": "active"}, headers=admin.headers)
    assert r.status_code == 200 and r.get_json()["consecutive_failures"] == 0
    assert dispatch(app, now=_now()) == 2
    assert sorted(e["data"]["redemption_id"] for e in received(httpserver, hook)) == ["0", "1"]


def test_manual_redelivery_sends_the_same_event_again(app, client, admin, receiver):
    hook = subscribe(client, admin, receiver.url_for("/hook"), ["*"])
    emit(app, "adjustment.decided", {"adjustment_id": "x", "status": "approved", "amount": 5})
    dispatch(app)
    [first] = _deliveries(client, admin, hook["id"])["items"]
    r = client.post(f"{WEBHOOKS}/{hook['id']}/deliveries/{first['id']}/redeliver",
                    headers=admin.headers)
    assert r.status_code == 201 and r.get_json()["manual"] is True
    assert r.get_json()["event_id"] == first["event_id"]
    assert dispatch(app) == 1
    events = received(receiver, hook)
    assert [e["id"] for e in events] == [first["event_id"]] * 2
    other = subscribe(client, admin, receiver.url_for("/hook"), ["*"])
    assert_problem(client.post(f"{WEBHOOKS}/{other['id']}/deliveries/{first['id']}/redeliver",
                               headers=admin.headers), 404)


def test_deliveries_page_with_a_cursor(app, client, admin, receiver):
    hook = subscribe(client, admin, receiver.url_for("/hook"), ["*"])
    for i in range(5):
        emit(app, "lot.issued", {"lot_id": str(i)})
    dispatch(app)
    first = _deliveries(client, admin, hook["id"], limit=2)
    seen = [d["id"] for d in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = _deliveries(client, admin, hook["id"], limit=2, cursor=cursor)
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 5
    assert _deliveries(client, admin, hook["id"], status="failed")["items"] == []


def test_a_private_address_is_refused_at_delivery_when_not_allowed(app, client, admin, receiver,
                                                                   monkeypatch):
    hook = subscribe(client, admin, receiver.url_for("/hook"), ["*"])
    emit(app, "lot.issued", {"lot_id": "L"})
    _settings(app, monkeypatch, webhook_allow_private_targets=False)
    assert dispatch(app) == 1
    assert receiver.log == []
    [delivery] = _deliveries(client, admin, hook["id"])["items"]
    assert delivery["status"] == "pending" and "private or reserved" in delivery["last_error"]


def test_the_outbox_is_purged_after_the_retention_period(app, client, admin, receiver):
    from carbon_credits import jobs
    subscribe(client, admin, receiver.url_for("/hook"), ["*"])
    emit(app, "lot.issued", {"lot_id": "L"})
    dispatch(app)
    with app.app_context():
        assert jobs.run_job("purge_webhook_events", now=_now() + dt.timedelta(days=29)) == 0
        assert jobs.run_job("purge_webhook_events", now=_now() + dt.timedelta(days=31)) == 1
    assert [table_count(app, m) for m in (WebhookEvent, WebhookDelivery, WebhookDeliveryAttempt)] \
        == [0, 0, 0]
    assert table_count(app, WebhookSubscription) == 1
