"""Engagement (docs/engagement.md): admins create and close campaigns; citizens see progress
computed from their credited actions, claim a completed challenge's bonus once (incentive
points, labelled on the statement, capped per citizen and by the budget), check in once a day,
and read their level, badges and streaks. Every refusal changes nothing."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select, update

from carbon_credits.services import leaderboards
from models import AuditEntry, Campaign, CampaignClaim, CheckIn, db
from tests.api.test_actions import ACTIONS, recent, seeded, trip  # noqa: F401
from tests.api.test_insights import walk
from tests.conftest import all_table_counts, assert_problem
from tests.donations_support import verify_ledger
from tests.rewards_support import balance

CAMPAIGNS = "/api/v1/admin/campaigns"
MINE = "/api/v1/me/campaigns"
CHECK_INS = "/api/v1/me/check-ins"
ACHIEVEMENTS = "/api/v1/me/achievements"


def today(app) -> dt.date:
    with app.app_context():
        return leaderboards.scheme_today()


def campaign_body(app, **overrides) -> dict:
    day = today(app)
    body = {"title": "Walk twice", "description": "Two walks this fortnight.", "kind": "count",
            "action_type": "transit", "mode": "walk", "target": 2,
            "starts_on": (day - dt.timedelta(days=7)).isoformat(),
            "ends_on": (day + dt.timedelta(days=7)).isoformat(),
            "bonus_points": 50, "per_citizen_cap": 50, "budget_points": 1000}
    body.update(overrides)
    return body


def create_campaign(client, app, admin, **overrides) -> dict:
    r = client.post(CAMPAIGNS, json=campaign_body(app, **overrides), headers=admin.headers)
    assert r.status_code == 201, r.json
    return r.json


def mine(client, citizen, campaign_id) -> dict:
    r = client.get(MINE, headers=citizen.headers)
    assert r.status_code == 200, r.json
    return next(i for i in r.json["items"] if i["campaign"]["id"] == campaign_id)


def claim(client, citizen, campaign_id, **headers):
    return client.post(f"{MINE}/{campaign_id}/claim", headers={**citizen.headers, **headers})


def walks(client, citizen, days: int) -> None:
    """One credited walk on each of the last `days` scheme days (24 h apart)."""
    for k in range(days):
        walk(client, citizen, 2 + 24 * k)


@pytest.fixture
def admin(actors):
    return actors.user("admin")


@pytest.fixture
def citizen(actors):
    return actors.user("citizen")


def test_admin_creates_lists_and_closes_a_campaign_with_audit_rows(app, client, admin, actors):
    created = create_campaign(client, app, admin)
    assert (created["status"], created["spent_points"], created["claims"]) == ("open", 0, 0)
    auditor = actors.user("auditor")
    listed = client.get(f"{CAMPAIGNS}?status=open", headers=auditor.headers)
    assert [c["id"] for c in listed.json["items"]] == [created["id"]]
    closed = client.post(f"{CAMPAIGNS}/{created['id']}/close", json={"reason": "ended early"},
                         headers=admin.headers)
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    assert closed.json["closed_at"]
    assert_problem(client.post(f"{CAMPAIGNS}/{created['id']}/close", json={"reason": "again"},
                               headers=admin.headers), 409, "campaign_closed")
    assert_problem(client.post(f"{CAMPAIGNS}/{uuid.uuid4()}/close", json={"reason": "none"},
                               headers=admin.headers), 404)
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.object_id == created["id"]).order_by(AuditEntry.created_at)).all()
        db.session.remove()
    assert actions == ["campaign.created", "campaign.closed"]


@pytest.mark.parametrize("overrides", [
    {"title": ""}, {"title": "  "}, {"kind": "lottery"}, {"target": 0}, {"target": 1.5},
    {"target": "2"}, {"target": True}, {"bonus_points": 0}, {"bonus_points": -5},
    {"per_citizen_cap": 10}, {"budget_points": 10}, {"budget_points": 10**16},
    {"starts_on": "2026-02-30"}, {"ends_on": "2020-01-01", "starts_on": "2019-12-01"},
    {"action_type": "teleport"}, {"mode": "rocket"}, {"action_type": None},
    {"kind": "check_in_streak"}, {"unexpected": 1}])
def test_bad_campaign_input_is_422_and_changes_nothing(app, client, admin, overrides):
    before = all_table_counts(app)
    assert_problem(client.post(CAMPAIGNS, json=campaign_body(app, **overrides),
                               headers=admin.headers), 422)
    assert all_table_counts(app) == before


@pytest.mark.parametrize("role", ["citizen", "auditor", "merchant"])
def test_only_admins_create_or_close_campaigns(app, client, actors, admin, role):
    user = actors.one_of_each_role()[role] if role == "merchant" else actors.user(role)
    created = create_campaign(client, app, admin)
    before = all_table_counts(app)
    assert_problem(client.post(CAMPAIGNS, json=campaign_body(app), headers=user.headers), 403)
    assert_problem(client.post(f"{CAMPAIGNS}/{created['id']}/close", json={"reason": "mine"},
                               headers=user.headers), 403)
    assert all_table_counts(app) == before


def test_progress_counts_only_credited_matching_actions(app, client, seeded, admin, citizen):  # noqa: F811
    campaign = create_campaign(client, app, admin)
    walk(client, citizen, 2)
    pending = client.post(ACTIONS, json=trip(recent(5)), headers=citizen.headers)  # metro: review
    assert pending.json["status"] == "pending_review"
    view = mine(client, citizen, campaign["id"])
    assert (view["progress"], view["target"], view["completed"], view["claimable_points"],
            view["claim"]) == (1, 2, False, 0, None)
    before = all_table_counts(app)
    assert_problem(claim(client, citizen, campaign["id"]), 409, "campaign_not_completed")
    assert all_table_counts(app) == before
    walk(client, citizen, 26)
    view = mine(client, citizen, campaign["id"])
    assert (view["progress"], view["completed"], view["claimable_points"]) == (2, True, 50)


def test_a_claim_pays_incentive_points_once_labelled_on_the_statement(app, client, seeded, admin,  # noqa: F811
                                                                      citizen):
    campaign = create_campaign(client, app, admin)
    walks(client, citizen, 2)
    points_before = balance(app, citizen.id)[0]
    r = claim(client, citizen, campaign["id"], **{"Idempotency-Key": "claim-1"})
    assert r.status_code == 201, r.json
    assert (r.json["claim"]["points"], r.json["claim"]["completions"],
            r.json["claimable_points"]) == (50, 1, 0)
    assert balance(app, citizen.id)[0] == points_before + 50
    replay = claim(client, citizen, campaign["id"], **{"Idempotency-Key": "claim-1"})
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    before = all_table_counts(app)
    assert_problem(claim(client, citizen, campaign["id"]), 409, "bonus_already_claimed")
    assert all_table_counts(app) == before and balance(app, citizen.id)[0] == points_before + 50
    entry = client.get("/api/v1/me/ledger", headers=citizen.headers).json["items"][0]
    assert (entry["kind"], entry["reason"], entry["amount"], entry["campaign_id"], entry["id"],
            entry["action_id"]) == ("bonus", "campaign_bonus", 50, campaign["id"],
                                    r.json["claim"]["transfer_id"], None)
    bonus_only = client.get("/api/v1/me/ledger?kind=bonus", headers=citizen.headers).json["items"]
    assert [e["id"] for e in bonus_only] == [entry["id"]]
    spent = client.get(CAMPAIGNS, headers=admin.headers).json["items"][0]
    assert (spent["spent_points"], spent["claims"]) == (50, 1)
    report = verify_ledger(app)
    assert report.ok, report.problems


def test_a_claim_is_capped_per_citizen(app, client, seeded, admin, citizen):  # noqa: F811
    campaign = create_campaign(client, app, admin, target=1, bonus_points=10, per_citizen_cap=25)
    walks(client, citizen, 3)
    assert mine(client, citizen, campaign["id"])["claimable_points"] == 25
    r = claim(client, citizen, campaign["id"])
    assert r.status_code == 201 and (r.json["claim"]["points"], r.json["completions"]) == (25, 3)


def test_the_budget_is_never_overspent(app, client, seeded, actors, admin):  # noqa: F811
    campaign = create_campaign(client, app, admin, target=1, budget_points=50)
    first, second = actors.user("citizen"), actors.user("citizen")
    walks(client, first, 1)
    walks(client, second, 1)
    assert claim(client, first, campaign["id"]).status_code == 201
    before, points = all_table_counts(app), balance(app, second.id)[0]
    assert_problem(claim(client, second, campaign["id"]), 409, "campaign_budget_exhausted")
    assert all_table_counts(app) == before and balance(app, second.id)[0] == points
    with app.app_context():
        row = db.session.get(Campaign, uuid.UUID(campaign["id"]))
        assert (row.spent_points, row.claims) == (50, 1)
        db.session.remove()


def test_a_closed_or_unknown_campaign_takes_no_claims(app, client, seeded, admin, citizen):  # noqa: F811
    campaign = create_campaign(client, app, admin, target=1)
    walks(client, citizen, 1)
    client.post(f"{CAMPAIGNS}/{campaign['id']}/close", json={"reason": "over"}, headers=admin.headers)
    before = all_table_counts(app)
    assert_problem(claim(client, citizen, campaign["id"]), 409, "campaign_closed")
    assert_problem(claim(client, citizen, uuid.uuid4()), 404)
    assert all_table_counts(app) == before
    assert campaign["id"] not in [i["campaign"]["id"] for i in
                                  client.get(MINE, headers=citizen.headers).json["items"]]


def test_an_unverified_citizen_cannot_claim(app, client, seeded, actors, admin):  # noqa: F811
    campaign = create_campaign(client, app, admin, target=1)
    unverified = actors.user("citizen", verified=False)
    before = all_table_counts(app)
    assert_problem(claim(client, unverified, campaign["id"]), 403, "account_unverified")
    assert all_table_counts(app) == before


def test_a_reversed_action_stops_counting(app, client, seeded, actors, admin, citizen):  # noqa: F811
    campaign = create_campaign(client, app, admin)
    first = walk(client, citizen, 2)
    walk(client, citizen, 26)
    assert mine(client, citizen, campaign["id"])["completed"] is True
    auditor = actors.user("auditor")
    r = client.post(f"/api/v1/admin/actions/{first['id']}/reverse", json={"reason": "fake walk"},
                    headers=auditor.headers)
    assert r.status_code == 200, r.json
    view = mine(client, citizen, campaign["id"])
    assert (view["progress"], view["completed"]) == (1, False)
    assert_problem(claim(client, citizen, campaign["id"]), 409, "campaign_not_completed")


def test_a_streak_campaign_needs_consecutive_days(app, client, seeded, admin, citizen):  # noqa: F811
    campaign = create_campaign(client, app, admin, kind="streak", action_type=None, mode=None,
                               target=3)
    walk(client, citizen, 2)
    walk(client, citizen, 2 + 48)  # a gap of a day
    assert mine(client, citizen, campaign["id"])["progress"] == 1
    walk(client, citizen, 2 + 24)
    view = mine(client, citizen, campaign["id"])
    assert (view["progress"], view["completed"]) == (3, True)


def test_a_check_in_counts_once_a_day_and_earns_nothing(app, client, admin, citizen):
    campaign = create_campaign(client, app, admin, kind="check_in_streak", action_type=None,
                               mode=None, target=1)
    first = client.post(CHECK_INS, headers=citizen.headers)
    assert first.status_code == 201, first.json
    assert (first.json["created"], first.json["current_streak"], first.json["day"]) == \
        (True, 1, today(app).isoformat())
    before = all_table_counts(app)
    again = client.post(CHECK_INS, headers=citizen.headers)
    assert again.status_code == 200 and again.json["created"] is False
    assert all_table_counts(app) == before
    assert balance(app, citizen.id)[0] == 0  # a check-in alone earns nothing
    view = mine(client, citizen, campaign["id"])
    assert (view["progress"], view["completed"], view["claimable_points"]) == (1, True, 50)
    assert claim(client, citizen, campaign["id"]).status_code == 201
    assert balance(app, citizen.id)[0] == 50


def test_check_in_streaks_from_earlier_days(app, client, citizen):
    with app.app_context():
        day = leaderboards.scheme_today()
        db.session.add_all([CheckIn(user_id=citizen.id, day=day - dt.timedelta(days=k))
                            for k in (1, 2, 4)])
        db.session.commit()
        db.session.remove()
    r = client.post(CHECK_INS, headers=citizen.headers)
    assert (r.json["current_streak"], r.json["longest_streak"]) == (3, 3)
    a = client.get(ACHIEVEMENTS, headers=citizen.headers).json
    assert a["check_in_streak"] == {"current": 3, "longest": 3} and a["checked_in_today"] is True


def test_achievements_come_from_credited_actions(app, client, seeded, citizen):  # noqa: F811
    empty = client.get(ACHIEVEMENTS, headers=citizen.headers)
    assert empty.status_code == 200, empty.json
    assert empty.json["level"] == {"level": 1, "name": "seedling", "next_level_at_g": "1000.000"}
    assert not any(b["earned"] for b in empty.json["badges"])
    walks(client, citizen, 2)
    a = client.get(ACHIEVEMENTS, headers=citizen.headers).json
    earned = {b["code"] for b in a["badges"] if b["earned"]}
    assert "first_action" in earned and "metro_10" not in earned
    assert a["credited_actions"] == 2 and a["action_streak"] == {"current": 2, "longest": 2}
    assert a["lifetime_reduction_g"] != "0.000"


def test_engagement_paths_need_a_citizen(client, actors):
    merchant = actors.one_of_each_role()["merchant"]
    for method, path in (("get", MINE), ("post", CHECK_INS), ("get", ACHIEVEMENTS),
                         ("get", "/api/v1/leaderboard/me")):
        assert_problem(getattr(client, method)(path, headers=merchant.headers), 403)
        assert_problem(getattr(client, method)(path), 401)


def test_ledger_verify_catches_a_claim_that_disagrees_with_its_bonus(app, client, seeded, admin,  # noqa: F811
                                                                     citizen):
    campaign = create_campaign(client, app, admin, target=1)
    walks(client, citizen, 1)
    assert claim(client, citizen, campaign["id"]).status_code == 201
    for table, change in ((CampaignClaim, {"points": 49}), (Campaign, {"spent_points": 40})):
        with app.app_context():
            db.session.execute(update(table).values(**change))
            db.session.commit()
            db.session.remove()
        report = verify_ledger(app)
        assert not report.ok and any("campaign" in p for p in report.problems), report.problems
        with app.app_context():  # put it back: every test ends with the invariants holding
            db.session.execute(update(table).values(**{k: 50 for k in change}))
            db.session.commit()
            db.session.remove()
    assert verify_ledger(app).ok
