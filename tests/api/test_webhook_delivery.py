"""How a delivery leaves: the dispatcher woken after the commit that wrote events (Redis), and
the connection made to the address that was checked, never to a second DNS answer
(docs/webhooks.md, "Delivery latency" and "SSRF")."""
from __future__ import annotations

import socket

import pytest
import requests

from carbon_credits.domain import urls
from carbon_credits.services.webhooks import transport, wakeup
from models import WebhookEvent
from tests.webhooks_support import (admin, dispatch, emit, override_settings,  # noqa: F401
                                    received, receiver, subscribe, table_count)

DISPATCH_JOB = ("worker.run_job", ("dispatch_webhooks",))


def _queued() -> list[tuple[str, tuple]]:
    from rq import Queue

    from carbon_credits import kvstore
    from carbon_credits.services.queue import QUEUE_NAME
    return [(job.func_name, job.args)
            for job in Queue(QUEUE_NAME, connection=kvstore.get_store()).jobs]


def _in_one_unit_of_work(app, *events, fail: bool = False) -> None:
    from carbon_credits.services.uow import unit_of_work
    from carbon_credits.services.webhooks import emit as emit_event
    from models import db
    with app.app_context():
        try:
            with unit_of_work():
                for event_type, data in events:
                    emit_event(event_type, data)
                assert _queued() == []  # nothing is enqueued before the commit
                if fail:
                    raise RuntimeError("the change fails")
        finally:
            db.session.remove()


# --- the dispatcher woken after the commit (Redis) ----------------------------------------------

@pytest.mark.redis
def test_an_emitted_event_enqueues_a_dispatch_after_the_commit_which_delivers_it(
        app, client, admin, receiver, monkeypatch):
    import worker
    from rq import SimpleWorker

    from carbon_credits import kvstore
    hook = subscribe(client, admin, receiver.url_for("/hook"), ["lot.issued"])
    _in_one_unit_of_work(app, ("lot.issued", {"lot_id": "L"}))
    assert _queued() == [DISPATCH_JOB]
    monkeypatch.setattr(worker, "_app", app)
    SimpleWorker([worker.QUEUE_NAME], connection=kvstore.get_store()).work(burst=True)
    assert [e["data"] for e in received(receiver, hook)] == [{"lot_id": "L"}]


@pytest.mark.redis
def test_a_rolled_back_unit_of_work_enqueues_nothing(app, client, admin, receiver):
    from carbon_credits import kvstore
    subscribe(client, admin, receiver.url_for("/hook"), ["*"])
    with pytest.raises(RuntimeError):
        _in_one_unit_of_work(app, ("lot.issued", {"lot_id": "L"}), fail=True)
    assert _queued() == [] and table_count(app, WebhookEvent) == 0
    assert not kvstore.get_store().exists(wakeup.GUARD_KEY)


@pytest.mark.redis
def test_a_burst_of_events_enqueues_one_dispatch_and_a_started_run_lets_the_next_wake(
        app, client, admin, receiver):
    subscribe(client, admin, receiver.url_for("/hook"), ["*"])
    _in_one_unit_of_work(app, *[("lot.issued", {"lot_id": str(i)}) for i in range(20)])
    for i in range(100):
        emit(app, "lot.retired", {"lot_id": str(i)})
    assert _queued() == [DISPATCH_JOB]
    assert dispatch(app) == 120
    emit(app, "lot.issued", {"lot_id": "after"})  # committed after the run started: wakes again
    assert _queued() == [DISPATCH_JOB] * 2


@pytest.mark.redis
def test_one_unit_of_work_wakes_the_dispatcher_once_however_many_events(app, client, admin,
                                                                         receiver, monkeypatch):
    woken = []
    monkeypatch.setattr(wakeup, "wake", lambda event_types: woken.append(sorted(event_types)))
    subscribe(client, admin, receiver.url_for("/hook"), ["*"])
    _in_one_unit_of_work(app, *[("lot.issued", {"lot_id": str(i)}) for i in range(5)],
                         ("lot.retired", {"lot_id": "0"}))
    assert woken == [["lot.issued", "lot.retired"]]


@pytest.mark.redis
def test_the_hot_paths_deferred_event_wakes_the_dispatcher_too(app, client, admin, receiver):
    from carbon_credits.services.statements import defer
    from carbon_credits.services.uow import unit_of_work
    from carbon_credits.services.webhooks import emit_call
    from models import db
    subscribe(client, admin, receiver.url_for("/hook"), ["action.credited"])
    with app.app_context():
        with unit_of_work():
            defer(*emit_call("action.credited", {"action_id": "A"}))
        db.session.remove()
    assert _queued() == [DISPATCH_JOB] and table_count(app, WebhookEvent) == 1


@pytest.mark.redis
def test_events_nobody_subscribes_to_do_not_wake_the_dispatcher(app, client, admin, receiver):
    hook = subscribe(client, admin, receiver.url_for("/hook"), ["lot.issued"])
    dispatch(app)  # each run records in Redis the types active subscriptions take
    emit(app, "adjustment.decided", {"adjustment_id": "A"})
    assert _queued() == [] and table_count(app, WebhookEvent) == 0
    client.patch(f"/api/v1/admin/webhooks/{hook['id']}", json={"events": ["*"]},
                 headers=admin.headers)
    emit(app, "adjustment.decided", {"adjustment_id": "B"})  # a change is never missed
    assert _queued() == [DISPATCH_JOB]


@pytest.mark.redis
def test_a_failed_wake_up_loses_nothing_but_time(app, client, admin, receiver, monkeypatch):
    from carbon_credits import kvstore
    from carbon_credits.services import queue
    hook = subscribe(client, admin, receiver.url_for("/hook"), ["*"])

    def redis_down(*args, **kwargs):
        raise kvstore.RedisError("connection lost")
    monkeypatch.setattr(queue, "enqueue", redis_down)
    emit(app, "lot.issued", {"lot_id": "L"})  # committed all the same
    assert table_count(app, WebhookEvent) == 1 and _queued() == []
    assert not kvstore.get_store().exists(wakeup.GUARD_KEY)  # the next commit tries again
    assert dispatch(app) == 1 and len(received(receiver, hook)) == 1  # the tick delivers


def test_without_redis_nothing_is_enqueued(app, client, admin, receiver, monkeypatch):
    from carbon_credits import kvstore
    from carbon_credits.services import queue
    if kvstore.is_redis():
        pytest.skip("the embedded default: no Redis")
    enqueued = []
    monkeypatch.setattr(queue, "enqueue", lambda *args, **kwargs: enqueued.append(args))
    subscribe(client, admin, receiver.url_for("/hook"), ["*"])
    emit(app, "lot.issued", {"lot_id": "L"})
    assert enqueued == [] and table_count(app, WebhookEvent) == 1


# --- resolved once, connected to the checked address ---------------------------------------------

def _resolver(monkeypatch, answers: dict[str, list[tuple[str, ...]]]) -> list[str]:
    """`socket.getaddrinfo` answering each listed name with its answers in turn (the last one
    repeating), refusing the public test address (no network in tests) and resolving anything
    else for real; returns the names asked, in order."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        asked.append(host)
        if host in answers:
            answer = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answer]
        if host == PUBLIC:
            raise socket.gaierror(socket.EAI_NONAME, "no route in tests")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(transport.socket, "getaddrinfo", getaddrinfo)
    return asked


PUBLIC = "93.184.216.34"


def test_a_name_that_rebinds_to_a_private_address_is_never_reached(app, client, admin, receiver,
                                                                   monkeypatch):
    hook = subscribe(client, admin, f"http://rebind.test:{receiver.port}/hook", ["*"])
    emit(app, "lot.issued", {"lot_id": "L"})
    override_settings(monkeypatch, webhook_allow_private_targets=False)
    asked = _resolver(monkeypatch, {"rebind.test": [(PUBLIC,), ("127.0.0.1",)]})
    assert dispatch(app) == 1
    assert receiver.log == []  # the second answer (the receiver's address) was never used
    assert [h for h in asked if h in ("rebind.test", PUBLIC)] == ["rebind.test", PUBLIC]
    delivery = client.get(f"/api/v1/admin/webhooks/{hook['id']}/deliveries",
                          headers=admin.headers).get_json()["items"][0]
    assert delivery["status"] == "pending" and "ConnectionError" in delivery["last_error"]


def test_a_name_with_any_private_address_is_refused_before_connecting(app, client, admin, receiver,
                                                                      monkeypatch):
    subscribe(client, admin, f"http://mixed.test:{receiver.port}/hook", ["*"])
    emit(app, "lot.issued", {"lot_id": "L"})
    override_settings(monkeypatch, webhook_allow_private_targets=False)
    asked = _resolver(monkeypatch, {"mixed.test": [(PUBLIC, "127.0.0.1")]})
    with pytest.raises(transport.TargetRefused, match="private or reserved"):
        transport.resolve_target(f"http://mixed.test:{receiver.port}/hook", allow_private=False)
    assert dispatch(app) == 1 and receiver.log == [] and PUBLIC not in asked


def test_a_receiver_reached_by_name_gets_the_delivery_with_its_host_header(app, client, admin,
                                                                           receiver, monkeypatch):
    """Private targets allowed (development): the name is still resolved once, the connection
    goes to that address, and the receiver sees the name it was addressed by."""
    hook = subscribe(client, admin, f"http://hooks.test:{receiver.port}/hook", ["*"])
    emit(app, "lot.issued", {"lot_id": "L"})
    asked = _resolver(monkeypatch, {"hooks.test": [("127.0.0.1",), ("10.9.9.9",)]})
    assert dispatch(app) == 1
    assert [e["data"] for e in received(receiver, hook)] == [{"lot_id": "L"}]
    assert receiver.log[0][0].headers["Host"] == f"hooks.test:{receiver.port}"
    assert asked.count("hooks.test") == 1


def test_an_unreachable_first_address_falls_back_to_the_next_checked_one(receiver):
    # The receiver listens on 127.0.0.1 only: 127.0.0.2 refuses the connection.
    target = transport.Target(url=f"http://hooks.test:{receiver.port}/hook", hostname="hooks.test",
                              host_header=f"hooks.test:{receiver.port}",
                              addresses=("127.0.0.2", "127.0.0.1"))
    code, _ = transport.post(target, body=b"{}", headers={"Content-Type": "application/json"})
    assert code == 200 and len(receiver.log) == 1


def test_https_connects_to_the_checked_address_while_tls_names_the_host():
    adapter = transport.PinnedHostnameAdapter("hooks.example.test")
    secure = adapter.get_connection_with_tls_context(
        requests.Request("POST", f"https://{PUBLIC}:8443/hook").prepare(), verify=True)
    assert (secure.host, secure.port) == (PUBLIC, 8443)
    assert secure.conn_kw["server_hostname"] == "hooks.example.test"  # SNI
    assert secure.assert_hostname == "hooks.example.test"  # the certificate's name
    plain = adapter.get_connection_with_tls_context(
        requests.Request("POST", f"http://{PUBLIC}/hook").prepare(), verify=True)
    assert "server_hostname" not in plain.conn_kw


@pytest.mark.parametrize("url, address, pinned", [
    ("https://hooks.example.test/in?x=1", PUBLIC, f"https://{PUBLIC}/in?x=1"),
    ("https://hooks.example.test:8443/in", "2001:db8::1", "https://[2001:db8::1]:8443/in"),
    ("http://[::1]:81/", "fe80::1%eth0", "http://[fe80::1%25eth0]:81/"),
])
def test_the_url_connected_to_carries_the_checked_address(url, address, pinned):
    assert urls.with_address(url, address) == pinned
