"""Signed receipts of credited actions (docs/verification.md, section 5; issue 17 item 3):
`GET /api/v1/actions/{id}/receipt` and the `receipts` section of the personal-data export."""
from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from carbon_credits.domain import proofs
from models import Action, LedgerSeal, LedgerTransfer, db
from tests.api.test_actions import operator, recent, rider, seeded, send_batch, trip  # noqa: F401
from tests.api.test_district_scoping import _grant
from tests.conftest import all_table_counts, assert_problem

ACTIONS = "/api/v1/actions"
EXPORT = "/api/v1/me/export"


def receipt_url(action_id) -> str:
    return f"{ACTIONS}/{action_id}/receipt"


def walk(client, citizen, hours: int = 3, km: float | str = 2) -> dict:
    """A walk reported from the app: credited at once."""
    r = client.post(ACTIONS, json=trip(recent(hours), minutes=30, km=km, mode="walk"),
                    headers=citizen.headers)
    assert r.status_code == 201 and r.json["status"] == "credited", r.json
    return r.json


def operator_trip(client, operator, external_id: str = "T-1", hours: int = 2) -> dict:  # noqa: F811
    r = send_batch(client, operator, [{**trip(recent(hours)), "external_id": external_id,
                                       "external_ref": "CARD-0001"}])
    result = r.json["results"][0]
    assert result["status"] == "credited", result
    return result


def verified(app, document: str) -> dict:
    from carbon_credits.services import signing
    with app.app_context():
        payload = signing.verify(document)
        db.session.remove()
    return payload


def earn_of(app, action_id) -> LedgerTransfer:
    with app.app_context():
        earn = db.session.scalars(select(LedgerTransfer).where(
            LedgerTransfer.action_id == uuid.UUID(str(action_id)),
            LedgerTransfer.kind == "earn")).one()
        db.session.expunge(earn)
        db.session.remove()
    return earn


def seal_everything(app) -> None:
    from carbon_credits.services import ledger
    with app.app_context():
        assert ledger.seal_all(settle_seconds=0) > 0
        db.session.remove()


def b64url_json(part: str):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_a_credited_actions_receipt_verifies_and_states_what_the_action_shows(
        client, app, seeded, operator, rider):  # noqa: F811
    result = operator_trip(client, operator)
    r = client.get(receipt_url(result["action_id"]), headers=rider.headers)
    assert r.status_code == 200, r.json
    body = r.json
    assert body["action_id"] == result["action_id"]
    payload = verified(app, body["document"])
    assert payload == body["receipt"]

    header, signed_payload, _ = body["document"].split(".")
    assert set(b64url_json(header)) == {"alg", "kid"} and b64url_json(header)["alg"] == "EdDSA"
    raw = base64.urlsafe_b64decode(signed_payload + "=" * (-len(signed_payload) % 4))
    assert raw == proofs.canonical_json(payload)  # the payload is canonical JSON

    view = client.get(f"{ACTIONS}/{result['action_id']}", headers=rider.headers).json
    assert payload["type"] == proofs.RECEIPT_TYPE == "carbon-credits/receipt/v1"
    for name in ("action_type", "occurred_at", "inputs", "methodology", "credited_g", "points",
                 "credited_at"):
        assert payload[name] == view[name], name
    assert payload["action_id"] == view["id"]
    assert payload["methodology"] == {"code": "SH-METRO", "version": 1}
    assert (payload["credited_mg"], payload["credited_g"], payload["points"]) == (970000, "970.000", 970)
    assert payload["inputs"]["distance_km"] == "10" and payload["inputs"]["mode"] == "metro"
    earn = earn_of(app, result["action_id"])
    assert payload["ledger_entry"] == {"transfer_id": str(earn.id), "seq": earn.seq}
    assert payload["chain"] is None  # not sealed yet


def test_the_chain_position_appears_once_sealed_and_the_same_state_gives_the_same_bytes(
        client, app, seeded, operator, rider):  # noqa: F811
    result = operator_trip(client, operator)
    url = receipt_url(result["action_id"])
    before = client.get(url, headers=rider.headers).json
    assert before["receipt"]["chain"] is None
    assert client.get(url, headers=rider.headers).json["document"] == before["document"]

    seal_everything(app)
    after = client.get(url, headers=rider.headers).json
    again = client.get(url, headers=rider.headers)
    assert again.get_data() == client.get(url, headers=rider.headers).get_data()
    assert again.json["document"] == after["document"] != before["document"]
    payload = verified(app, after["document"])
    assert payload == after["receipt"]
    earn = earn_of(app, result["action_id"])
    with app.app_context():
        seal = db.session.scalars(select(LedgerSeal).where(LedgerSeal.transfer_seq == earn.seq)).one()
        expected = {"position": seal.position, "hash": seal.hash, "sealed_at": seal.sealed_at.isoformat()}
        db.session.remove()
    assert payload["chain"] == expected and len(expected["hash"]) == 64
    assert {k: v for k, v in payload.items() if k != "chain"} == \
        {k: v for k, v in before["receipt"].items() if k != "chain"}


def test_decimal_inputs_are_strings_and_a_capped_credit_states_what_was_credited(
        client, app, seeded, operator, rider):  # noqa: F811
    walked = walk(client, rider, km=1.25)
    receipt = client.get(receipt_url(walked["id"]), headers=rider.headers).json["receipt"]
    assert receipt["inputs"]["distance_km"] == "1.25"
    assert receipt["credited_g"] == walked["credited_g"] and receipt["points"] == walked["points"]

    from carbon_credits.config import get_settings
    from carbon_credits.domain.actions import scheme_day
    day = scheme_day(recent(30), get_settings().scheme_timezone)
    base = dt.datetime.combine(day, dt.time(8, 0), tzinfo=dt.timezone(dt.timedelta(hours=8)))
    records = [{**trip(base + dt.timedelta(hours=i)), "external_id": f"R-{i}",
                "external_ref": "CARD-0001"} for i in range(7)]
    results = send_batch(client, operator, records).json["results"]
    assert [r["points"] for r in results] == [970, 970, 970, 970, 970, 150, 0]
    capped = client.get(receipt_url(results[5]["action_id"]), headers=rider.headers).json["receipt"]
    # The methodology computed 970 g; the daily cap let 150 g through: the receipt states 150 g.
    assert (capped["credited_mg"], capped["credited_g"], capped["points"]) == (150000, "150.000", 150)
    before = all_table_counts(app)
    assert_problem(client.get(receipt_url(results[6]["action_id"]), headers=rider.headers),
                   409, "action_not_credited")  # credited, but 0 g: nothing to attest
    assert all_table_counts(app) == before


def test_a_recorded_float_is_signed_as_a_decimal_string(client, app, seeded, rider):  # noqa: F811
    """Rows written before inputs were stored as strings may hold JSON floats."""
    walked = walk(client, rider)
    with app.app_context():
        db.session.execute(update(Action).where(Action.id == uuid.UUID(walked["id"]))
                           .values(inputs={**walked["inputs"], "distance_km": 2.5, "legs": [1, 0.1]}))
        db.session.commit()
        db.session.remove()
    body = client.get(receipt_url(walked["id"]), headers=rider.headers).json
    assert body["receipt"]["inputs"]["distance_km"] == "2.5"
    assert body["receipt"]["inputs"]["legs"] == [1, "0.1"]
    assert verified(app, body["document"]) == body["receipt"]


def test_signable_turns_every_non_integer_number_into_a_decimal_string():
    from carbon_credits.services.receipts import signable
    value = {"a": 1, "b": 2.5, "c": Decimal("0.10"), "d": [True, None, 1e-7, {"e": 3.0}], "f": "x"}
    assert signable(value) == {"a": 1, "b": "2.5", "c": "0.10",
                               "d": [True, None, "0.0000001", {"e": "3.0"}], "f": "x"}
    proofs.canonical_json(signable(value))  # accepted: no float left
    with pytest.raises(TypeError):
        signable({"x": object()})


def test_other_citizens_get_404_and_anonymous_callers_401(client, app, seeded, rider, actors):  # noqa: F811
    walked = walk(client, rider)
    other = actors.user("citizen")
    merchant = actors.one_of_each_role()["merchant"]
    before = all_table_counts(app)
    stranger = assert_problem(client.get(receipt_url(walked["id"]), headers=other.headers), 404)
    unknown = assert_problem(client.get(receipt_url(uuid.uuid4()), headers=rider.headers), 404)
    assert stranger["detail"] == unknown["detail"]  # nothing tells "someone else's" from "none"
    assert_problem(client.get(receipt_url(walked["id"])), 401)
    assert_problem(client.get(receipt_url(walked["id"]), headers=merchant.headers), 403,
                   "role_required")
    assert all_table_counts(app) == before


def test_staff_who_read_actions_get_receipts_district_staff_only_their_districts(
        client, app, seeded, actors):  # noqa: F811
    citizen = actors.user("citizen")
    assert client.patch("/api/v1/me", json={"region": "320505"},
                        headers=citizen.headers).status_code == 200
    walked = walk(client, citizen)
    assert walked["region"] == "320505"
    mine = client.get(receipt_url(walked["id"]), headers=citizen.headers).json
    for role in ("admin", "auditor", "verifier"):
        r = client.get(receipt_url(walked["id"]), headers=actors.user(role).headers)
        assert r.status_code == 200 and r.json == mine, role
    admin, second = actors.user("admin"), actors.user("admin")
    here, elsewhere = actors.user("citizen"), actors.user("citizen")
    own = walk(client, elsewhere, hours=5)  # credited while a citizen, without a district
    _grant(client, admin, second, here, "auditor", "320505")
    _grant(client, admin, second, elsewhere, "auditor", "320506")
    assert client.get(receipt_url(walked["id"]), headers=here.headers).json == mine
    assert_problem(client.get(receipt_url(walked["id"]), headers=elsewhere.headers), 404)
    # Their own credit stays theirs to prove, whatever district they now work for.
    assert client.get(receipt_url(own["id"]), headers=elsewhere.headers).status_code == 200


def test_actions_that_are_not_credited_have_no_receipt_and_asking_changes_nothing(
        client, app, seeded, operator, rider, actors):  # noqa: F811
    start = recent(6)
    pending = client.post(ACTIONS, json=trip(start), headers=rider.headers).json
    rejected = client.post(ACTIONS, json=trip(recent(9), minutes=10, km=30, mode="walk"),
                           headers=rider.headers).json
    operator_trip(client, operator, hours=3)
    duplicate = client.post(ACTIONS, json=trip(recent(3) + dt.timedelta(minutes=2)),
                            headers=rider.headers).json
    reversed_ = walk(client, rider, hours=12)
    auditor = actors.user("auditor")
    r = client.post(f"/api/v1/admin/actions/{reversed_['id']}/reverse",
                    json={"reason": "card cloned"}, headers=auditor.headers)
    assert r.status_code == 200 and r.json["status"] == "reversed"
    assert [a["status"] for a in (pending, rejected, duplicate)] == \
        ["pending_review", "rejected", "duplicate"]
    before = all_table_counts(app)
    for action in (pending, rejected, duplicate, reversed_):
        for reader in (rider, auditor):
            assert_problem(client.get(receipt_url(action["id"]), headers=reader.headers),
                           409, "action_not_credited")
    assert all_table_counts(app) == before


def test_the_export_holds_a_receipt_for_exactly_each_credited_action(
        client, app, seeded, operator, rider, actors, monkeypatch):  # noqa: F811
    from carbon_credits.services import receipts
    monkeypatch.setattr(receipts, "PAGE", 2)  # several pages of receipts
    credited = [operator_trip(client, operator, "T-1")["action_id"]]
    credited += [walk(client, rider, hours=4 + i)["id"] for i in range(4)]
    client.post(ACTIONS, json=trip(recent(20)), headers=rider.headers)  # pending
    client.post(ACTIONS, json=trip(recent(22), minutes=10, km=30, mode="walk"),
                headers=rider.headers)  # rejected
    walk(client, actors.user("citizen"))  # someone else's
    seal_everything(app)

    body = client.get(EXPORT, headers=rider.headers).get_json()
    section = body["receipts"]
    assert sorted(r["action_id"] for r in section) == sorted(credited)
    assert set(section[0]) == {"action_id", "document"}
    by_created = [a["id"] for a in body["actions"] if a["status"] == "credited"]
    assert [r["action_id"] for r in section] == by_created  # oldest first, like `actions`
    for item in section:
        payload = verified(app, item["document"])
        assert payload["action_id"] == item["action_id"] and payload["chain"] is not None
        served = client.get(receipt_url(item["action_id"]), headers=rider.headers).json
        assert served["document"] == item["document"]  # same state, same bytes

    nobody = actors.user("citizen")
    assert client.get(EXPORT, headers=nobody.headers).get_json()["receipts"] == []
