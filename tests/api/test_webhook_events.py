"""Each webhook event type, caused the way it happens in the scheme and received signed at a real
receiver (docs/webhooks.md, "Event types"). `points.expiring` and `voucher.expiring` come from
the notifications job; their delivery is tested in test_webhooks.py."""
from __future__ import annotations

import datetime as dt

from tests.api.test_actions import (ACTIONS, operator, recent, rider, seeded, send_batch,  # noqa: F401
                                    trip)
from tests.api.test_certificates import (auditor, long_claim_window, lot, metro_month,  # noqa: F401
                                         verifier)
from tests.api.test_ledger_api import ADJUST, adjustment
from tests.api.test_rewards import redeem
from tests.households_support import make_home, month, reading, send
from tests.rewards_support import (CONFIRM, backdate_reservations, citizen_with_points,
                                   create_reward, merchant)
from tests.webhooks_support import admin, dispatch, received, receiver, subscribe  # noqa: F401


def _hook(client, admin, receiver, *events, partner_id=None):
    return subscribe(client, admin, receiver.url_for("/hook"), events or ("*",), partner_id=partner_id)


def test_a_partner_record_credited_is_action_credited_for_the_city_and_the_partner(
        client, app, seeded, operator, rider, admin, receiver):
    city = _hook(client, admin, receiver, "action.credited")
    own = _hook(client, admin, receiver, "action.credited", partner_id=operator.id)
    r = send_batch(client, operator, [{**trip(recent()), "external_id": "T-1",
                                       "external_ref": "CARD-0001"}])
    action_id = r.json["results"][0]["action_id"]
    dispatch(app)
    [event] = received(receiver, city)
    data = event["data"]
    assert event["type"] == "action.credited" and data["action_id"] == action_id
    assert (data["external_id"], data["points"], data["credited_mg"], data["credited_g"]) == \
        ("T-1", 970, 970_000, "970.000")
    assert data["methodology"] == {"code": "SH-METRO", "version": 1}
    assert data["user_id"] == str(rider.id) and data["partner_id"] == str(operator.id)
    partner_view = received(receiver, own)
    assert len(partner_view) == 1 and "user_id" not in partner_view[0]["data"]
    assert partner_view[0]["id"] == event["id"]  # one event, one id, whoever receives it


def test_app_claims_credited_and_rejected(client, app, seeded, rider, admin, receiver):
    hook = _hook(client, admin, receiver, "action.credited", "action.rejected")
    ok = client.post(ACTIONS, json=trip(recent(), minutes=30, km=2, mode="walk"), headers=rider.headers)
    bad = client.post(ACTIONS, json=trip(recent(4), minutes=10, km=30, mode="walk"),
                      headers=rider.headers)
    pending = client.post(ACTIONS, json=trip(recent(6)), headers=rider.headers)
    assert (ok.json["status"], bad.json["status"], pending.json["status"]) == \
        ("credited", "rejected", "pending_review")
    dispatch(app)
    events = {e["type"]: e["data"] for e in received(receiver, hook)}
    assert set(events) == {"action.credited", "action.rejected"}  # pending: nothing yet
    assert events["action.credited"]["action_id"] == ok.json["id"]
    assert events["action.credited"]["points"] == 208
    assert events["action.rejected"]["action_id"] == bad.json["id"]
    assert events["action.rejected"]["reason_codes"]


def test_reviews_approve_reject_and_reverse(client, app, seeded, rider, actors, admin, receiver):
    hook = _hook(client, admin, receiver)
    reviewer = actors.user("auditor")
    pending = [client.post(ACTIONS, json=trip(recent(5) + dt.timedelta(hours=i)),
                           headers=rider.headers).json for i in range(2)]
    client.post(f"/api/v1/admin/actions/{pending[0]['id']}/approve", json={"note": "tap-in found"},
                headers=reviewer.headers)
    client.post(f"/api/v1/admin/actions/{pending[1]['id']}/reject", json={"reason": "no tap-in"},
                headers=reviewer.headers)
    client.post(f"/api/v1/admin/actions/{pending[0]['id']}/reverse", json={"reason": "fraud"},
                headers=reviewer.headers)
    dispatch(app)
    got = [(e["type"], e["data"]["action_id"]) for e in received(receiver, hook)]
    assert sorted(got) == sorted([
        ("action.credited", pending[0]["id"]), ("review.decided", pending[0]["id"]),
        ("action.rejected", pending[1]["id"]), ("review.decided", pending[1]["id"]),
        ("action.reversed", pending[0]["id"])])
    decided = {e["data"]["action_id"]: e["data"] for e in received(receiver, hook,
                                                                   "review.decided")}
    assert decided[pending[0]["id"]]["decision"] == "approved"
    assert decided[pending[0]["id"]]["points"] == 970
    assert decided[pending[1]["id"]]["decision"] == "rejected"
    assert decided[pending[1]["id"]]["review_reason"] == "no tap-in"
    [reversed_] = received(receiver, hook, "action.reversed")
    assert reversed_["data"]["reversal_reason"] == "fraud" and reversed_["data"]["clawed_back"] == 970


def test_a_household_reading_credits_each_member(client, app, actors, admin, receiver):
    home = make_home(client, app, actors)
    hook = _hook(client, admin, receiver, "action.credited")
    r = send(client, home.utility, [reading("r-base", month(-12), 230), reading("r-now", month(0), 200)])
    assert r.status_code == 200, r.json
    dispatch(app)
    events = received(receiver, hook)
    assert sorted(e["data"]["user_id"] for e in events) == sorted([str(home.holder.id),
                                                                   str(home.member.id)])
    assert {e["data"]["points"] for e in events} == {8250}
    assert {e["data"]["action_type"] for e in events} == {"household_energy"}


def test_vouchers_reserved_redeemed_and_expired(client, app, actors, admin, receiver):
    partner, staff = merchant(actors)
    merchant_hook = _hook(client, admin, receiver, "voucher.redeemed", partner_id=partner.id)
    hook = _hook(client, admin, receiver, "voucher.reserved", "voucher.redeemed", "voucher.expired")
    reward = create_reward(client, staff, points_cost=120, stock=5, per_citizen_limit=2)
    citizen = citizen_with_points(actors, app, 500)
    first = redeem(client, citizen, reward["id"]).json
    r = client.post(CONFIRM, json={"voucher_code": first["voucher_code"]}, headers=staff.headers)
    assert r.status_code == 200, r.json
    second = redeem(client, citizen, reward["id"]).json
    backdate_reservations(app)
    from carbon_credits import jobs
    with app.app_context():
        assert jobs.run_job("release_expired_reservations") == 1
    dispatch(app)
    got = [(e["type"], e["data"]["redemption_id"]) for e in received(receiver, hook)]
    assert sorted(got) == sorted([("voucher.reserved", first["id"]), ("voucher.redeemed", first["id"]),
                                  ("voucher.reserved", second["id"]), ("voucher.expired", second["id"])])
    [redeemed] = received(receiver, hook, "voucher.redeemed")
    assert redeemed["data"]["points"] == 120 and redeemed["data"]["status"] == "redeemed"
    assert redeemed["data"]["reward_id"] == reward["id"]
    for_merchant = received(receiver, merchant_hook)
    assert [e["type"] for e in for_merchant] == ["voucher.redeemed"]
    assert "user_id" not in for_merchant[0]["data"]


def test_a_lot_issued_and_retired(client, app, auditor, admin, receiver, lot):  # noqa: F811
    # The lot was issued before anyone subscribed: only what follows is sent.
    hook = _hook(client, admin, receiver, "lot.issued", "lot.retired")
    r = client.post(f"/api/v1/admin/certificates/lots/{lot['id']}/retirements",
                    json={"beneficiary": "Acme", "purpose": "offset", "quantity": 2},
                    headers=auditor.headers)
    assert r.status_code == 201, r.json
    dispatch(app)
    [retired] = received(receiver, hook)
    assert retired["type"] == "lot.retired" and retired["data"]["lot_id"] == lot["id"]
    assert retired["data"]["quantity"] == 2 and retired["data"]["beneficiary"] == "Acme"
    assert retired["data"]["methodology"] == {"code": "SH-METRO", "version": 1}


def test_lot_issued(client, app, auditor, admin, receiver, metro_month):  # noqa: F811
    hook = _hook(client, admin, receiver, "lot.issued")
    from tests.api.test_certificates import issue
    r = issue(client, auditor, metro_month)
    assert r.status_code == 201, r.json
    dispatch(app)
    [issued] = received(receiver, hook)
    assert issued["type"] == "lot.issued" and issued["data"]["lot_id"] == r.json["id"]
    assert issued["data"]["quantity"] == r.json["quantity"]
    assert issued["data"]["period_from"] == metro_month["from"].isoformat()


def test_an_adjustment_decided(client, app, actors, admin, receiver):
    hook = _hook(client, admin, receiver, "adjustment.decided")
    citizen, first, second = actors.user("citizen"), actors.user("auditor"), actors.user("auditor")
    approved = client.post(ADJUST, json=adjustment(citizen.id, 40), headers=admin.headers).json
    refused = client.post(ADJUST, json=adjustment(citizen.id, 15, ref="T-2"), headers=admin.headers).json
    assert client.post(f"{ADJUST}/{approved['id']}/approve", json={}, headers=first.headers).status_code == 200
    assert client.post(f"{ADJUST}/{refused['id']}/reject", json={"note": "no evidence"},
                       headers=second.headers).status_code == 200
    dispatch(app)
    got = {e["data"]["adjustment_id"]: e["data"] for e in received(receiver, hook)}
    assert got[approved["id"]]["status"] == "approved" and got[approved["id"]]["amount"] == 40
    assert got[refused["id"]]["status"] == "rejected"
    assert got[refused["id"]]["decision_note"] == "no evidence"
