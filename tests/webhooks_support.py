"""Helpers for webhook tests: subscribe over HTTP, run the dispatcher, read what a real receiver
(`pytest_httpserver.HTTPServer`) got and check its signature as a receiver would."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json

import pytest

WEBHOOKS = "/api/v1/admin/webhooks"


@pytest.fixture
def admin(actors):
    return actors.user("admin")


@pytest.fixture
def receiver(httpserver):
    """A real HTTP server answering 200 to every POST on /hook; its log is what arrived."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    yield httpserver
    httpserver.clear()


def subscribe(client, admin, url: str, events=("*",), partner_id=None) -> dict:
    body = {"url": url, "events": list(events)}
    if partner_id is not None:
        body["partner_id"] = str(partner_id)
    r = client.post(WEBHOOKS, json=body, headers=admin.headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def override_settings(monkeypatch, **changes):
    """The settings with `changes`, for the rest of the test."""
    from carbon_credits import config
    changed = dataclasses.replace(config.get_settings(), **changes)
    monkeypatch.setattr(config, "_current", changed)
    return changed


def dispatch(app, now: dt.datetime | None = None) -> int:
    from carbon_credits.services.webhooks.dispatch import dispatch_due
    from models import db
    with app.app_context():
        try:
            return dispatch_due(now=now)
        finally:
            db.session.remove()


def emit(app, event_type: str, data: dict, **kwargs) -> None:
    """One event emitted in a unit of work of its own, as a service would."""
    from carbon_credits.services.uow import unit_of_work
    from carbon_credits.services.webhooks import emit as emit_event
    from models import db
    with app.app_context():
        with unit_of_work():
            emit_event(event_type, data, **kwargs)
        db.session.remove()


def verified(request, secret: str) -> dict:
    """The event a receiver got, after checking its signature the way docs/webhooks.md says."""
    body = request.get_data()
    timestamp = request.headers["X-Timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Signature"], expected)
    assert request.headers["Content-Type"] == "application/json"
    event = json.loads(body)
    assert request.headers["X-Event-Id"] == event["id"]
    assert request.headers["X-Event-Type"] == event["type"]
    return event


def received(server, hook: dict, event_type: str | None = None) -> list[dict]:
    """Every signed event the receiver answered for the subscription `hook` (as created, with
    its secret), in arrival order, optionally of one type."""
    events = [verified(request, hook["secret"]) for request, response in server.log
              if response.status_code < 300 and request.headers["X-Webhook-Id"] == hook["id"]]
    return [e for e in events if event_type is None or e["type"] == event_type]


def table_count(app, model) -> int:
    from sqlalchemy import func, select
    from models import db
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(model))
        finally:
            db.session.remove()
