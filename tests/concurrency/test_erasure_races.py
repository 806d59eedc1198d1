"""Erasure (DELETE /me) racing the citizen's own vouchers on real PostgreSQL: whatever the
interleaving, no points are left on an erased account, no balance goes negative, and every
voucher ends either honoured or cancelled (ledger verify runs after each test)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from models import LedgerAccount, Redemption, User, db
from tests.concurrency.support import race
from tests.rewards_support import (CONFIRM, REDEMPTIONS, balance, citizen_with_points,
                                   create_reward, merchant, merchant_balance)

pytestmark = pytest.mark.postgres


def call(app, method, url, headers, json=None):
    r = app.test_client().open(url, method=method, json=json, headers=headers)
    return r.status_code, r.get_json()


def _after(app, user_id):
    with app.app_context():
        user = db.session.get(User, user_id)
        account = db.session.scalars(select(LedgerAccount)
                                     .where(LedgerAccount.user_id == user_id)).one()
        open_vouchers = db.session.scalars(select(Redemption).where(
            Redemption.user_id == user_id, Redemption.status == "reserved")).all()
        state = (user.erased_at is not None, account.balance, account.reserved, len(open_vouchers))
        db.session.remove()
    return state


@pytest.mark.parametrize("round_", range(4))
def test_erasure_racing_redemptions_leaves_nothing_on_the_account(app, actors, round_):
    _, staff = merchant(actors)
    rewards = [create_reward(actors.client, staff, title=f"R{i}", points_cost=100)
               for i in range(4)]
    citizen = citizen_with_points(actors, app, 300)

    def work(i):
        if i == 0:
            return call(app, "DELETE", "/api/v1/me", citizen.headers, {"password": citizen.password})
        return call(app, "POST", REDEMPTIONS, citizen.headers, {"reward_id": rewards[i - 1]["id"]})

    results = race(5, work)
    assert all(not isinstance(r, BaseException) for r in results), results
    assert results[0][0] == 200, results[0]
    assert all(status in (201, 401, 404, 409) for status, _ in results[1:]), results
    assert _after(app, citizen.id) == (True, 0, 0, 0)
    assert results[0][1]["points_forfeited"] == 300  # every reserved point came back first


def test_erasure_racing_the_merchant_confirming_a_voucher(app, actors):
    partner, staff = merchant(actors)
    reward = create_reward(actors.client, staff, points_cost=100)
    citizen = citizen_with_points(actors, app, 300)
    voucher = actors.client.post(REDEMPTIONS, json={"reward_id": reward["id"]},
                                 headers=citizen.headers)
    assert voucher.status_code == 201

    def work(i):
        if i == 0:
            return call(app, "DELETE", "/api/v1/me", citizen.headers, {"password": citizen.password})
        return call(app, "POST", CONFIRM, staff.headers, {"voucher_code": voucher.json["voucher_code"]})

    (erased, confirmed) = race(2, work)
    assert erased[0] == 200, erased
    assert confirmed[0] in (200, 409), confirmed
    paid = merchant_balance(app, partner.id)
    if confirmed[0] == 200:   # honoured first: the merchant keeps it, the rest is forfeited
        assert paid == 100 and erased[1]["points_forfeited"] == 200
    else:                     # cancelled first: everything is forfeited
        assert confirmed[1]["type"] == "/problems/voucher_cancelled"
        assert paid == 0 and erased[1]["points_forfeited"] == 300
    assert _after(app, citizen.id) == (True, 0, 0, 0)
    assert balance(app, citizen.id) == (0, 0)
