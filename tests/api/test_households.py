"""Household energy saving (issue 15, item 1) over HTTP: households and their members, utility
accounts bound for a household, monthly readings credited against the methodology's baseline
and split among the members. The worked examples are those of docs/households.md.

Holes closed, each reproduced: a month credited twice (resent under a new record id), an empty
home credited as a saving (the S_max cap), an estimated month used as a baseline or credited,
a month credited before it ended, a stranger joining a household without the holder's code, a
citizen collecting shares of two homes."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from models import Action, HouseholdMember, LedgerTransfer, MeterReading
from tests.conftest import all_table_counts, assert_problem, table_counts
from tests.households_support import (add_member, approve, balance, bind_account,
                                      create_household, long_claim_window, make_home, month,
                                      reading, send)  # noqa: F401

pytestmark = pytest.mark.usefixtures("long_claim_window")


@pytest.fixture
def seeded(app):
    from carbon_credits.services.methodologies import seed_methodologies
    with app.app_context():
        seed_methodologies()


@pytest.fixture
def home(client, app, actors):
    return make_home(client, app, actors)


def results(r) -> list[tuple]:
    assert r.status_code == 200, r.json
    return [(x["status"], x["reduction_g"], x["points"]) for x in r.json["results"]]


# --- the worked examples -------------------------------------------------------------------

def test_a_saving_against_last_year_is_split_equally(client, app, home):
    r = send(client, home.utility, [reading("r-base", month(-12), 230),
                                    reading("r-now", month(0), 200)])
    assert results(r) == [("history", None, 0), ("credited", "16500.000", 16500)]
    assert r.json["results"][1]["members"] == 2
    assert balance(app, home.holder.id) == balance(app, home.member.id) == 8250
    actions = client.get("/api/v1/actions", headers=home.member.headers).json["items"]
    (action,) = actions
    assert action["action_type"] == "household_energy" and action["utility"] == "electricity"
    assert action["reduction_g"] == "8250.000" and action["points"] == 8250
    assert action["methodology"] == {"code": "HOUSEHOLD-ELECTRICITY-EC", "version": 1}
    steps = {s["name"]: s for s in action["breakdown"]}
    assert steps["EF_grid"]["canonical_value"] == "550.0000"
    assert steps["baseline"]["value"] == "230" and steps["baseline"]["basis"] == (
        f"same_month_last_year: mean of {month(-12)}")
    assert steps["saving_credited"]["value"] == "30"
    assert steps["reduction_g"]["value"] == "16500.000"
    assert steps["member_share"]["value"] == "8250.000"
    assert action["inputs"]["share"] == "1/2" and action["inputs"]["period"] == month(0)


def test_a_month_above_its_baseline_earns_nothing_and_owes_nothing(client, app, home):
    r = send(client, home.utility, [reading("r-base", month(-12), 230),
                                    reading("r-now", month(0), 260.5)])
    assert results(r) == [("history", None, 0), ("credited", "0.000", 0)]
    assert balance(app, home.holder.id) == balance(app, home.member.id) == 0
    assert table_counts(app, Action)["actions"] == 0


def test_a_missing_reading_gives_no_baseline_and_no_credit(client, app, home):
    r = send(client, home.utility, [reading("r-now", month(0), 200)])
    assert results(r) == [("rejected", None, 0)]
    assert r.json["results"][0]["reasons"][0]["code"] == "baseline_unavailable"
    # The month is settled as it was reported: a late baseline does not reopen it.
    send(client, home.utility, [reading("r-base", month(-12), 230)])
    again = send(client, home.utility, [reading("r-now-2", month(0), 200)])
    assert results(again) == [("duplicate", None, 0)]
    assert balance(app, home.holder.id) == 0


def test_estimated_months_are_neither_a_baseline_nor_credited(client, app, home):
    r = send(client, home.utility, [reading("r-base", month(-12), 230, estimated=True),
                                    reading("r-now", month(0), 200)])
    assert [x["reasons"][0]["code"] for x in r.json["results"]] == ["history",
                                                                    "baseline_unavailable"]
    r = send(client, home.utility, [reading("w-base", month(-13), 230),
                                    reading("w-now", month(-1), 100, estimated=True)])
    assert r.json["results"][1]["status"] == "rejected"
    assert r.json["results"][1]["reasons"][0]["code"] == "estimated_reading"
    assert balance(app, home.holder.id) == 0


def test_an_empty_home_is_capped_at_thirty_percent_of_its_baseline(client, app, home):
    r = send(client, home.utility, [reading("r-base", month(-12), 230),
                                    reading("r-now", month(0), 20)])
    # saving 210 kWh, capped at 0.30 × 230 = 69 kWh: 69 × 550 g.
    assert results(r)[1] == ("credited", "37950.000", 37950)


def test_shares_split_in_whole_milligrams_that_add_up(client, app, home, actors):
    third = actors.user("citizen")
    add_member(client, home.holder, third, home.id)
    r = client.put(f"/api/v1/me/households/{home.id}/split",
                   json={"rule": "shares", "shares": {str(home.holder.id): 2,
                                                      str(home.member.id): 1,
                                                      str(third.id): 1}},
                   headers=home.holder.headers)
    assert r.status_code == 200, r.json
    send(client, home.utility, [reading("r-base", month(-12), 230.001),
                                reading("r-now", month(0), 200)])
    # (230.001 − 200) × 550 = 16500.550 g = 16,500,550 mg over 2:1:1.
    got = [balance(app, u.id) for u in (home.holder, home.member, third)]
    assert got == [8250, 4125, 4125]
    with app.app_context():
        from models import db
        mg = db.session.scalars(select(Action.reduction_mg).order_by(Action.reduction_mg)).all()
    assert sorted(mg) == [4125137, 4125138, 8250275] and sum(mg) == 16500550


def test_water_uses_the_trailing_average_of_its_own_meter(client, app, home):
    approve(client, home.admin, home.auditor, "HOUSEHOLD-WATER")
    r = send(client, home.utility, [
        reading("w-3", month(-3), 12, utility="water"),
        reading("w-2", month(-2), 11, utility="water"),
        reading("w-1", month(-1), 13, utility="water"),
        reading("w-0", month(0), 10, utility="water")])
    # baseline (12 + 11 + 13) / 3 = 12 m³; saving 2 m³ × 332 g.
    assert results(r)[3] == ("credited", "664.000", 664)


# --- what is refused -------------------------------------------------------------------------

def test_new_occupants_never_inherit_the_previous_households_baseline(client, app, home, actors):
    """A big family's year-old month is no baseline for the single tenant who moved in."""
    send(client, home.utility, [reading("r-base", month(-12), 500)])
    tenant = actors.user("citizen")
    flat = create_household(client, tenant, "Flat")
    bind_account(client, tenant, home.utility, flat)  # the utility confirms: a changeover
    with app.app_context():
        from models import Binding, db
        from carbon_credits.services.households.readings import month_instant
        from carbon_credits.domain import metering
        # As if the tenant had moved in before last month began.
        moved_in = month_instant(metering.add_months(metering.parse_period(month(0)), -1),
                                 "Asia/Shanghai")
        old, new = sorted(db.session.scalars(select(Binding)), key=lambda b: b.created_at)
        old.ended_at, new.covers_from = moved_in, moved_in
        db.session.commit()
    r = send(client, home.utility, [reading("r-now", month(0), 100)])
    assert r.json["results"][0]["reasons"][0]["code"] == "baseline_unavailable"
    assert balance(app, tenant.id) == balance(app, home.holder.id) == 0


def test_months_beyond_the_consented_history_are_refused(client, app, home):
    r = send(client, home.utility, [reading("r-old", month(-30), 230)])
    assert r.json["results"][0]["reasons"][0]["code"] == "period_too_old"
    assert table_counts(app, MeterReading)["meter_readings"] == 0

def test_the_same_month_is_never_credited_twice(client, app, home):
    send(client, home.utility, [reading("r-base", month(-12), 230),
                                reading("r-now", month(0), 200)])
    r = send(client, home.utility, [reading("r-now", month(0), 200),
                                    reading("r-now-again", month(0), 100)])
    assert [x["status"] for x in r.json["results"]] == ["duplicate", "duplicate"]
    assert balance(app, home.holder.id) == 8250


def test_a_month_not_over_is_refused_and_not_stored(client, app, home):
    r = send(client, home.utility, [reading("r-next", month(1), 200)])
    assert r.json["results"][0]["reasons"][0]["code"] == "period_not_ended"
    assert table_counts(app, MeterReading)["meter_readings"] == 0


def test_an_unbound_account_and_a_foreign_partner_credit_nothing(client, app, home, actors):
    r = send(client, home.utility, [reading("r-x", month(0), 200, account="ACC-OTHER")])
    assert r.json["results"][0]["status"] == "unbound"
    transit = actors.partner("transit_operator")
    r = send(client, transit, [reading("r-y", month(0), 200)])
    assert r.json["results"][0]["reasons"][0]["code"] == "scope_not_allowed"
    assert table_counts(app, MeterReading)["meter_readings"] == 0


@pytest.mark.parametrize("change, field", [
    ({"period": "2026-13"}, "period"), ({"period": "2026-1"}, "period"),
    ({"period": 202611}, "period"), ({"consumption": -1}, "consumption"),
    ({"consumption": 1.0005}, "consumption"), ({"consumption": "12"}, "consumption"), ({"consumption": "abc"}, "consumption"),
    ({"consumption": True}, "consumption"), ({"estimated": "no"}, "estimated"),
    ({"utility": "gas"}, "utility"), ({"external_id": ""}, "external_id"),
])
def test_malformed_readings_are_rejected_and_change_nothing(client, app, home, change, field):
    before = all_table_counts(app)
    before.pop("seen_signatures", None)
    r = send(client, home.utility, [{**reading("r-bad", month(0), 200), **change}])
    (result,) = r.json["results"]
    assert result["status"] == "rejected" and result["reasons"][0]["code"] == "validation"
    assert field in result["reasons"][0]["errors"]
    after = all_table_counts(app)
    after.pop("seen_signatures", None)
    assert {k: v for k, v in after.items() if k != "idempotency_records"} == \
        {k: v for k, v in before.items() if k != "idempotency_records"}


def test_ledger_verify_accepts_members_credited_through_the_holders_binding(client, app, home):
    send(client, home.utility, [reading("r-base", month(-12), 230),
                                reading("r-now", month(0), 200)])
    with app.app_context():
        from carbon_credits.services.verify import verify_all
        assert verify_all() == []


# --- membership ------------------------------------------------------------------------------

def test_joining_needs_the_holders_code_once(client, app, home, actors):
    stranger = actors.user("citizen")
    before = table_counts(app, HouseholdMember)
    r = client.post(f"/api/v1/me/households/{home.id}/members", json={"code": "ABCD2345"},
                    headers=stranger.headers)
    assert_problem(r, 422, "invitation_invalid")
    assert table_counts(app, HouseholdMember) == before
    code = client.post(f"/api/v1/me/households/{home.id}/invitations",
                       headers=home.holder.headers).json["code"]
    r = client.post(f"/api/v1/me/households/{home.id}/invitations", headers=home.member.headers)
    assert_problem(r, 403, "not_household_holder")
    assert client.post(f"/api/v1/me/households/{home.id}/members", json={"code": code},
                       headers=stranger.headers).status_code == 201
    other = actors.user("citizen")
    r = client.post(f"/api/v1/me/households/{home.id}/members", json={"code": code},
                    headers=other.headers)
    assert_problem(r, 422, "invitation_invalid")


def test_one_household_at_a_time_and_the_holder_leaves_last(client, app, home):
    r = client.post("/api/v1/me/households", json={"name": "Second home"},
                    headers=home.member.headers)
    assert_problem(r, 409, "already_in_household")
    r = client.delete(f"/api/v1/me/households/{home.id}/members/me", headers=home.holder.headers)
    assert_problem(r, 409, "holder_leaves_last")
    r = client.delete(f"/api/v1/me/households/{home.id}/members/me", headers=home.member.headers)
    assert r.status_code == 204
    assert client.post("/api/v1/me/households", json={"name": "My own"},
                       headers=home.member.headers).status_code == 201


def test_a_member_who_left_gets_no_share_of_a_later_reading(client, app, home):
    client.delete(f"/api/v1/me/households/{home.id}/members/me", headers=home.member.headers)
    send(client, home.utility, [reading("r-base", month(-12), 230),
                                reading("r-now", month(0), 200)])
    assert balance(app, home.member.id) == 0
    assert balance(app, home.holder.id) == 16500
    with app.app_context():
        from models import db
        assert db.session.scalar(select(func.count()).select_from(LedgerTransfer)) == 1


def test_others_cannot_read_a_households_readings(client, app, home, actors):
    stranger = actors.user("citizen")
    r = client.get(f"/api/v1/me/households/{home.id}/readings", headers=stranger.headers)
    assert_problem(r, 404)
    send(client, home.utility, [reading("r-base", month(-12), 230)])
    items = client.get(f"/api/v1/me/households/{home.id}/readings",
                       headers=home.member.headers).json["items"]
    assert [(i["period"], i["consumption"], i["status"]) for i in items] == [
        (month(-12), "230.000", "history")]


@pytest.mark.parametrize("body, field", [
    ({}, "household_id"), ({"household_id": "00000000-0000-0000-0000-000000000001"},
                           "household_id")])
def test_a_utility_account_is_bound_for_ones_own_household(client, app, home, body, field):
    before = all_table_counts(app)
    r = client.post("/api/v1/me/bindings", json={"partner_id": str(home.utility.id),
                                                 "external_ref": "ACC-9", **body},
                    headers=home.member.headers)
    assert_problem(r, 422)
    assert field in r.json["errors"]
    assert all_table_counts(app) == before


def test_a_household_is_bound_only_to_a_utility(client, app, home, actors):
    transit = actors.partner("transit_operator")
    r = client.post("/api/v1/me/bindings", json={"partner_id": str(transit.id),
                                                 "external_ref": "CARD-1",
                                                 "household_id": home.id},
                    headers=home.holder.headers)
    assert_problem(r, 422)
    assert "household_id" in r.json["errors"]
