"""The claim in the API document is a discriminated union, one schema per action type, and it
says what the API does: each type's example passes, each of its required fields is needed, and
a field of another type is refused. The same for partner records in a signed batch."""
from __future__ import annotations

import copy
import datetime as dt
import json
import time

import pytest

from api.resources.actions import ActionCreateSchema, PartnerRecordSchema, TYPE_FIELDS
from carbon_credits.domain.vocabulary import ACTION_TYPES
from tests.conftest import assert_problem

ACTIONS = "/api/v1/actions"
BATCH = "/api/v1/partner/actions"
UTC = dt.timezone.utc
# The partner kind that reports each action type.
REPORTER = {"transit": "transit_operator", "ev_charging": "charging_operator",
            "waste_sorting": "recycling_operator", "everyday": "merchant_pos"}


@pytest.fixture
def seeded(app):
    from carbon_credits.services.methodologies import seed_methodologies
    with app.app_context():
        seed_methodologies()


@pytest.fixture(scope="module")
def spec(app):
    with app.test_client() as client:
        return client.get("/api/v1/openapi.json").json


def _component(spec, ref_or_name: str) -> dict:
    return spec["components"]["schemas"][ref_or_name.rsplit("/", 1)[-1]]


def _variants(spec, union: str) -> dict[str, dict]:
    component = _component(spec, union)
    assert component["discriminator"]["propertyName"] == "action_type"
    mapping = component["discriminator"]["mapping"]
    assert [v["$ref"] for v in component["oneOf"]] == list(mapping.values())
    return {action_type: _component(spec, ref) for action_type, ref in mapping.items()}


def recent(example: dict, hours: int = 1) -> dict:
    """The example moved so that its latest instant is `hours` ago (the claim window is days)."""
    claim = copy.deepcopy(example)
    times = {k: dt.datetime.fromisoformat(v) for k, v in claim.items()
             if k in ("occurred_at", "started_at", "ended_at")}
    shift = dt.datetime.now(UTC) - dt.timedelta(hours=hours) - max(times.values())
    claim.update({k: (t + shift).isoformat() for k, t in times.items()})
    return claim


@pytest.mark.parametrize("union, schema", [("ActionClaim", ActionCreateSchema),
                                           ("PartnerRecord", PartnerRecordSchema)])
def test_one_schema_per_claimable_action_type_from_the_flat_schema(spec, union, schema):
    variants = _variants(spec, union)
    assert set(variants) == set(TYPE_FIELDS) and set(TYPE_FIELDS) <= set(ACTION_TYPES)
    flat = {name for name, field in schema().fields.items() if not field.dump_only}
    for action_type, variant in variants.items():
        assert variant["properties"]["action_type"] == {"type": "string", "enum": [action_type]}
        assert variant["additionalProperties"] is False
        assert set(variant["properties"]) <= flat
        assert TYPE_FIELDS[action_type] <= set(variant["properties"])
        assert set(variant["required"]) <= set(variant["properties"])
        assert variant["example"]["action_type"] == action_type
        assert set(variant["example"]) <= set(variant["properties"])
        assert set(variant["required"]) <= set(variant["example"])


def test_the_claim_operations_use_the_unions(spec):
    body = spec["paths"][ACTIONS]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/ActionClaim"}
    assert set(body["examples"]) == set(TYPE_FIELDS)
    batch = _component(spec, spec["paths"][BATCH]["post"]["requestBody"]["content"]
                       ["application/json"]["schema"]["$ref"])
    assert batch["properties"]["records"]["items"] == {"$ref": "#/components/schemas/PartnerRecord"}
    assert batch["required"] == ["records"] and batch["additionalProperties"] is False


@pytest.mark.parametrize("action_type", sorted(TYPE_FIELDS))
def test_each_documented_claim_passes_and_needs_each_required_field(
        client, seeded, actors, spec, action_type):
    variant = _variants(spec, "ActionClaim")[action_type]
    citizen = actors.user("citizen")
    claim = recent(variant["example"])
    for index, name in enumerate(variant["required"]):
        without = {k: v for k, v in claim.items() if k != name}
        r = client.post(ACTIONS, json=without,
                        headers={**citizen.headers, "Idempotency-Key": f"missing-{index}"})
        assert_problem(r, 422)
    r = client.post(ACTIONS, json=claim, headers=citizen.headers)
    assert r.status_code == 201, r.json
    assert r.json["action_type"] == action_type


@pytest.mark.parametrize("action_type", sorted(TYPE_FIELDS))
def test_a_field_of_another_action_type_is_refused(client, seeded, actors, spec, action_type):
    variants = _variants(spec, "ActionClaim")
    variant = variants[action_type]
    foreign, example = next((name, other["example"]) for t, other in variants.items()
                            if t != action_type for name in sorted(other["example"])
                            if name in TYPE_FIELDS[t] - TYPE_FIELDS[action_type])
    assert foreign not in variant["properties"]
    claim = {**recent(variant["example"]), foreign: example[foreign]}
    assert_problem(client.post(ACTIONS, json=claim, headers=actors.user("citizen").headers), 422)


def test_household_energy_is_no_claim(client, seeded, actors, spec):
    assert "household_energy" not in _variants(spec, "ActionClaim")
    claim = {"action_type": "household_energy", "occurred_at": dt.datetime.now(UTC).isoformat()}
    assert_problem(client.post(ACTIONS, json=claim, headers=actors.user("citizen").headers), 422)


def _send(client, partner, records):
    body = json.dumps({"records": records}).encode()
    r = client.post(BATCH, data=body, headers=partner.signed(body, timestamp=int(time.time())))
    assert r.status_code == 200, r.json
    return r.json["results"]


@pytest.mark.parametrize("action_type", sorted(TYPE_FIELDS))
def test_each_documented_partner_record_passes_and_needs_each_required_field(
        client, seeded, actors, spec, action_type):
    variant = _variants(spec, "PartnerRecord")[action_type]
    partner, citizen = actors.partner(REPORTER[action_type]), actors.user("citizen")
    record = recent(variant["example"])
    actors.bind(citizen, partner, record["external_ref"])
    assert {"external_id", "external_ref"} <= set(variant["required"])
    broken = [{**{k: v for k, v in record.items() if k != name}, "external_id": f"gap-{name}"}
              for name in variant["required"] if name != "external_id"]
    results = _send(client, partner, broken + [record])
    for result in results[:-1]:
        assert result["status"] == "rejected", result
        assert result["reasons"][0]["code"] in ("validation", "missing_inputs"), result
    assert results[-1]["status"] != "rejected" or results[-1]["reasons"][0]["code"] not in (
        "validation", "missing_inputs"), results[-1]
    assert results[-1]["external_id"] == record["external_id"]
