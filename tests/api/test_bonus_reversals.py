"""A campaign bonus is taken back when actions behind it are reversed, and no citizen is paid
more bonus in a scheme month than `BONUS_MONTHLY_CAP_POINTS` across every campaign
(docs/engagement.md, "Reversals take the bonus back" and "The monthly bonus cap").

The exploit these close: report fake walks, claim the challenge's bonus, and keep it after the
walks are found out and reversed; or farm many small campaigns at once."""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest
from sqlalchemy import update

from carbon_credits.services import ledger
from carbon_credits.services.engagement import progress as progress_service
from models import CampaignClaim, db, utcnow
from tests.api.test_actions import seeded  # noqa: F401
from tests.api.test_engagement import claim, create_campaign, mine, walks
from tests.api.test_insights import walk
from tests.conftest import all_table_counts, assert_problem
from tests.donations_support import verify_ledger
from tests.rewards_support import balance
from tests.webhooks_support import receiver  # noqa: F401


@pytest.fixture
def admin(actors):
    return actors.user("admin")


@pytest.fixture
def citizen(actors):
    return actors.user("citizen")


@pytest.fixture
def auditor(actors):
    return actors.user("auditor")


def reverse(client, auditor, action_id: str) -> dict:
    r = client.post(f"/api/v1/admin/actions/{action_id}/reverse", json={"reason": "fake walk"},
                    headers=auditor.headers)
    assert r.status_code == 200, r.json
    return r.json


def statement(client, citizen, kind: str) -> list[dict]:
    return client.get(f"/api/v1/me/ledger?kind={kind}", headers=citizen.headers).json["items"]


def test_reversing_the_walks_behind_a_bonus_takes_the_bonus_back(app, client, seeded, admin,  # noqa: F811
                                                                 citizen, auditor):
    campaign = create_campaign(client, app, admin)  # two walks pay 50
    first, second = walk(client, citizen, 2), walk(client, citizen, 26)
    assert claim(client, citizen, campaign["id"]).status_code == 201
    points = balance(app, citizen.id)[0]
    reverse(client, auditor, first["id"])
    # The walk's own points and the whole bonus: one walk no longer completes the challenge.
    assert balance(app, citizen.id)[0] == points - first["points"] - 50
    (entry,) = statement(client, citizen, "bonus_reversal")
    assert (entry["amount"], entry["reason"], entry["campaign_id"], entry["action_id"]) == (
        -50, "campaign_bonus_reversed", campaign["id"], first["id"])
    view = mine(client, citizen, campaign["id"])
    assert (view["claim"]["points"], view["claim"]["clawed_back_points"],
            view["claim"]["shortfall_points"]) == (50, 50, 0)
    # A second reversal has nothing left to take back.
    reverse(client, auditor, second["id"])
    assert len(statement(client, citizen, "bonus_reversal")) == 1
    assert mine(client, citizen, campaign["id"])["claim"]["clawed_back_points"] == 50
    report = verify_ledger(app)
    assert report.ok, report.problems


def test_only_what_the_remaining_actions_no_longer_earn_is_taken_back(app, client, seeded,  # noqa: F811
                                                                      admin, citizen, auditor):
    campaign = create_campaign(client, app, admin, target=1, bonus_points=10,
                               per_citizen_cap=25)
    done = [walk(client, citizen, 2 + 24 * k) for k in range(3)]
    assert claim(client, citizen, campaign["id"]).json["claim"]["points"] == 25  # 30, capped
    reverse(client, auditor, done[0]["id"])   # two walks still earn 20: 5 back
    reverse(client, auditor, done[1]["id"])   # one walk earns 10: 10 more back
    assert [e["amount"] for e in statement(client, citizen, "bonus_reversal")] == [-10, -5]
    assert mine(client, citizen, campaign["id"])["claim"]["clawed_back_points"] == 15
    assert verify_ledger(app).ok


def test_a_spent_bonus_is_recorded_as_shortfall(app, client, seeded, admin, citizen,  # noqa: F811
                                                auditor):
    campaign = create_campaign(client, app, admin)
    first = walk(client, citizen, 2)
    walk(client, citizen, 26)
    assert claim(client, citizen, campaign["id"]).status_code == 201
    available = balance(app, citizen.id)[0]
    with app.app_context():  # the citizen spends everything (a voucher's hold)
        ledger.reserve(user_id=citizen.id, amount=available, external_ref="hold:spent-it",
                       expires_at=utcnow() + dt.timedelta(hours=1))
        db.session.remove()
    reverse(client, auditor, first["id"])
    view = mine(client, citizen, campaign["id"])
    assert (view["claim"]["clawed_back_points"], view["claim"]["shortfall_points"]) == (0, 50)
    assert statement(client, citizen, "bonus_reversal") == []
    assert balance(app, citizen.id)[0] == 0
    assert verify_ledger(app).ok


def test_a_reversal_outside_the_challenge_takes_nothing_back(app, client, seeded, admin,  # noqa: F811
                                                            citizen, auditor):
    walks_campaign = create_campaign(client, app, admin, target=1)
    check_ins = create_campaign(client, app, admin, kind="check_in_streak", action_type=None,
                                mode=None, target=1)
    client.post("/api/v1/me/check-ins", headers=citizen.headers)
    walk(client, citizen, 2)
    second = walk(client, citizen, 26)
    for campaign in (walks_campaign, check_ins):
        assert claim(client, citizen, campaign["id"]).status_code == 201
    # Still one walk left: the walk challenge's bonus stays; the check-ins never depended on it.
    reverse(client, auditor, second["id"])
    assert statement(client, citizen, "bonus_reversal") == []
    assert verify_ledger(app).ok


def test_verify_catches_a_claim_whose_clawback_disagrees_with_the_ledger(app, client, seeded,  # noqa: F811
                                                                         admin, citizen, auditor):
    campaign = create_campaign(client, app, admin)
    first = walk(client, citizen, 2)
    walk(client, citizen, 26)
    claim(client, citizen, campaign["id"])
    reverse(client, auditor, first["id"])
    for wrong in (0, 40):
        with app.app_context():
            db.session.execute(update(CampaignClaim).values(clawed_back_points=wrong))
            db.session.commit()
            db.session.remove()
        report = verify_ledger(app)
        assert not report.ok and any("clawed back" in p for p in report.problems)
    with app.app_context():  # put it back: every test ends with the invariants holding
        db.session.execute(update(CampaignClaim).values(clawed_back_points=50))
        db.session.commit()
        db.session.remove()
    assert verify_ledger(app).ok


@pytest.fixture
def monthly_cap(monkeypatch):
    def set_cap(points: int) -> None:
        settings = dataclasses.replace(progress_service.get_settings(),
                                       bonus_monthly_cap_points=points)
        monkeypatch.setattr(progress_service, "get_settings", lambda: settings)
    return set_cap


def test_the_monthly_cap_limits_bonuses_across_campaigns(app, client, seeded, admin, citizen,  # noqa: F811
                                                         monthly_cap):
    monthly_cap(60)
    campaigns = [create_campaign(client, app, admin, target=1, title=f"Walk {n}")
                 for n in range(3)]
    walks(client, citizen, 1)
    assert claim(client, citizen, campaigns[0]["id"]).json["claim"]["points"] == 50
    assert claim(client, citizen, campaigns[1]["id"]).json["claim"]["points"] == 10
    before, points = all_table_counts(app), balance(app, citizen.id)[0]
    assert_problem(claim(client, citizen, campaigns[2]["id"]), 409, "monthly_bonus_cap_reached")
    assert all_table_counts(app) == before and balance(app, citizen.id)[0] == points
    assert mine(client, citizen, campaigns[2]["id"])["claim"] is None
    assert verify_ledger(app).ok


def test_a_zero_cap_pays_no_bonus(app, client, seeded, admin, citizen, monthly_cap):  # noqa: F811
    monthly_cap(0)
    campaign = create_campaign(client, app, admin, target=1)
    walks(client, citizen, 1)
    before = all_table_counts(app)
    assert_problem(claim(client, citizen, campaign["id"]), 409, "monthly_bonus_cap_reached")
    assert all_table_counts(app) == before


def test_an_unknown_reversal_changes_no_bonus(client, auditor):
    r = client.post(f"/api/v1/admin/actions/{uuid.uuid4()}/reverse", json={"reason": "nope"},
                    headers=auditor.headers)
    assert_problem(r, 404)


def test_my_export_has_my_claims_and_check_ins_and_erasure_deletes_the_check_ins(
        app, client, seeded, admin, citizen, actors):  # noqa: F811
    import json
    from sqlalchemy import select
    from models import CheckIn
    campaign = create_campaign(client, app, admin, kind="check_in_streak", action_type=None,
                               mode=None, target=1)
    other = actors.user("citizen")
    for someone in (citizen, other):
        client.post("/api/v1/me/check-ins", headers=someone.headers)
    assert claim(client, citizen, campaign["id"]).status_code == 201
    exported = json.loads(client.get("/api/v1/me/export", headers=citizen.headers)
                          .get_data(as_text=True))
    (claimed,) = exported["campaign_claims"]
    assert (claimed["campaign_title"], claimed["points"], claimed["user_id"]) == (
        "Walk twice", 50, str(citizen.id))
    assert [c["user_id"] for c in exported["check_ins"]] == [str(citizen.id)]
    r = client.delete("/api/v1/me", json={"password": citizen.password}, headers=citizen.headers)
    assert r.status_code == 200, r.json
    with app.app_context():
        assert list(db.session.scalars(select(CheckIn.user_id))) == [other.id]
        db.session.remove()
    assert verify_ledger(app).ok


def test_a_bonus_paid_and_taken_back_are_webhook_events(app, client, seeded, admin, citizen,  # noqa: F811
                                                        auditor, receiver):
    from tests.webhooks_support import dispatch, received, subscribe
    hook = subscribe(client, admin, receiver.url_for("/hook"),
                     ("campaign.bonus_paid", "campaign.bonus_reversed"))
    campaign = create_campaign(client, app, admin)
    first = walk(client, citizen, 2)
    walk(client, citizen, 26)
    paid = claim(client, citizen, campaign["id"]).json["claim"]
    reverse(client, auditor, first["id"])
    dispatch(app)
    events = {e["type"]: e["data"] for e in received(receiver, hook)}
    assert events["campaign.bonus_paid"] == {
        "campaign_id": campaign["id"], "user_id": str(citizen.id), "claim_id": paid["id"],
        "points": 50, "completions": 1, "transfer_id": paid["transfer_id"]}
    assert events["campaign.bonus_reversed"] == {
        "campaign_id": campaign["id"], "user_id": str(citizen.id), "claim_id": paid["id"],
        "action_id": first["id"], "due": 50, "clawed_back": 50, "shortfall": 0}
