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


def approve(client, who, adjustment_id, **body):
    return client.post(f"{ADJUST}/{adjustment_id}/approve", json=body, headers=who.headers)


def test_a_correction_is_requested_by_one_person_and_approved_by_another(client, app, actors):
    from sqlalchemy import select

    from models import AuditEntry, LedgerTransfer
    citizen, admin = actors.user("citizen"), actors.user("admin")
    first, second = actors.user("auditor"), actors.user("auditor")
    r = client.post(ADJUST, json=adjustment(citizen.id, 40), headers=admin.headers)
    assert r.status_code == 201, r.json
    assert r.json["status"] == "pending" and r.json["transfer"] is None
    assert client.get("/api/v1/me/balance", headers=citizen.headers).json["available"] == 0
    again = client.post(ADJUST, json=adjustment(citizen.id, 40), headers=admin.headers)
    assert again.status_code == 201 and again.json["id"] == r.json["id"]  # same ref: one request
    queue = client.get(f"{ADJUST}?status=pending", headers=first.headers).json["items"]
    assert [item["id"] for item in queue] == [r.json["id"]]

    done = approve(client, first, r.json["id"], note="checked the tap log")
    assert done.status_code == 200, done.json
    assert done.json["status"] == "approved" and done.json["decided_by"] == str(first.id)
    assert done.json["transfer"]["kind"] == "adjustment"
    assert done.json["transfer"]["amount"] == 40 and done.json["transfer"]["balance_after"] == 40
    assert_problem(approve(client, second, r.json["id"]), 409, "adjustment_not_pending")
    shown = client.get(f"{ADJUST}/{r.json['id']}", headers=admin.headers)
    assert shown.status_code == 200 and shown.json == done.json
    assert_problem(client.get(f"{ADJUST}/{uuid.uuid4()}", headers=admin.headers), 404,
                   "adjustment_not_found")
    assert_problem(client.get(f"{ADJUST}/{r.json['id']}", headers=citizen.headers), 403)

    # A take-back, requested by an auditor and approved by the other one.
    back = client.post(ADJUST, json=adjustment(citizen.id, -15, "TICKET-2", "correction",
                                               "double-credited ride"), headers=first.headers)
    assert_problem(approve(client, first, back.json["id"]), 403, "four_eyes")
    taken = approve(client, second, back.json["id"])
    assert taken.status_code == 200 and taken.json["transfer"]["amount"] == -15
    balance = client.get("/api/v1/me/balance", headers=citizen.headers).json
    assert balance["available"] == 25 and sum(e["points"] for e in balance["expiring"]) == 25
    items = client.get("/api/v1/me/ledger?kind=adjustment", headers=citizen.headers).json["items"]
    assert [i["amount"] for i in items] == [-15, 40]
    with app.app_context():
        actions = [a.action for a in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("ledger.adjust%")).order_by(AuditEntry.id))]
        assert actions == ["ledger.adjustment_requested", "ledger.adjusted",
                           "ledger.adjustment_approved", "ledger.adjustment_requested",
                           "ledger.adjusted", "ledger.adjustment_approved"]
        assert db.session.query(LedgerTransfer).filter_by(kind="adjustment").count() == 2
        assert ledger.verify_ledger().problems == []
        db.session.remove()


def test_a_rejected_request_posts_nothing(client, app, actors):
    from tests.conftest import all_table_counts
    citizen, admin, auditor = actors.user("citizen"), actors.user("admin"), actors.user("auditor")
    r = client.post(ADJUST, json=adjustment(citizen.id, 500), headers=admin.headers)
    assert_problem(client.post(f"{ADJUST}/{r.json['id']}/reject", json={}, headers=auditor.headers), 422)
    no = client.post(f"{ADJUST}/{r.json['id']}/reject", json={"note": "no such trip in the log"},
                     headers=auditor.headers)
    assert no.status_code == 200 and no.json["status"] == "rejected" and no.json["transfer"] is None
    other = actors.user("auditor")
    before = all_table_counts(app)
    assert_problem(approve(client, other, r.json["id"]), 409, "adjustment_not_pending")
    assert all_table_counts(app) == before
    assert client.get("/api/v1/me/balance", headers=citizen.headers).json["available"] == 0


def test_a_take_back_the_balance_cannot_cover_is_refused_and_stays_pending(client, app, actors):
    from tests.conftest import all_table_counts
    citizen, admin, auditor = actors.user("citizen"), actors.user("admin"), actors.user("auditor")
    credit(app, citizen.id, 10)
    hold(app, citizen.id, 4)
    r = client.post(ADJUST, json=adjustment(citizen.id, -7), headers=admin.headers)
    before = all_table_counts(app)
    assert_problem(approve(client, auditor, r.json["id"]), 409, "insufficient_balance")
    assert all_table_counts(app) == before
    assert client.get(f"{ADJUST}?status=pending", headers=auditor.headers).json["items"][0]["id"] \
        == r.json["id"]
    assert client.get("/api/v1/me/balance", headers=citizen.headers).json["available"] == 6


def test_reusing_an_adjustment_ref_with_other_details_is_a_conflict(client, app, actors):
    citizen, admin = actors.user("citizen"), actors.user("admin")
    assert client.post(ADJUST, json=adjustment(citizen.id, 5), headers=admin.headers).status_code == 201
    assert_problem(client.post(ADJUST, json=adjustment(citizen.id, 6), headers=admin.headers),
                   409, "adjustment_ref_conflict")


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
    assert_problem(approve(client, auditor, uuid.uuid4()), 404, "adjustment_not_found")
    assert_problem(client.get(f"{ADJUST}?status=maybe", headers=auditor.headers), 422)
    assert all_table_counts(app) == before


def test_who_may_request_list_and_decide_adjustments(client, actors):
    citizen, admin = actors.user("citizen"), actors.user("admin")
    r = client.post(ADJUST, json=adjustment(citizen.id, 5), headers=admin.headers)
    for role in ("citizen", "merchant"):
        who = actors.user(role)
        assert_problem(client.post(ADJUST, json=adjustment(citizen.id, 5, "T-9"), headers=who.headers), 403)
        assert_problem(client.get(ADJUST, headers=who.headers), 403)
    assert_problem(approve(client, actors.user("admin"), r.json["id"]), 403)  # deciding is auditors'
    assert client.get(ADJUST, headers=admin.headers).status_code == 200
    assert_problem(client.post(ADJUST, json=adjustment(citizen.id, 5)), 401)
