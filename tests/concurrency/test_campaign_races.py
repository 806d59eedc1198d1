"""Campaign claims and check-ins under contention on real PostgreSQL: threads with their own
connections claim past a campaign's budget, claim one bonus twice, claim while an admin closes
the campaign, or check in twice the same day."""
from __future__ import annotations

import pytest

from models import CampaignClaim, CheckIn
from tests.api.test_actions import seeded  # noqa: F401
from tests.api.test_engagement import CAMPAIGNS, CHECK_INS, MINE, create_campaign
from tests.concurrency.support import race
from tests.conftest import table_counts
from tests.donations_support import verify_ledger
from tests.rewards_support import balance

pytestmark = pytest.mark.postgres


def post(app, user, path, headers=None, **kwargs):
    r = app.test_client().post(path, headers={**user.headers, **(headers or {})}, **kwargs)
    return r.status_code, r.get_json()


def checked_in(app, actors, n: int) -> list:
    """`n` citizens who have each checked in today (a one-day check-in challenge completed)."""
    citizens = [actors.user("citizen") for _ in range(n)]
    for citizen in citizens:
        assert post(app, citizen, CHECK_INS)[0] == 201
    return citizens


def check_in_campaign(app, actors, **overrides) -> tuple:
    admin = actors.user("admin")
    body = {"kind": "check_in_streak", "action_type": None, "mode": None, "target": 1,
            "bonus_points": 50, "per_citizen_cap": 50, **overrides}
    return admin, create_campaign(actors.client, app, admin, **body)["id"]


def campaign_row(app, admin, campaign_id) -> dict:
    r = app.test_client().get(CAMPAIGNS, headers=admin.headers)
    return next(c for c in r.get_json()["items"] if c["id"] == campaign_id)


def test_claims_racing_never_spend_past_the_budget(app, actors):
    admin, campaign = check_in_campaign(app, actors, budget_points=150)
    citizens = checked_in(app, actors, 10)
    results = race(10, lambda i: post(app, citizens[i], f"{MINE}/{campaign}/claim"))
    statuses = [r[0] for r in results]
    assert statuses.count(201) == 3 and statuses.count(409) == 7, results
    assert {r[1]["type"] for r in results if r[0] == 409} == {"/problems/campaign_budget_exhausted"}
    row = campaign_row(app, admin, campaign)
    assert (row["spent_points"], row["claims"]) == (150, 3)
    paid = [c for c, r in zip(citizens, results) if r[0] == 201]
    assert all(balance(app, c.id)[0] == 50 for c in paid)
    assert sum(balance(app, c.id)[0] for c in citizens) == 150
    report = verify_ledger(app)
    assert report.ok, report.problems


def test_one_citizen_racing_claims_is_paid_once(app, actors):
    admin, campaign = check_in_campaign(app, actors)
    (citizen,) = checked_in(app, actors, 1)
    results = race(6, lambda i: post(app, citizen, f"{MINE}/{campaign}/claim"))
    assert sorted(r[0] for r in results) == [201] + [409] * 5, results
    assert {r[1]["type"] for r in results if r[0] == 409} == {"/problems/bonus_already_claimed"}
    assert balance(app, citizen.id)[0] == 50
    assert table_counts(app, CampaignClaim)["campaign_claims"] == 1
    assert campaign_row(app, admin, campaign)["spent_points"] == 50
    assert verify_ledger(app).ok


def test_one_idempotency_key_raced_claims_once(app, actors):
    admin, campaign = check_in_campaign(app, actors)
    (citizen,) = checked_in(app, actors, 1)
    results = race(6, lambda i: post(app, citizen, f"{MINE}/{campaign}/claim",
                                     headers={"Idempotency-Key": "k1"}))
    created = [r for r in results if r[0] == 201]
    assert created and all(r[1]["claim"]["id"] == created[0][1]["claim"]["id"] for r in created)
    assert all(r[0] in (201, 409) for r in results), results
    assert balance(app, citizen.id)[0] == 50
    assert table_counts(app, CampaignClaim)["campaign_claims"] == 1


def test_claims_racing_the_close_are_paid_only_while_open(app, actors):
    admin, campaign = check_in_campaign(app, actors, budget_points=10_000)
    citizens = checked_in(app, actors, 7)

    def work(i):
        if i == 7:
            return post(app, admin, f"{CAMPAIGNS}/{campaign}/close", json={"reason": "budget cut"})
        return post(app, citizens[i], f"{MINE}/{campaign}/claim")

    results = race(8, work)
    assert results[7][0] == 200, results[7]
    paid = [r for r in results[:7] if r[0] == 201]
    assert all(r[0] == 201 or r[1]["type"] == "/problems/campaign_closed" for r in results[:7])
    row = campaign_row(app, admin, campaign)
    assert (row["status"], row["spent_points"], row["claims"]) == ("closed", 50 * len(paid),
                                                                   len(paid))
    assert verify_ledger(app).ok


def test_check_ins_racing_on_one_day_make_one_row(app, actors):
    citizen = actors.user("citizen")
    results = race(6, lambda i: post(app, citizen, CHECK_INS))
    assert sorted(r[0] for r in results) == [200] * 5 + [201], results
    assert table_counts(app, CheckIn)["check_ins"] == 1


def test_a_claim_racing_the_reversal_of_its_only_walk_keeps_no_bonus(app, actors, seeded):  # noqa: F811
    """The exploit: claim the bonus while an auditor reverses the fake walk behind it. Either the
    claim sees the walk reversed (refused) or the reversal sees the claim (bonus taken back):
    never a bonus that no credited action earns."""
    from models import db
    from tests.api.test_insights import walk
    admin, auditor = actors.user("admin"), actors.user("auditor")
    campaign = create_campaign(actors.client, app, admin, target=1)["id"]
    outcomes = set()
    for _ in range(6):
        citizen = actors.user("citizen")
        done = walk(actors.client, citizen, 2)
        results = race(2, lambda i: post(app, citizen, f"{MINE}/{campaign}/claim") if i == 0
                       else post(app, auditor, f"/api/v1/admin/actions/{done['id']}/reverse",
                                 json={"reason": "fake walk"}))
        assert results[1][0] == 200, results
        assert results[0][0] in (201, 409), results
        outcomes.add(results[0][0])
        with app.app_context():
            claim = db.session.query(CampaignClaim).filter_by(user_id=citizen.id).one_or_none()
            kept = 0 if claim is None else (claim.points - claim.clawed_back_points
                                            - claim.shortfall_points)
            db.session.remove()
        assert kept == 0, results
    report = verify_ledger(app)
    assert report.ok, report.problems
    print(f"claim outcomes racing the reversal: {sorted(outcomes)}")
