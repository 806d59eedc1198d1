"""Open data: the certified lots with their whole registry history, public and cacheable."""
from __future__ import annotations

from tests.api.test_actions import operator, rider, seeded  # noqa: F401
from tests.api.test_certificates import (LOTS, admin, auditor, buyer, long_claim_window, lot,  # noqa: F401
                                         metro_month, verifier)

PUBLIC_LOTS = "/api/v1/public/lots"


def test_a_lots_issue_transfer_and_retirement_are_public(client, admin, auditor, buyer, lot):  # noqa: F811
    client.post(f"{LOTS}/{lot['id']}/transfers", json={"buyer_partner_id": str(buyer.id),
                                                       "quantity": 5}, headers=admin.headers)
    client.post(f"{LOTS}/{lot['id']}/retirements",
                json={"quantity": 2, "beneficiary": "Suzhou marathon 2026",
                      "purpose": "Event neutrality"}, headers=auditor.headers)
    r = client.get(PUBLIC_LOTS)
    assert r.status_code == 200, r.json
    assert "public" in r.headers["Cache-Control"]
    (item,) = r.json["items"]
    assert item["id"] == lot["id"] and item["serials"] == lot["serials"]
    assert item["verification"] == "positive" and item["retired_quantity"] == 2
    assert [(e["event"], e["quantity"]) for e in item["history"]] == [
        ("issue", 9), ("transfer", 5), ("retire", 2)]
    transfer = item["history"][1]
    assert transfer["from_holder"] is None and transfer["to_holder"] == "Acme Steel Ltd"
    assert item["history"][2]["beneficiary"] == "Suzhou marathon 2026"
    # nothing about citizens: no action ids, no user ids
    assert "user" not in r.get_data(as_text=True)
    again = client.get(PUBLIC_LOTS, headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


def test_the_lot_list_is_paginated_and_refuses_bad_cursors(client):
    assert client.get(PUBLIC_LOTS).json == {"items": [], "next_cursor": None}
    r = client.get(f"{PUBLIC_LOTS}?cursor=not-a-cursor")
    assert r.status_code in (400, 422)
