"""The adjustments list loads each request's transfer with the page, not one query per row."""
from __future__ import annotations

from tests.conftest import recorded_statements

ADJUST = "/api/v1/admin/ledger/adjustments"


def _approved_adjustments(client, citizen, requester, approver, refs):
    for ref in refs:
        r = client.post(ADJUST, json={"user_id": str(citizen.id), "points": 5,
                                      "reason": "goodwill", "note": "lost metro trip",
                                      "external_ref": ref}, headers=requester.headers)
        assert r.status_code == 201, r.json
        done = client.post(f"{ADJUST}/{r.json['id']}/approve", json={},
                           headers=approver.headers)
        assert done.status_code == 200, done.json


def _list_statements(app, client, who) -> tuple[list, list[str]]:
    client.get(ADJUST, headers=who.headers)  # warm whatever a first request loads
    with recorded_statements(app) as statements:
        r = client.get(f"{ADJUST}?limit=50", headers=who.headers)
    assert r.status_code == 200, r.json
    return r.json["items"], list(statements)


def test_the_adjustments_list_costs_the_same_for_1_and_for_10_approved_requests(client, app, actors):
    citizen, admin, auditor = actors.user("citizen"), actors.user("admin"), actors.user("auditor")
    _approved_adjustments(client, citizen, admin, auditor, ["T-0"])
    items, one = _list_statements(app, client, auditor)
    assert len(items) == 1 and items[0]["transfer"]["amount"] == 5
    _approved_adjustments(client, citizen, admin, auditor, [f"T-{i}" for i in range(1, 10)])
    items, ten = _list_statements(app, client, auditor)
    assert len(items) == 10
    assert [item["transfer"]["balance_after"] for item in items] == list(range(50, 0, -5))
    assert len(ten) == len(one), "\n".join(s.split("\n")[0][:120] for s in ten)


def test_a_page_mixing_pending_and_approved_requests_shows_each_ones_transfer(client, app, actors):
    citizen, admin, auditor = actors.user("citizen"), actors.user("admin"), actors.user("auditor")
    _approved_adjustments(client, citizen, admin, auditor, ["T-1"])
    pending = client.post(ADJUST, json={"user_id": str(citizen.id), "points": -3,
                                        "reason": "correction", "note": "double credit",
                                        "external_ref": "T-2"}, headers=admin.headers)
    page = client.get(ADJUST, headers=auditor.headers).json["items"]
    assert (page[0]["id"], page[0]["status"], page[0]["transfer"]) == \
        (pending.json["id"], "pending", None)
    assert page[1]["transfer"]["kind"] == "adjustment" and page[1]["transfer"]["amount"] == 5
    shown = client.get(f"{ADJUST}/{page[1]['id']}", headers=auditor.headers).json
    assert shown == page[1]
