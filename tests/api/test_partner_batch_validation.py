"""A partner batch judges its records exactly as the schema did: the response to a batch of
invalid and unbound records is byte for byte the one the per-record `PartnerRecordSchema().load`
gave, and valid records go on to be credited as before."""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from marshmallow import ValidationError

from api.jsonbody import parse_strict_json
from api.resources import actions as resource
from tests.api.test_actions import (BATCH, operator, recent, rider, seeded,  # noqa: F401
                                    send_batch, trip)


def _records(start: dt.datetime) -> list:
    """Valid records for a card nobody bound (unbound: nothing stored, no random ids) and one
    of each kind of invalid record; every time is far from the future edge."""
    base = {**trip(start), "external_ref": "NOBODY"}
    bad_values = {"distance_km": -3, "boardings": True, "energy_kwh": "5", "weight_kg": 0,
                  "mode": "rocket", "station_id": "has space", "occurred_at": "yesterday",
                  "started_at": "2025-01-01T00:00:00", "ended_at": 12, "category": None}
    records = [{**base, "external_id": f"V-{i}", "distance_km": km}
               for i, km in enumerate([5, 7.5, 12.125])]
    records += [{**base, "external_id": f"BAD-{name}", name: value}
                for name, value in bad_values.items()]
    records += [
        {**base, "external_id": "BAD-unknown", "points": 99999, "user_id": "x"},
        {**base, "external_id": "BAD-places", "distance_km": 1.1234567},
        {**base, "external_id": "BAD-future",
         "ended_at": (start + dt.timedelta(days=2)).isoformat()},
        {**base, "external_id": "BAD-window", "ended_at": (start - dt.timedelta(minutes=1)).isoformat()},
        {**base, "external_id": "BAD-clock",
         "occurred_at": (start - dt.timedelta(hours=1)).isoformat()},
        {**base, "external_id": "BAD-type", "action_type": "ev_charging"},
        {"action_type": "waste_sorting", "external_id": 7, "external_ref": ""},
        "not an object", [base], 3.5, True, {},
    ]
    return records


def test_a_batch_is_answered_byte_for_byte_as_the_schema_answered_it(client, app, seeded,
                                                                     operator, monkeypatch):
    records = _records(recent(3))
    body = json.dumps({"records": records}).encode()
    now = int(time.time())
    compiled = client.post(BATCH, data=body, headers=operator.signed(body, timestamp=now))
    monkeypatch.setattr(resource, "load_partner_record", resource.PartnerRecordSchema().load)
    # Another timestamp: the same signed request twice would be refused as a replay.
    by_schema = client.post(BATCH, data=body, headers=operator.signed(body, timestamp=now - 1))
    assert compiled.status_code == by_schema.status_code == 200
    assert compiled.data == by_schema.data
    summary = compiled.json["summary"]
    assert summary == {"unbound": 3, "rejected": len(records) - 3}, summary


def test_a_rejected_record_carries_the_schema_messages(client, app, seeded, operator):
    records = _records(recent(3))
    results = send_batch(client, operator, records).json["results"]
    schema = resource.PartnerRecordSchema()
    as_received = parse_strict_json(json.dumps(records).encode())  # numbers as Decimal
    for raw, result in zip(as_received, results):
        if result["status"] != "rejected":
            continue
        with pytest.raises(ValidationError) as refused:
            schema.load(raw if isinstance(raw, dict) else {"_": raw})
        assert result["reasons"][0]["errors"] == refused.value.messages, raw


def test_valid_records_of_a_bound_card_are_still_credited(client, app, seeded, operator, rider):
    start = recent(6)
    records = [{**trip(start + dt.timedelta(hours=i), km=km), "external_id": f"OK-{i}",
                "external_ref": "CARD-0001"} for i, km in enumerate([5, 7.5, 10])]
    records.append({**trip(start), "external_id": "BAD", "external_ref": "CARD-0001",
                    "distance_km": 0})
    results = send_batch(client, operator, records).json["results"]
    assert [r["status"] for r in results] == ["credited"] * 3 + ["rejected"], results
    assert [r["reduction_g"] for r in results[:3]] == ["485.000", "727.500", "970.000"]
