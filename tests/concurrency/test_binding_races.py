"""Binding confirmations racing on real PostgreSQL: at most one active binding per card."""
from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from models import Binding, db
from tests.concurrency.support import race

pytestmark = pytest.mark.postgres

CARD = "6230 1234 5678 9012"


def confirm(app, partner, code, timestamp):
    raw = json.dumps({"external_ref": CARD, "confirmation_code": code}).encode()
    r = app.test_client().post("/api/v1/partner/bindings/confirm", data=raw,
                               headers=partner.signed(raw, timestamp=timestamp))
    return r.status_code, r.get_json()


def statuses(app):
    with app.app_context():
        rows = list(db.session.scalars(select(Binding.status)))
        db.session.remove()
    return sorted(rows)


def test_confirmations_of_one_card_for_several_citizens_leave_one_active(app, actors):
    operator = actors.partner("transit_operator")
    citizens = [actors.user("citizen") for _ in range(4)]
    codes = []
    for c in citizens:
        r = app.test_client().post("/api/v1/me/bindings", headers=c.headers,
                                   json={"partner_id": str(operator.id), "external_ref": CARD})
        codes.append(r.get_json()["confirmation_code"])
    now = int(time.time())
    results = race(4, lambda i: confirm(app, operator, codes[i], now - i))
    assert [status for status, _ in results] == [200] * 4, results
    assert statuses(app) == ["active", "ended", "ended", "ended"]
    with app.app_context():
        rows = sorted(db.session.scalars(select(Binding)), key=lambda b: b.granted_at)
        # A chain: each binding covers from the end of the one before it.
        for before, after in zip(rows, rows[1:]):
            assert after.covers_from == before.ended_at and before.ended_at <= after.granted_at
        db.session.remove()


def test_one_code_confirmed_twice_at_once_activates_once(app, actors):
    operator = actors.partner("transit_operator")
    citizen = actors.user("citizen")
    r = app.test_client().post("/api/v1/me/bindings", headers=citizen.headers,
                               json={"partner_id": str(operator.id), "external_ref": CARD})
    code = r.get_json()["confirmation_code"]
    now = int(time.time())
    results = race(2, lambda i: confirm(app, operator, code, now - i))
    assert sorted(status for status, _ in results) == [200, 422], results
    assert statuses(app) == ["active"]
