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


ADJUST = "/api/v1/admin/ledger/adjustments"


def adjustment(user_id, points, ref="TICKET-1", reason="goodwill", note="lost metro trip 12 May"):
    return {"user_id": str(user_id), "points": points, "reason": reason, "note": note,
            "external_ref": ref}


def test_an_auditor_credits_and_takes_back_points_with_adjustments(client, app, actors):
    from models import AuditEntry
    from sqlalchemy import select
    citizen, auditor = actors.user("citizen"), actors.user("auditor")
    r = client.post(ADJUST, json=adjustment(citizen.id, 40), headers=auditor.headers)
    assert r.status_code == 201, r.json
    assert r.json["kind"] == "adjustment" and r.json["reason"] == "adjustment_goodwill"
    assert r.json["amount"] == 40 and r.json["points"] == 40 and r.json["balance_after"] == 40
    again = client.post(ADJUST, json=adjustment(citizen.id, 40), headers=auditor.headers)
    assert again.status_code == 201 and again.json["id"] == r.json["id"]  # same ref: posted once
    back = client.post(ADJUST, json=adjustment(citizen.id, -15, "TICKET-2", "correction",
                                               "double-credited ride"), headers=auditor.headers)
    assert back.status_code == 201 and back.json["balance_after"] == 25
    assert back.json["amount"] == -15 and back.json["points"] == 15
    balance = client.get("/api/v1/me/balance", headers=citizen.headers).json
    assert balance["available"] == 25 and sum(e["points"] for e in balance["expiring"]) == 25
    items = client.get("/api/v1/me/ledger?kind=adjustment", headers=citizen.headers).json["items"]
    assert [i["amount"] for i in items] == [-15, 40]
    with app.app_context():
        notes = [a.details["note"] for a in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "ledger.adjusted")
            .order_by(AuditEntry.id))]
        assert notes == ["lost metro trip 12 May", "double-credited ride"]
        assert ledger.verify_ledger().problems == []
        db.session.remove()


def test_taking_back_more_than_is_available_is_refused_and_changes_nothing(client, app, actors):
    from tests.conftest import all_table_counts
    citizen, auditor = actors.user("citizen"), actors.user("auditor")
    credit(app, citizen.id, 10)
    hold(app, citizen.id, 4)
    before = all_table_counts(app)
    r = client.post(ADJUST, json=adjustment(citizen.id, -7), headers=auditor.headers)
    assert_problem(r, 409, "insufficient_balance")
    assert all_table_counts(app) == before
    assert client.get("/api/v1/me/balance", headers=citizen.headers).json["available"] == 6


def test_reusing_an_adjustment_ref_with_other_details_is_a_conflict(client, app, actors):
    citizen, auditor = actors.user("citizen"), actors.user("auditor")
    assert client.post(ADJUST, json=adjustment(citizen.id, 5), headers=auditor.headers).status_code == 201
    assert_problem(client.post(ADJUST, json=adjustment(citizen.id, 6), headers=auditor.headers),
                   409, "ledger_ref_conflict")


def test_bad_adjustments_are_refused_and_change_nothing(client, app, actors):
    from tests.conftest import all_table_counts
    citizen, auditor = actors.user("citizen"), actors.user("auditor")
    before = all_table_counts(app)
    good = adjustment(citizen.id, 5)
    for change in ({"points": 0}, {"points": 1.5}, {"points": "5"}, {"points": True},
                   {"points": 10**13}, {"reason": "because"}, {"note": ""}, {"external_ref": ""},
                   {"user_id": "nope"}, {"extra": 1}):
        assert_problem(client.post(ADJUST, json={**good, **change}, headers=auditor.headers), 422)
    missing = {k: v for k, v in good.items() if k != "note"}
    assert_problem(client.post(ADJUST, json=missing, headers=auditor.headers), 422)
    assert_problem(client.post(ADJUST, json=adjustment(uuid.uuid4(), 5), headers=auditor.headers), 404)
    assert all_table_counts(app) == before


def test_adjustments_are_for_auditors_only(client, actors):
    citizen = actors.user("citizen")
    for role in ("citizen", "merchant", "admin"):
        who = actors.user(role)
        assert_problem(client.post(ADJUST, json=adjustment(citizen.id, 5), headers=who.headers), 403)
    assert_problem(client.post(ADJUST, json=adjustment(citizen.id, 5)), 401)
