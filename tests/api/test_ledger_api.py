"""Ledger over HTTP: my balance, my statement, the auditors' verify."""
from __future__ import annotations

import datetime as dt
import uuid

from carbon_credits.services import ledger
from models import db
from tests.conftest import assert_problem

UTC = dt.timezone.utc


def credit(app, user_id, amount, *, when=None, action_id=None):
    with app.app_context():
        ledger.post_earn(user_id=user_id, amount=amount, external_ref=uuid.uuid4().hex,
                         action_id=action_id, event_time=when or dt.datetime.now(UTC))
        db.session.remove()


def hold(app, user_id, amount):
    with app.app_context():
        hold_id = ledger.reserve(user_id=user_id, amount=amount, external_ref=uuid.uuid4().hex,
                                 expires_at=dt.datetime.now(UTC) + dt.timedelta(minutes=30)).id
        db.session.remove()
    return hold_id


def test_balance_shows_available_reserved_and_what_expires_when(client, app, actors):
    citizen = actors.user("citizen")
    when = dt.datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
    credit(app, citizen.id, 100, when=when)
    hold(app, citizen.id, 30)
    r = client.get("/api/v1/me/balance", headers=citizen.headers)
    assert r.status_code == 200
    assert r.json["available"] == 70 and r.json["reserved"] == 30
    assert r.json["expiring"] == [{"points": 70, "expires_at": "2027-06-01T08:00:00+00:00"}]
    me = client.get("/api/v1/me", headers=citizen.headers).json
    assert me["balance"] == 70


def test_balance_of_a_new_citizen_is_zero(client, actors):
    citizen = actors.user("citizen")
    r = client.get("/api/v1/me/balance", headers=citizen.headers)
    assert r.json == {"available": 0, "reserved": 0, "expiring": []}


def test_statement_pages_newest_first_with_signed_amounts(client, app, actors):
    citizen = actors.user("citizen")
    action = uuid.uuid4()
    credit(app, citizen.id, 100, action_id=action)
    credit(app, citizen.id, 5)
    hold(app, citizen.id, 40)
    seen, cursor = [], None
    while True:
        url = "/api/v1/me/ledger?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=citizen.headers)
        assert page.status_code == 200
        seen += page.json["items"]
        cursor = page.json["next_cursor"]
        if not cursor:
            break
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in seen] == [
        ("reserve", -40, 65), ("earn", 5, 105), ("earn", 100, 100)]
    assert seen[-1]["action_id"] == str(action) and seen[0]["redemption_id"] is None
    assert set(seen[0]) >= {"kind", "amount", "balance_after", "action_id", "redemption_id",
                            "created_at"}
    only = client.get(f"/api/v1/me/ledger?action_id={action}", headers=citizen.headers).json
    assert [e["amount"] for e in only["items"]] == [100]
    earns = client.get("/api/v1/me/ledger?kind=earn", headers=citizen.headers).json
    assert len(earns["items"]) == 2
    future = (dt.datetime.now(UTC) + dt.timedelta(days=1)).isoformat().replace("+00:00", "Z")
    later = client.get("/api/v1/me/ledger", query_string={"from": future},
                       headers=citizen.headers).json
    assert later["items"] == []


def test_statement_shows_only_my_entries(client, app, actors):
    me, other = actors.user("citizen"), actors.user("citizen")
    credit(app, other.id, 50)
    r = client.get("/api/v1/me/ledger", headers=me.headers)
    assert r.json == {"items": [], "next_cursor": None}


def test_statement_refuses_bad_filters(client, actors):
    citizen = actors.user("citizen")
    for query in ("kind=gift", "limit=1000000", "limit=0", "cursor=%%%", "from=2025-01-01T00:00:00",
                  "action_id=not-a-uuid"):
        assert_problem(client.get(f"/api/v1/me/ledger?{query}", headers=citizen.headers), 422)


def test_ledger_endpoints_are_for_citizens(client, actors):
    auditor = actors.user("auditor")
    assert_problem(client.get("/api/v1/me/balance", headers=auditor.headers), 403)
    assert_problem(client.get("/api/v1/me/ledger"), 401)


def test_verify_is_for_auditors_and_admins(client, app, actors):
    citizen, auditor, admin = actors.user("citizen"), actors.user("auditor"), actors.user("admin")
    credit(app, citizen.id, 10)
    assert_problem(client.get("/api/v1/admin/ledger/verify", headers=citizen.headers), 403)
    for user in (auditor, admin):
        r = client.get("/api/v1/admin/ledger/verify", headers=user.headers)
        assert r.status_code == 200
        assert r.json["ok"] is True and r.json["problems"] == []
        assert r.json["entries_checked"] == 1 and r.json["pending_seal"] == 1
        assert len(r.json["chain_head"]) == 64
