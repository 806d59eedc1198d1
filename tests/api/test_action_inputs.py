"""Required inputs come from the methodology in force, not from a fixed table.

SH-BUS-BOARDING (family `transit_boarding`) needs the number of boardings and a time: tap-on
operator data with no distance and no alighting time is creditable. A per-km scope needs a
distance and both times. A claim lacking what its methodology needs is a 422 `missing_inputs`
from the app and a `rejected` record (reason `missing_inputs`, naming the fields) from a partner;
neither stores anything."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from carbon_credits.domain import methodology as method_domain
from models import Action
from tests.api.test_actions import operator, rider, seeded, send_batch  # noqa: F401
from tests.conftest import all_table_counts, assert_problem, table_counts

ACTIONS = "/api/v1/actions"


def ago(hours: float) -> dt.datetime:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)).replace(microsecond=0)


def tap(at: dt.datetime, **extra) -> dict:
    """A bus tap-on: one boarding at one instant, no distance, no alighting time."""
    return {"action_type": "transit", "mode": "bus", "boardings": 1, "occurred_at": at.isoformat(),
            **extra}


def balance(app, user_id) -> int:
    from carbon_credits.services import ledger
    with app.app_context():
        return ledger.get_balance(user_id=user_id).available


def test_bus_tap_on_record_is_credited_per_boarding(client, app, seeded, operator, rider):  # noqa: F811
    """Exploit (the other way round): tap-on data was refused unless times and a distance were
    invented for it."""
    result = send_batch(client, operator, [tap(ago(2), external_id="TAP-1",
                                               external_ref="CARD-0001")]).json["results"][0]
    assert result["status"] == "credited", result
    assert result["points"] == 422 and result["reduction_g"] == "422.000"  # RF_trip x 1
    detail = client.get(f"{ACTIONS}/{result['action_id']}", headers=rider.headers).json
    assert detail["methodology"] == {"code": "SH-BUS-BOARDING", "version": 1}
    assert [s["name"] for s in detail["breakdown"] if s["kind"] == "input"] == ["boardings"]
    assert detail["started_at"] is None and detail["ended_at"] is None


def test_bus_self_report_with_boardings_and_a_time_goes_to_review(client, app, seeded, rider):  # noqa: F811
    r = client.post(ACTIONS, json=tap(ago(2)), headers=rider.headers)
    assert r.status_code == 201 and r.json["status"] == "pending_review", r.json


def test_bus_trip_with_times_is_a_boarding_at_its_end(client, app, seeded, operator, rider):  # noqa: F811
    start = ago(3)
    record = {"action_type": "transit", "mode": "bus", "boardings": 1, "distance_km": 4,
              "started_at": start.isoformat(),
              "ended_at": (start + dt.timedelta(minutes=25)).isoformat(),
              "external_id": "BUS-1", "external_ref": "CARD-0001"}
    result = send_batch(client, operator, [record]).json["results"][0]
    assert result["status"] == "credited" and result["points"] == 422, result


def test_bus_claim_with_a_distance_but_no_boardings_is_refused(client, app, seeded, operator,  # noqa: F811
                                                               rider):  # noqa: F811
    start = ago(3)
    trip = {"action_type": "transit", "mode": "bus", "distance_km": 8,
            "started_at": start.isoformat(),
            "ended_at": (start + dt.timedelta(minutes=30)).isoformat()}
    before = all_table_counts(app)
    body = assert_problem(client.post(ACTIONS, json=trip, headers={
        **rider.headers, "Idempotency-Key": "bus-no-boardings"}), 422, "missing_inputs")
    assert set(body["errors"]) == {"boardings"} and "SH-BUS-BOARDING" in body["detail"]
    assert all_table_counts(app) == before
    result = send_batch(client, operator, [{**trip, "external_id": "B-1",
                                            "external_ref": "CARD-0001"}]).json["results"][0]
    assert result["status"] == "rejected" and result["action_id"] is None
    assert result["reasons"][0]["code"] == "missing_inputs"
    assert result["reasons"][0]["fields"] == ["boardings"]
    assert table_counts(app, Action)["actions"] == 0
    assert balance(app, rider.id) == 0
    # Nothing was stored: the operator may resend the corrected record under the same id.
    fixed = send_batch(client, operator, [{**trip, "boardings": 1, "external_id": "B-1",
                                           "external_ref": "CARD-0001"}]).json["results"][0]
    assert fixed["status"] == "credited"


@pytest.mark.parametrize("drop, missing", [
    (("distance_km",), ["distance_km"]),
    (("started_at", "ended_at"), ["started_at", "ended_at"]),
])
def test_metro_claim_without_distance_or_times_is_refused(client, app, seeded, operator, rider,  # noqa: F811
                                                          drop, missing):
    start = ago(3)
    trip = {"action_type": "transit", "mode": "metro", "distance_km": 10,
            "started_at": start.isoformat(),
            "ended_at": (start + dt.timedelta(minutes=20)).isoformat(),
            "occurred_at": (start + dt.timedelta(minutes=20)).isoformat()}
    for name in drop:
        del trip[name]
    before = all_table_counts(app)
    body = assert_problem(client.post(ACTIONS, json=trip, headers=rider.headers), 422,
                          "missing_inputs")
    assert sorted(body["errors"]) == sorted(missing)
    result = send_batch(client, operator, [{**trip, "external_id": "M-1",
                                            "external_ref": "CARD-0001"}]).json["results"][0]
    assert result["status"] == "rejected" and result["reasons"][0]["code"] == "missing_inputs"
    assert result["reasons"][0]["fields"] == missing
    after = all_table_counts(app)
    assert after["actions"] == before["actions"] == 0 and after["daily_credits"] == 0


def test_charging_session_needs_its_window_and_station(client, app, seeded, rider):  # noqa: F811
    session = {"action_type": "ev_charging", "energy_kwh": 20, "occurred_at": ago(2).isoformat()}
    body = assert_problem(client.post(ACTIONS, json=session, headers=rider.headers), 422,
                          "missing_inputs")
    assert set(body["errors"]) == {"started_at", "ended_at", "station_id"}


def test_a_batch_mixing_complete_and_incomplete_records_credits_the_complete(  # noqa: F811
        client, app, seeded, operator, rider):  # noqa: F811
    records = [tap(ago(2), external_id="T-1", external_ref="CARD-0001"),
               tap(ago(3), external_id="T-2", external_ref="CARD-0001", boardings=None),
               tap(ago(4), external_id="T-3", external_ref="CARD-0001")]
    records[1] = {k: v for k, v in records[1].items() if v is not None}
    results = send_batch(client, operator, records).json["results"]
    assert [r["status"] for r in results] == ["credited", "rejected", "credited"]
    assert [r["index"] for r in results] == [0, 1, 2]
    assert balance(app, rider.id) == 844


def test_the_inputs_follow_the_version_in_force_not_the_action_type(
        client, app, operator, rider, tmp_path):  # noqa: F811
    """With a per-km version in force for transit/bus (SZ-PT-EBUS approved instead of
    SH-BUS-BOARDING), a bus claim needs a distance and both times, and boardings alone fail."""
    from carbon_credits.services.methodologies import SEED_FILE, seed_methodologies
    data = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    ebus = next(m for m in data["methodologies"] if m["code"] == "SZ-PT-EBUS")
    ebus["versions"][0]["status"] = "approved"
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({**data, "methodologies": [ebus]}), encoding="utf-8")
    with app.app_context():
        seed_methodologies(path)
    result = send_batch(client, operator, [tap(ago(2), external_id="T-1",
                                               external_ref="CARD-0001")]).json["results"][0]
    assert result["status"] == "rejected"
    assert result["reasons"][0]["fields"] == ["distance_km", "started_at", "ended_at"]
    start = ago(3)
    ride = {"action_type": "transit", "mode": "bus", "distance_km": 10,
            "started_at": start.isoformat(),
            "ended_at": (start + dt.timedelta(minutes=30)).isoformat(),
            "external_id": "R-1", "external_ref": "CARD-0001"}
    result = send_batch(client, operator, [ride]).json["results"][0]
    assert result["status"] == "credited" and result["points"] == 269, result  # 26.9 g/km


def test_openapi_shows_the_required_inputs_per_action_type(client):
    spec = client.get("/api/v1/openapi.json").json
    for path in ("/api/v1/actions", "/api/v1/partner/actions"):
        doc = spec["paths"][path]["post"]["x-required-inputs"]
        assert doc["scopes"]["transit:bus"] == {"methodology": "SH-BUS-BOARDING",
                                                "family": "transit_boarding",
                                                "required": ["boardings", "occurred_at"]}
        assert doc["scopes"]["transit:metro"]["required"] == ["distance_km", "started_at",
                                                              "ended_at"]
        for family in method_domain.FAMILIES:
            assert doc["families"][family]["required"] == list(
                method_domain.required_inputs(family)["required"])
    # The claim is one schema per action type (tests/api/test_openapi_claims.py); the union
    # carries the table.
    description = spec["components"]["schemas"]["ActionClaim"]["description"]
    assert "| `transit:bus` | SH-BUS-BOARDING | `transit_boarding` | boardings, occurred_at |" \
        in description
    assert "within 5 minutes" in description
    assert spec["components"]["schemas"]["TransitActionClaim"]["required"] == ["action_type", "mode"]
