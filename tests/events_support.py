"""Helpers shared by the carbon-neutral event tests (docs/events.md): an event recorded by an
admin, serials of a verified lot moved to its buyer, retirements against it."""
from __future__ import annotations

from tests.certificates_support import LOTS

EVENTS = "/api/v1/admin/events"
PUBLIC_EVENTS = "/api/v1/public/events"


def event_body(buyer_id, **overrides) -> dict:
    body = {"name": "Suzhou Marathon 2026", "kind": "marathon", "organiser": "Suzhou Sports Bureau",
            "buyer_partner_id": str(buyer_id), "region": "320508", "starts_on": "2026-03-15",
            "ends_on": "2026-03-15", "footprint_g": 3000,
            "footprint_basis": "Runner travel from a survey, venue meters, catering invoices.",
            "footprint_report_ref": "SZM-2026-FP-01"}
    return {**body, **overrides}


def create_event(client, admin, buyer_id, **overrides) -> dict:
    r = client.post(EVENTS, json=event_body(buyer_id, **overrides), headers=admin.headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def serial(lot: dict, n: int) -> str:
    return f"CC-SH-METRO-{lot['vintage_year']}-{n:09d}"


def give_to_buyer(client, admin, lot: dict, buyer_id, quantity: int) -> None:
    """Transfer the scheme's lowest `quantity` serials of the lot to the buyer."""
    r = client.post(f"{LOTS}/{lot['id']}/transfers",
                    json={"buyer_partner_id": str(buyer_id), "quantity": quantity},
                    headers=admin.headers)
    assert r.status_code == 201, r.get_json()


def retire_for_event(client, who, lot: dict, *, event_id, holder_id, first: int, last: int):
    """POST a retirement of serials first..last of the lot against the event; the response."""
    body = {"first_serial": serial(lot, first), "last_serial": serial(lot, last),
            "beneficiary": "Suzhou Marathon 2026", "purpose": "Event neutrality",
            "event_id": str(event_id)}
    if holder_id is not None:  # omitted: the scheme's own issuance account
        body["holder_partner_id"] = str(holder_id)
    return client.post(f"{LOTS}/{lot['id']}/retirements", json=body, headers=who.headers)
