"""Green actions: both channels, verification, no double counting, caps, review, reads."""
from __future__ import annotations

import datetime as dt
import json
import threading
import uuid

import pytest

from models import Action, DailyCredit, LedgerTransfer
from tests.conftest import (all_table_counts, assert_problem, recorded_statements, redis_key_count,
                            table_counts)

ACTIONS = "/api/v1/actions"
BATCH = "/api/v1/partner/actions"
UTC = dt.timezone.utc


@pytest.fixture
def seeded(app):
    from carbon_credits.services.methodologies import seed_methodologies
    with app.app_context():
        seed_methodologies()


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def trip(start: dt.datetime, minutes: int = 20, km: float | str = 10, mode: str = "metro") -> dict:
    end = start + dt.timedelta(minutes=minutes)  # a trip happens when it ends (one clock)
    return {"action_type": "transit", "mode": mode, "occurred_at": iso(end),
            "started_at": iso(start), "ended_at": iso(end), "distance_km": json.loads(str(km))}


def recent(hours: int = 2) -> dt.datetime:
    return (dt.datetime.now(UTC) - dt.timedelta(hours=hours)).replace(microsecond=0)


@pytest.fixture
def operator(actors):
    return actors.partner("transit_operator")


@pytest.fixture
def rider(actors, client, operator):
    citizen = actors.user("citizen")
    actors.bind(citizen, operator, "CARD-0001")
    return citizen


def send_batch(client, partner, records, **headers):
    body = json.dumps({"records": records}).encode()
    return client.post(BATCH, data=body, headers={**partner.signed(body), **headers})


def balance(app, user_id) -> int:
    from carbon_credits.services import ledger
    with app.app_context():
        return ledger.get_balance(user_id=user_id).available


def test_operator_record_for_a_bound_card_is_credited(client, app, seeded, operator, rider):
    start = recent()
    r = send_batch(client, operator, [{**trip(start), "external_id": "T-1", "external_ref": "card-0001"}])
    assert r.status_code == 200, r.json
    result = r.json["results"][0]
    assert result["status"] == "credited" and result["points"] == 970
    assert result["reduction_g"] == "970.000"
    assert balance(app, rider.id) == 970
    detail = client.get(f"{ACTIONS}/{result['action_id']}", headers=rider.headers).json
    assert detail["methodology"] == {"code": "SH-METRO", "version": 1}
    factor = [s for s in detail["breakdown"] if s["kind"] == "parameter"][0]
    assert factor["value"] == "97" and "sthj.sh.gov.cn" in factor["source"]
    assert detail["credited_g"] == "970.000" and detail["points_per_gram"] == 1


def test_resent_record_is_a_duplicate_and_credited_once(client, app, seeded, operator, rider):
    record = {**trip(recent()), "external_id": "T-1", "external_ref": "CARD-0001"}
    first = send_batch(client, operator, [record]).json["results"][0]
    again = send_batch(client, operator, [record, record]).json["results"]
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert again[0]["action_id"] == first["action_id"]
    assert balance(app, rider.id) == 970
    assert table_counts(app, Action)["actions"] == 1


def test_self_report_of_operator_trip_is_not_credited_twice(client, app, seeded, operator, rider):
    start = recent()
    send_batch(client, operator, [{**trip(start), "external_id": "T-1", "external_ref": "CARD-0001"}])
    r = client.post(ACTIONS, json=trip(start + dt.timedelta(minutes=2)), headers=rider.headers)
    assert r.status_code == 201
    assert r.json["status"] == "duplicate" and r.json["points"] == 0
    assert balance(app, rider.id) == 970


def test_operator_record_wins_over_a_pending_self_report(client, app, seeded, operator, rider):
    start = recent()
    claim = client.post(ACTIONS, json=trip(start), headers=rider.headers).json
    assert claim["status"] == "pending_review"  # metro self-reports need review
    result = send_batch(client, operator, [{**trip(start), "external_id": "T-9",
                                            "external_ref": "CARD-0001"}]).json["results"][0]
    assert result["status"] == "credited"
    closed = client.get(f"{ACTIONS}/{claim['id']}", headers=rider.headers).json
    assert closed["status"] == "duplicate" and closed["duplicate_of"] == result["action_id"]
    assert balance(app, rider.id) == 970


def test_unbound_and_invalid_records_do_not_spoil_the_batch(client, app, seeded, operator, rider):
    start = recent()
    records = [
        {**trip(start), "external_id": "OK-1", "external_ref": "CARD-0001"},
        {**trip(start + dt.timedelta(hours=1)), "external_id": "NB-1", "external_ref": "UNKNOWN"},
        {**trip(start), "external_id": "BAD-1", "external_ref": "CARD-0001", "distance_km": -3},
        {**trip(start), "external_id": "BAD-2", "external_ref": "CARD-0001", "points": 99999},
        "not an object",
    ]
    results = send_batch(client, operator, records).json["results"]
    assert [r["status"] for r in results] == ["credited", "unbound", "rejected", "rejected", "rejected"]
    assert results[2]["reasons"][0]["code"] == "validation"
    assert table_counts(app, Action)["actions"] == 1
    assert balance(app, rider.id) == 970


def test_impossible_walk_is_rejected_with_its_reason(client, app, seeded, rider):
    start = recent()
    r = client.post(ACTIONS, json=trip(start, minutes=10, km=30, mode="walk"), headers=rider.headers)
    assert r.status_code == 201
    body = r.json
    assert body["status"] == "rejected" and body["points"] == 0
    codes = {reason["code"] for reason in body["reasons"]}
    assert "speed_out_of_bounds" in codes or "distance_out_of_bounds" in codes
    assert table_counts(app, Action)["actions"] == 1  # kept for fraud analytics
    assert balance(app, rider.id) == 0


def test_plausible_walk_is_credited_from_the_app(client, app, seeded, rider):
    r = client.post(ACTIONS, json=trip(recent(), minutes=30, km=2, mode="walk"), headers=rider.headers)
    assert r.json["status"] == "credited" and r.json["points"] == 208  # 104 g/km x 2 km
    assert balance(app, rider.id) == 208


def test_sixth_metro_ride_is_credited_only_up_to_the_daily_cap(client, app, seeded, operator, rider):
    from carbon_credits.config import get_settings
    from carbon_credits.domain.actions import scheme_day
    # Six 10 km rides in one scheme day, an hour apart.
    day = scheme_day(recent(30), get_settings().scheme_timezone)
    base = dt.datetime.combine(day, dt.time(8, 0), tzinfo=dt.timezone(dt.timedelta(hours=8)))
    records = [{**trip(base + dt.timedelta(hours=i)), "external_id": f"R-{i}",
                "external_ref": "CARD-0001"} for i in range(6)]
    results = send_batch(client, operator, records).json["results"]
    assert [r["points"] for r in results] == [970, 970, 970, 970, 970, 150]
    assert results[5]["reasons"][-1]["code"] == "daily_cap_reached"
    assert balance(app, rider.id) == 5000
    seventh = send_batch(client, operator, [{**trip(base + dt.timedelta(hours=7)), "external_id": "R-7",
                                             "external_ref": "CARD-0001"}]).json["results"][0]
    assert seventh["status"] == "credited" and seventh["points"] == 0
    assert balance(app, rider.id) == 5000


def test_claim_outside_the_window_is_rejected(client, app, seeded, operator, rider):
    old = recent(24 * 10)
    result = send_batch(client, operator, [{**trip(old), "external_id": "OLD",
                                            "external_ref": "CARD-0001"}]).json["results"][0]
    assert result["status"] == "rejected"
    assert result["reasons"][0]["code"] == "claim_window_expired"


def test_ev_charging_and_waste_from_operators(client, app, seeded, actors):
    charger = actors.partner("charging_operator")
    station = actors.partner("recycling_operator")
    citizen = actors.user("citizen")
    for partner, ref in ((charger, "EV-1"), (station, "BIN-1")):
        actors.bind(citizen, partner, ref)
    start = recent()
    ev = send_batch(client, charger, [{"action_type": "ev_charging",  # occurred_at: its end
                                       "started_at": iso(start), "ended_at": iso(start + dt.timedelta(hours=1)),
                                       "energy_kwh": 30, "station_id": "S1", "external_id": "C-1",
                                       "external_ref": "EV-1"}]).json["results"][0]
    assert ev["status"] == "credited" and ev["points"] > 0
    waste = send_batch(client, station, [{"action_type": "waste_sorting", "occurred_at": iso(start),
                                          "category": "paper", "weight_kg": 2, "station_id": "B1",
                                          "external_id": "W-1", "external_ref": "BIN-1"}]).json["results"][0]
    assert waste["status"] == "credited" and waste["points"] > 0
    assert balance(app, citizen.id) == ev["points"] + waste["points"]


BAD_INPUTS = [
    ("negative distance", {"distance_km": -1}),
    ("zero distance", {"distance_km": 0}),
    ("distance beyond physical maximum", {"distance_km": 100000}),
    ("boolean as number", {"distance_km": True}),
    ("string as number", {"distance_km": "10"}),
    ("huge exponent", {"distance_km": 1e300}),
    ("future time", {"occurred_at": "2999-01-01T00:00:00+00:00"}),
    ("time without offset", {"started_at": "2026-01-01T08:00:00"}),
    ("impossible date", {"started_at": "2026-02-30T08:00:00+08:00"}),
    ("ended before started", {"ended_at": "2000-01-01T00:00:00+00:00"}),
    ("unknown mode", {"mode": "rocket"}),
    ("unknown action type", {"action_type": "teleport"}),
    ("client sets points", {"points": 1000000}),
    ("client sets status", {"status": "credited"}),
    ("client sets reduction", {"reduction_g": "9999.000"}),
    ("field of another type", {"weight_kg": 3}),
    ("too many decimals", {"distance_km": 1.1234567}),
]


@pytest.mark.parametrize("name, change", BAD_INPUTS, ids=[n for n, _ in BAD_INPUTS])
def test_bad_input_is_422_and_leaves_nothing(client, app, seeded, rider, name, change):
    body = trip(recent())
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    before, keys_before = all_table_counts(app), redis_key_count()
    r = client.post(ACTIONS, json=body, headers={**rider.headers, "Idempotency-Key": "bad-" + name.replace(" ", "-")})
    assert_problem(r, 422, "validation")
    assert all_table_counts(app) == before
    assert redis_key_count() == keys_before


def test_non_finite_distance_is_400(client, app, seeded, rider):
    raw = json.dumps(trip(recent())).replace('"distance_km": 10', '"distance_km": NaN').encode()
    before = all_table_counts(app)
    assert_problem(client.post(ACTIONS, data=raw, content_type="application/json",
                               headers=rider.headers), 400)
    assert all_table_counts(app) == before


def test_batch_envelope_limits(client, app, seeded, operator):
    before = all_table_counts(app)
    assert_problem(send_batch(client, operator, []), 422)
    record = {**trip(recent()), "external_id": "X", "external_ref": "Y"}
    assert_problem(send_batch(client, operator, [record] * 1001), 422)
    assert all_table_counts(app) == before


def test_partner_batch_needs_a_valid_signature(client, app, seeded, operator):
    body = json.dumps({"records": [{**trip(recent()), "external_id": "X", "external_ref": "Y"}]}).encode()
    headers = operator.signed(body)
    headers["X-Signature"] = "sha256=" + "0" * 64
    assert_problem(client.post(BATCH, data=body, headers=headers), 401, "signature_invalid")
    stale = operator.signed(body, timestamp=int(dt.datetime.now(UTC).timestamp()) - 600)
    assert_problem(client.post(BATCH, data=body, headers=stale), 401, "signature_stale")
    good = operator.signed(body)
    assert client.post(BATCH, data=body, headers=good).status_code == 200
    assert_problem(client.post(BATCH, data=body, headers=good), 401, "signature_replayed")


def test_app_claim_idempotency_key_replays(client, app, seeded, rider):
    body = trip(recent(), minutes=30, km=2, mode="walk")
    headers = {**rider.headers, "Idempotency-Key": "walk-1"}
    a = client.post(ACTIONS, json=body, headers=headers)
    b = client.post(ACTIONS, json=body, headers=headers)
    assert a.json == b.json and b.headers["Idempotent-Replayed"] == "true"
    assert balance(app, rider.id) == 208


def test_citizens_read_only_their_own_actions(client, app, seeded, rider, actors):
    other = actors.user("citizen")
    mine = client.post(ACTIONS, json=trip(recent(), minutes=30, km=2, mode="walk"), headers=rider.headers).json
    assert_problem(client.get(f"{ACTIONS}/{mine['id']}", headers=other.headers), 404)
    assert client.get(ACTIONS, headers=other.headers).json["items"] == []
    page = client.get(f"{ACTIONS}?status=credited&action_type=transit", headers=rider.headers).json
    assert [a["id"] for a in page["items"]] == [mine["id"]]
    assert client.get(f"{ACTIONS}?status=rejected", headers=rider.headers).json["items"] == []


def test_list_is_keyset_paginated(client, app, seeded, rider):
    start = recent(10)
    for i in range(5):
        client.post(ACTIONS, json=trip(start + dt.timedelta(hours=i), minutes=30, km=1, mode="walk"),
                    headers=rider.headers)
    ids, cursor = [], None
    while True:
        page = client.get(f"{ACTIONS}?limit=2" + (f"&cursor={cursor}" if cursor else ""),
                          headers=rider.headers).json
        ids += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(ids) == len(set(ids)) == 5


def test_auditor_approves_rejects_and_reverses(client, app, seeded, rider, actors):
    auditor = actors.user("auditor")
    start = recent(5)
    pending = [client.post(ACTIONS, json=trip(start + dt.timedelta(hours=i)), headers=rider.headers).json
               for i in range(2)]
    queue = client.get("/api/v1/admin/actions?status=pending_review", headers=auditor.headers).json
    assert {a["id"] for a in queue["items"]} == {p["id"] for p in pending}
    approved = client.post(f"/api/v1/admin/actions/{pending[0]['id']}/approve", json={},
                           headers=auditor.headers)
    assert approved.status_code == 200 and approved.json["status"] == "credited"
    assert approved.json["points"] == 970 and balance(app, rider.id) == 970
    rejected = client.post(f"/api/v1/admin/actions/{pending[1]['id']}/reject",
                           json={"reason": "no tap-in record"}, headers=auditor.headers)
    assert rejected.json["status"] == "rejected"
    assert_problem(client.post(f"/api/v1/admin/actions/{pending[1]['id']}/approve", json={},
                               headers=auditor.headers), 409, "action_not_pending")
    reversed_ = client.post(f"/api/v1/admin/actions/{pending[0]['id']}/reverse",
                            json={"reason": "fraudulent claim"}, headers=auditor.headers)
    assert reversed_.json["status"] == "reversed" and balance(app, rider.id) == 0
    assert_problem(client.post(f"/api/v1/admin/actions/{pending[0]['id']}/reverse",
                               json={"reason": "again"}, headers=auditor.headers), 409, "already_reversed")
    log = client.get("/api/v1/admin/audit-log?object_type=action", headers=auditor.headers).json["items"]
    assert {e["action"] for e in log} == {"action.approve", "action.reject", "action.reverse"}


def test_an_auditor_cannot_review_their_own_claim(client, app, seeded, actors):
    """An auditor who is also a citizen would otherwise approve their own self-reports."""
    auditor = actors.user("auditor", "citizen")
    colleague = actors.user("auditor")
    claims = [client.post(ACTIONS, json=trip(recent(5) + dt.timedelta(hours=i)),
                          headers=auditor.headers).json for i in range(2)]
    assert {c["status"] for c in claims} == {"pending_review"}
    before = all_table_counts(app)
    for verb, body in (("approve", {}), ("reject", {"reason": "my own claim"})):
        r = client.post(f"/api/v1/admin/actions/{claims[0]['id']}/{verb}", json=body,
                        headers=auditor.headers)
        assert_problem(r, 403, "four_eyes")
    assert all_table_counts(app) == before and balance(app, auditor.id) == 0
    r = client.post(f"/api/v1/admin/actions/{claims[0]['id']}/approve", json={},
                    headers=colleague.headers)
    assert r.status_code == 200 and balance(app, auditor.id) == 970


def test_citizen_cannot_use_the_review_queue(client, seeded, rider):
    assert_problem(client.get("/api/v1/admin/actions", headers=rider.headers), 403)


@pytest.mark.postgres
def test_app_and_operator_racing_on_one_trip_credit_it_once(app, seeded, operator, rider):
    from carbon_credits.domain.errors import DomainError
    start = recent()
    for attempt in range(5):
        s = start - dt.timedelta(hours=attempt * 3)
        walk = trip(s, minutes=30, km=2, mode="walk")
        barrier = threading.Barrier(2)

        def app_channel():
            client = app.test_client()
            barrier.wait()
            client.post(ACTIONS, json=walk, headers=rider.headers)

        def partner_channel():
            client = app.test_client()
            barrier.wait()
            send_batch(client, operator, [{**walk, "external_id": f"W-{attempt}",
                                           "external_ref": "CARD-0001"}])

        threads = [threading.Thread(target=app_channel), threading.Thread(target=partner_channel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # Five trips, each reported twice at once: five credits of 208 points, never ten.
    assert balance(app, rider.id) == 5 * 208
    with app.app_context():
        from sqlalchemy import func, select
        from models import db
        credited = db.session.scalar(select(func.count()).select_from(Action)
                                     .where(Action.status == "credited"))
        assert credited == 5


def test_large_batch_is_processed_in_one_request(client, app, seeded, operator, actors):
    citizens = []
    for i in range(20):
        c = actors.user("citizen")
        actors.bind(c, operator, f"CARD-{i:04d}")
        citizens.append(c)
    start = recent(20)
    records = [{**trip(start + dt.timedelta(minutes=30 * (i // 20)), minutes=5, km=1), "external_id": f"B-{i}",
                "external_ref": f"CARD-{i % 20:04d}"} for i in range(400)]
    r = send_batch(client, operator, records)
    assert r.status_code == 200
    assert r.json["summary"]["credited"] == 400
    assert sum(balance(app, c.id) for c in citizens) == 400 * 97


def test_an_app_credit_costs_a_fixed_small_number_of_statements(client, app, seeded, rider):
    """Guards the credit path's statements and round trips (docs/architecture.md, "The app's
    single credit"): [token check, idempotency claim], [catalogue token, daily row locked,
    overlapping claims, account locked], [daily row, action, transfer, lot, balance, stored
    response, COMMIT]. psycopg's own BEGIN is one more exchange: four in all."""
    from carbon_credits.services.statements import recording
    walk = dict(minutes=30, km=2, mode="walk")
    r = client.post(ACTIONS, json=trip(recent(5), **walk), headers={**rider.headers, "Idempotency-Key": "w"})
    assert r.json["status"] == "credited", r.json
    with app.app_context():
        with recording() as seen:
            r = client.post(ACTIONS, json=trip(recent(2), **walk),
                            headers={**rider.headers, "Idempotency-Key": "k1"})
    assert r.status_code == 201 and r.json["status"] == "credited" and r.json["points"] > 0, r.json
    listing = "\n".join(sql.split("\n")[0][:120] for sql, _ in seen.statements)
    # 13: the webhook outbox's INSERT ... WHERE EXISTS joins the last group (docs/webhooks.md)
    assert len(seen.statements) <= 13, listing
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert seen.round_trips <= 3 and seen.commits_with_group == 1, (seen.round_trips, listing)

def test_a_partner_batch_costs_the_same_round_trips_for_40_records_as_for_400(client, app, seeded,
                                                                               operator, actors):
    """Set-based: the statements and round trips of a batch do not grow with its records
    (rows go by COPY on PostgreSQL); only the per-citizen and per-day work does, and that is
    pipelined. Pinned so a per-record query cannot creep back in."""
    from carbon_credits.services.statements import recording
    for i in range(20):
        actors.bind(actors.user("citizen"), operator, f"CARD-{i:04d}")
    start = recent(30)

    def batch(size: int, tag: str) -> list[dict]:
        return [{**trip(start + dt.timedelta(minutes=30 * (i // 20)), minutes=5, km=1),
                 "external_id": f"{tag}-{i}", "external_ref": f"CARD-{i % 20:04d}"}
                for i in range(size)]

    send_batch(client, operator, batch(2, "W"))  # caches warm: system accounts, catalogue
    costs = []
    for size, tag in ((40, "S"), (400, "L")):
        with app.app_context():
            with recording() as seen:
                r = send_batch(client, operator, batch(size, tag))
        assert r.status_code == 200 and r.json["summary"].get("credited", 0) >= 1, r.json["summary"]
        costs.append((len(seen.statements), seen.round_trips))
    (small_statements, small_trips), (large_statements, large_trips) = costs
    assert large_trips == small_trips, costs
    assert large_statements == small_statements, costs
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert large_trips <= 20, costs
