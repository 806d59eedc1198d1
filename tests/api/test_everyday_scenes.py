"""Everyday scenes (issue 15, item 2): the `per_event` family, `merchant_pos` partners and the
four seeded scene drafts, end to end over HTTP.

Holes this closes, each reproduced here: a till reporting more bags than a citizen could use
in a day (the daily count cap), a transit operator or a till reporting outside its scope, a
citizen claiming an unverifiable scene from the app, and a version whose daily cap disagrees
with its count cap."""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from models import Action, DailyCredit, LedgerTransfer
from tests.conftest import all_table_counts, assert_problem, table_counts

ADMIN = "/api/v1/admin/methodologies"
BATCH = "/api/v1/partner/actions"
UTC = dt.timezone.utc
SCENE_CODES = {"no_cutlery": "EVERYDAY-NO-CUTLERY", "own_bag": "EVERYDAY-OWN-BAG",
               "e_receipt": "EVERYDAY-E-RECEIPT", "clothing_kiosk": "EVERYDAY-CLOTHING-KIOSK"}


@pytest.fixture
def seeded(app):
    from carbon_credits.services.methodologies import seed_methodologies
    with app.app_context():
        seed_methodologies()


@pytest.fixture
def team(actors):
    class Team:
        admin = actors.user("admin")
        auditor = actors.user("auditor")
        citizen = actors.user("citizen")
    return Team


def approve(client, team, code: str) -> dict:
    """A seeded draft through four-eyes: submitted by an admin, approved by an auditor."""
    r = client.post(f"{ADMIN}/{code}/versions/1/submit", headers=team.admin.headers)
    assert r.status_code == 200, r.json
    r = client.post(f"{ADMIN}/{code}/versions/1/approve", headers=team.auditor.headers)
    assert r.status_code == 200, r.json
    return r.json


def record(external_id: str, scene: str = "own_bag", events: int = 1, ref: str = "MEMBER-1",
           hours: int = 1) -> dict:
    at = (dt.datetime.now(UTC) - dt.timedelta(hours=hours)).replace(microsecond=0)
    return {"action_type": "everyday", "scene": scene, "events": events,
            "occurred_at": at.isoformat(), "station_id": "SHOP-7",
            "external_id": external_id, "external_ref": ref}


def send(client, partner, records, *, seconds_ago: int = 0):
    body = json.dumps({"records": records}).encode()
    return client.post(BATCH, data=body,
                       headers=partner.signed(body, timestamp=int(time.time()) - seconds_ago))


def balance(app, user_id) -> int:
    from carbon_credits.services import ledger
    with app.app_context():
        return ledger.get_balance(user_id=user_id).available


# --- the seeded drafts -----------------------------------------------------------------------

def test_four_scene_drafts_are_seeded_with_sources_and_count_caps(client, seeded, team):
    expected_caps = {"EVERYDAY-NO-CUTLERY": "69.000", "EVERYDAY-OWN-BAG": "15.000",
                     "EVERYDAY-E-RECEIPT": "5.000", "EVERYDAY-CLOTHING-KIOSK": "7200.000"}
    for scene, code in SCENE_CODES.items():
        r = client.get(f"{ADMIN}/{code}", headers=team.auditor.headers)
        assert r.status_code == 200, r.json
        assert r.json["action_type"] == "everyday" and r.json["scene"] == scene
        assert r.json["mode"] is None
        (version,) = r.json["versions"]
        assert version["status"] == "draft" and version["family"] == "per_event"
        assert version["daily_cap_g"] == expected_caps[code]
        assert version["applicability"]["self_report"] == "refused"
        assert version["applicability"]["max_events_per_day"] >= 1
        for parameter in version["parameters"]:
            assert parameter["source"] and parameter["source_status"]
    receipt = client.get(f"{ADMIN}/EVERYDAY-E-RECEIPT", headers=team.auditor.headers).json
    assert receipt["versions"][0]["parameters"][0]["source_status"] == "scheme_design_choice"


def test_drafts_credit_nothing_until_approved(client, app, seeded, actors):
    partner = actors.partner("merchant_pos")
    citizen = actors.user("citizen")
    actors.bind(citizen, partner, "MEMBER-1")
    r = send(client, partner, [record("till-1")])
    assert r.status_code == 200
    (result,) = r.json["results"]
    assert result["status"] == "rejected" and result["points"] == 0
    assert balance(app, citizen.id) == 0


# --- a till's records --------------------------------------------------------------------------

def test_till_credits_own_bag_purchases_up_to_the_daily_count_cap(client, app, seeded, team,
                                                                  actors):
    approve(client, team, "EVERYDAY-OWN-BAG")
    partner = actors.partner("merchant_pos")
    actors.bind(team.citizen, partner, "MEMBER-1")
    r = send(client, partner, [record(f"till-{i}", hours=1) for i in range(4)])
    assert r.status_code == 200, r.json
    results = r.json["results"]
    assert [x["status"] for x in results] == ["credited"] * 4
    assert [x["reduction_g"] for x in results] == ["5.000"] * 4
    # 3 purchases a day: the fourth is recorded, its reduction kept, nothing credited.
    assert [x["points"] for x in results] == [5, 5, 5, 0]
    assert results[3]["reasons"][0]["code"] == "daily_cap_reached"
    assert balance(app, team.citizen.id) == 15
    # Resending the batch is harmless.
    again = send(client, partner, [record(f"till-{i}", hours=1) for i in range(4)], seconds_ago=1)
    assert [x["status"] for x in again.json["results"]] == ["duplicate"] * 4
    assert balance(app, team.citizen.id) == 15


def test_the_action_shows_its_scene_and_breakdown(client, app, seeded, team, actors):
    approve(client, team, "EVERYDAY-CLOTHING-KIOSK")
    partner = actors.partner("merchant_pos")
    actors.bind(team.citizen, partner, "MEMBER-1")
    r = send(client, partner, [record("kiosk-1", scene="clothing_kiosk")])
    action_id = r.json["results"][0]["action_id"]
    view = client.get(f"/api/v1/actions/{action_id}", headers=team.citizen.headers).json
    assert view["action_type"] == "everyday" and view["scene"] == "clothing_kiosk"
    assert view["mode"] is None and view["inputs"]["scene"] == "clothing_kiosk"
    assert view["methodology"] == {"code": "EVERYDAY-CLOTHING-KIOSK", "version": 1}
    steps = {s["name"]: s["value"] for s in view["breakdown"]}
    assert steps["EF_kg"] == "3.6" and steps["M_event"] == "1" and steps["events"] == "1"
    assert steps["ER_event"] == "3600.0" and steps["reduction_g"] == "3600.000"
    assert view["points"] == 3600


def test_more_events_in_one_record_than_the_version_allows_is_rejected(client, app, seeded,
                                                                       team, actors):
    approve(client, team, "EVERYDAY-NO-CUTLERY")
    partner = actors.partner("merchant_pos")
    actors.bind(team.citizen, partner, "MEMBER-1")
    r = send(client, partner, [record("order-1", scene="no_cutlery", events=5)])
    (result,) = r.json["results"]
    assert result["status"] == "rejected"
    assert [x["code"] for x in result["reasons"]] == ["events_out_of_bounds"]
    assert balance(app, team.citizen.id) == 0


def test_partners_report_only_their_scopes(client, app, seeded, team, actors):
    approve(client, team, "EVERYDAY-OWN-BAG")
    approve(client, team, "EVERYDAY-E-RECEIPT")
    transit = actors.partner("transit_operator")
    actors.bind(team.citizen, transit, "CARD-1")
    r = send(client, transit, [record("bag-1", ref="CARD-1")])
    assert r.json["results"][0]["status"] == "rejected"
    assert r.json["results"][0]["reasons"][0]["code"] == "scope_not_allowed"
    till = actors.partner("merchant_pos")
    r = client.patch(f"/api/v1/admin/partners/{till.id}",
                     json={"scopes": [{"action_type": "everyday", "scenes": ["own_bag"]}]},
                     headers=team.admin.headers)
    assert r.status_code == 200, r.json
    assert r.json["scopes"] == [{"action_type": "everyday", "scenes": ["own_bag"]}]
    actors.bind(team.citizen, till, "MEMBER-1")
    r = send(client, till, [record("receipt-1", scene="e_receipt"), record("bag-2")])
    assert [x["status"] for x in r.json["results"]] == ["rejected", "credited"]
    assert r.json["results"][0]["reasons"][0]["code"] == "scope_not_allowed"
    metro = {"action_type": "transit", "mode": "metro", "distance_km": 5,
             "started_at": "2026-01-01T08:00:00+08:00", "ended_at": "2026-01-01T08:20:00+08:00",
             "external_id": "metro-1", "external_ref": "MEMBER-1"}
    r = send(client, till, [metro])
    assert r.json["results"][0]["reasons"][0]["code"] == "scope_not_allowed"
    assert balance(app, team.citizen.id) == 5


@pytest.mark.parametrize("scopes, field", [
    ([{"action_type": "everyday", "modes": ["own_bag"]}], "scopes.0.modes"),
    ([{"action_type": "transit", "scenes": ["own_bag"]}], "scopes.0.scenes"),
    ([{"action_type": "everyday", "scenes": []}], "scopes.0.scenes"),
    ([{"action_type": "everyday", "scenes": ["own_bag", "own_bag"]}], "scopes.0.scenes"),
    ([{"action_type": "everyday", "scenes": ["clean_plate"]}], "scopes.0.scenes.0"),
])
def test_bad_scene_scopes_are_422_and_change_nothing(client, app, team, actors, scopes, field):
    till = actors.partner("merchant_pos")
    before = all_table_counts(app)
    r = client.patch(f"/api/v1/admin/partners/{till.id}", json={"scopes": scopes},
                     headers=team.admin.headers)
    assert_problem(r, 422)
    assert any(key.startswith(field) for key in r.json["errors"]), r.json
    assert all_table_counts(app) == before


# --- the app channel -------------------------------------------------------------------------

def test_a_citizen_cannot_claim_a_till_scene_from_the_app(client, app, seeded, team):
    approve(client, team, "EVERYDAY-OWN-BAG")
    body = {"action_type": "everyday", "scene": "own_bag", "events": 1,
            "occurred_at": (dt.datetime.now(UTC) - dt.timedelta(hours=1)).isoformat()}
    r = client.post("/api/v1/actions", json=body, headers=team.citizen.headers)
    assert r.status_code == 201, r.json
    assert r.json["status"] == "rejected" and r.json["points"] == 0
    assert [x["code"] for x in r.json["reasons"]] == ["self_report_refused"]
    assert balance(app, team.citizen.id) == 0


@pytest.mark.parametrize("body, field", [
    ({"action_type": "everyday", "events": 1}, "scene"),
    ({"action_type": "everyday", "scene": "clean_plate", "events": 1}, "scene"),
    ({"action_type": "everyday", "scene": "own_bag", "events": 0}, "events"),
    ({"action_type": "everyday", "scene": "own_bag", "events": 101}, "events"),
    ({"action_type": "everyday", "scene": "own_bag", "events": "1"}, "events"),
    ({"action_type": "everyday", "scene": "own_bag", "events": 1.5}, "events"),
    ({"action_type": "everyday", "scene": "own_bag", "events": 1, "mode": "metro"}, "mode"),
    ({"action_type": "everyday", "scene": "own_bag", "events": 1, "weight_kg": 1}, "weight_kg"),
    ({"action_type": "transit", "mode": "metro", "scene": "own_bag", "distance_km": 1,
      "started_at": "2026-01-01T08:00:00+08:00", "ended_at": "2026-01-01T08:20:00+08:00"},
     "scene"),
    ({"action_type": "waste_sorting", "category": "metal", "weight_kg": 1, "events": 2,
      "station_id": "B1"}, "events"),
])
def test_malformed_everyday_claims_are_422_and_change_nothing(client, app, seeded, team, body,
                                                              field):
    body = {"occurred_at": (dt.datetime.now(UTC) - dt.timedelta(hours=1)).isoformat(), **body}
    before = table_counts(app, Action, DailyCredit, LedgerTransfer)
    r = client.post("/api/v1/actions", json=body, headers=team.citizen.headers)
    assert_problem(r, 422)
    assert field in r.json["errors"], r.json
    assert table_counts(app, Action, DailyCredit, LedgerTransfer) == before


# --- authoring -------------------------------------------------------------------------------

PER_EVENT = {"family": "per_event",
             "parameters": [{"name": "EF_event", "value": 449, "unit": "gCO2e/event",
                             "source": "北京绿色生活季 减排手册 (2023), clean plate ≥449 g",
                             "source_status": "press"}],
             "applicability": {"max_events_per_day": 2, "self_report": "refused"},
             "effective_from": "2030-01-01T00:00:00+08:00"}


def test_a_new_scene_methodology_is_created_with_scene_and_its_cap_derived(client, team):
    r = client.post(ADMIN, json={"code": "CITY-TAKEAWAY", "title": "Takeaway",
                                 "action_type": "everyday", "scene": "no_cutlery"},
                    headers=team.admin.headers)
    assert r.status_code == 201, r.json
    assert r.json["scene"] == "no_cutlery" and r.json["mode"] is None
    r = client.post(f"{ADMIN}/CITY-TAKEAWAY/versions", json=PER_EVENT, headers=team.admin.headers)
    assert r.status_code == 201, r.json
    assert r.json["daily_cap_g"] == "898.000"


@pytest.mark.parametrize("body, field", [
    ({"action_type": "everyday"}, "scene"),
    ({"action_type": "everyday", "mode": "metro"}, "scene"),
    ({"action_type": "everyday", "mode": "bus", "scene": "own_bag"}, "scene"),
    ({"action_type": "transit", "scene": "own_bag"}, "mode"),
    ({"action_type": "ev_charging", "scene": "own_bag"}, "mode"),
])
def test_bad_scene_methodology_scopes_are_422(client, app, team, body, field):
    before = all_table_counts(app)
    r = client.post(ADMIN, json={"code": "CITY-X", "title": "x", **body},
                    headers=team.admin.headers)
    assert_problem(r, 422)
    assert field in r.json["errors"], r.json
    assert all_table_counts(app) == before


@pytest.mark.parametrize("change, field", [
    ({"applicability": {"self_report": "refused"}}, "applicability"),
    ({"applicability": {"max_events_per_day": 0}}, "applicability.max_events_per_day"),
    ({"applicability": {"max_events_per_day": True}}, "applicability.max_events_per_day"),
    ({"applicability": {"max_events_per_day": "3"}}, "applicability.max_events_per_day"),
    ({"daily_cap_g": "900"}, "daily_cap_g"),
    ({"parameters": [{**PER_EVENT["parameters"][0], "value": 0.0005}]}, "parameters"),
    ({"parameters": [{**PER_EVENT["parameters"][0], "unit": "gCO2e/kg"}]}, "parameters"),
    ({"family": "recyclables"}, "family"),
])
def test_bad_per_event_versions_are_422(client, app, team, change, field):
    client.post(ADMIN, json={"code": "CITY-TAKEAWAY", "title": "Takeaway",
                             "action_type": "everyday", "scene": "no_cutlery"},
                headers=team.admin.headers)
    before = all_table_counts(app)
    r = client.post(f"{ADMIN}/CITY-TAKEAWAY/versions", json={**PER_EVENT, **change},
                    headers=team.admin.headers)
    assert_problem(r, 422)
    assert field in r.json["errors"], r.json
    assert all_table_counts(app) == before


def test_other_families_refuse_a_count_cap(client, app, team):
    client.post(ADMIN, json={"code": "CITY-METRO", "title": "m", "action_type": "transit",
                             "mode": "metro"}, headers=team.admin.headers)
    body = {"family": "transit_distance",
            "parameters": [{"name": "RF", "value": 97, "unit": "gCO2/km", "source": "s",
                            "source_status": "press"}],
            "applicability": {"max_events_per_day": 3}}
    r = client.post(f"{ADMIN}/CITY-METRO/versions", json=body, headers=team.admin.headers)
    assert_problem(r, 422)
    assert "applicability" in r.json["errors"]
