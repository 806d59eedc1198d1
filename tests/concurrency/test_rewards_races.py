"""Rewards contention on real PostgreSQL: threads with their own connections race for the last
units of stock, one voucher, one citizen's limit, one Idempotency-Key and the expiry jobs."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from carbon_credits.config import PROJECT_ROOT
from models import AuditEntry, LedgerHold, Redemption, Reward, db
from tests.concurrency.support import race
from tests.conftest import DATABASE_URL, REDIS_URL, TEST_SECRET, table_counts
from tests.rewards_support import (CONFIRM, REDEMPTIONS, backdate_reservations, balance,
                                   citizen_with_points, create_reward, give_points, merchant,
                                   merchant_balance, redemption_row, reward_row)

pytestmark = pytest.mark.postgres


def post(app, url, headers, json=None):
    r = app.test_client().post(url, json=json, headers=headers)
    return r.status_code, r.get_json()


def test_hundred_citizens_on_stock_of_ten_get_exactly_ten(app, actors):
    _, staff = merchant(actors)
    reward = create_reward(actors.client, staff, stock=10, points_cost=100)
    citizens = [actors.user("citizen") for _ in range(100)]
    give_points(app, [c.id for c in citizens], 500)

    results = race(100, lambda i: post(app, REDEMPTIONS, citizens[i].headers,
                                       {"reward_id": reward["id"]}))
    statuses = [r[0] for r in results]
    assert statuses.count(201) == 10, statuses
    assert statuses.count(409) == 90, statuses
    assert {r[1]["type"] for r in results if r[0] == 409} == {"/problems/out_of_stock"}
    assert reward_row(app, reward["id"])["stock"] == 0
    assert table_counts(app, Redemption)["redemptions"] == 10
    winners = [c for c, r in zip(citizens, results) if r[0] == 201]
    losers = [c for c, r in zip(citizens, results) if r[0] == 409]
    assert all(balance(app, c.id) == (400, 100) for c in winners)
    assert all(balance(app, c.id) == (500, 0) for c in losers[:10])
    assert len({r[1]["voucher_code"] for r in results if r[0] == 201}) == 10


def _reserved(actors, app, *, stock=1, points=500):
    partner, staff = merchant(actors)
    reward = create_reward(actors.client, staff, stock=stock)
    citizen = citizen_with_points(actors, app, points)
    r = actors.client.post(REDEMPTIONS, json={"reward_id": reward["id"]}, headers=citizen.headers)
    assert r.status_code == 201
    return partner, staff, reward, citizen, r.json


def test_same_voucher_confirmed_concurrently_succeeds_once(app, actors):
    partner, staff, _, citizen, redemption = _reserved(actors, app)
    results = race(8, lambda i: post(app, CONFIRM, staff.headers,
                                     {"voucher_code": redemption["voucher_code"]}))
    statuses = sorted(r[0] for r in results)
    assert statuses == [200] + [409] * 7, results
    assert {r[1]["type"] for r in results if r[0] == 409} == {"/problems/already_redeemed"}
    assert merchant_balance(app, partner.id) == 100
    assert balance(app, citizen.id) == (400, 0)


def test_cancel_racing_confirm_exactly_one_wins(app, actors):
    partner, staff = merchant(actors)
    reward = create_reward(actors.client, staff, stock=20, per_citizen_limit=20)
    citizen = citizen_with_points(actors, app, 5000)
    outcomes = []
    for _ in range(10):
        redemption = actors.client.post(REDEMPTIONS, json={"reward_id": reward["id"]},
                                        headers=citizen.headers).json
        cancel_url = f"{REDEMPTIONS}/{redemption['id']}/cancel"
        results = race(2, lambda i: post(app, cancel_url, citizen.headers) if i == 0 else
                       post(app, CONFIRM, staff.headers,
                            {"voucher_code": redemption["voucher_code"]}))
        cancelled, confirmed = results[0][0] == 200, results[1][0] == 200
        assert cancelled != confirmed, results
        assert 409 in (results[0][0], results[1][0])
        status = redemption_row(app, redemption["id"])["status"]
        assert status == ("cancelled" if cancelled else "redeemed")
        outcomes.append(status)
    redeemed = outcomes.count("redeemed")
    assert merchant_balance(app, partner.id) == 100 * redeemed
    assert balance(app, citizen.id) == (5000 - 100 * redeemed, 0)
    assert reward_row(app, reward["id"])["stock"] == 20 - redeemed


def test_double_tap_with_one_idempotency_key_reserves_once(app, actors):
    _, staff = merchant(actors)
    reward = create_reward(actors.client, staff, stock=10, per_citizen_limit=10)
    citizen = citizen_with_points(actors, app, 1000)
    headers = {**citizen.headers, "Idempotency-Key": "double-tap"}
    results = race(10, lambda i: post(app, REDEMPTIONS, headers, {"reward_id": reward["id"]}))
    ok = [r for r in results if r[0] == 201]
    # The losers of the key race wait for the winner and replay its response.
    assert len(ok) == 10 and len({r[1]["id"] for r in ok}) == 1, results
    assert table_counts(app, Redemption)["redemptions"] == 1
    assert table_counts(app, LedgerHold)["ledger_holds"] == 1
    assert balance(app, citizen.id) == (900, 100)
    assert reward_row(app, reward["id"])["stock"] == 9


def test_per_citizen_limit_holds_under_a_race(app, actors):
    _, staff = merchant(actors)
    reward = create_reward(actors.client, staff, stock=50, per_citizen_limit=2)
    citizen = citizen_with_points(actors, app, 10_000)
    results = race(12, lambda i: post(app, REDEMPTIONS, citizen.headers,
                                      {"reward_id": reward["id"]}))
    statuses = [r[0] for r in results]
    assert statuses.count(201) == 2 and statuses.count(409) == 10, results
    assert {r[1]["type"] for r in results if r[0] == 409} == {"/problems/per_citizen_limit_reached"}
    assert reward_row(app, reward["id"])["stock"] == 48
    assert balance(app, citizen.id) == (9800, 200)


def test_release_job_on_several_workers_expires_each_reservation_once(app, actors):
    from carbon_credits.services.rewards import release_expired_reservations
    _, staff = merchant(actors)
    reward = create_reward(actors.client, staff, stock=30, per_citizen_limit=1)
    citizens = [actors.user("citizen") for _ in range(12)]
    give_points(app, [c.id for c in citizens], 300)
    for c in citizens:
        assert actors.client.post(REDEMPTIONS, json={"reward_id": reward["id"]},
                                  headers=c.headers).status_code == 201
    backdate_reservations(app)

    def work(_i):
        with app.app_context():
            try:
                return release_expired_reservations()
            finally:
                db.session.remove()

    counts = race(4, work)
    assert sum(counts) == 12, counts
    with app.app_context():
        expired_audits = db.session.scalar(select(func.count()).select_from(AuditEntry)
                                           .where(AuditEntry.action == "redemption.expire"))
        statuses = set(db.session.scalars(select(Redemption.status)))
        stock = db.session.scalar(select(Reward.stock))
        db.session.remove()
    assert expired_audits == 12 and statuses == {"expired"} and stock == 30
    assert all(balance(app, c.id) == (300, 0) for c in citizens)


def test_jobs_run_due_twice_concurrently_expires_once(app, actors):
    _, staff, reward, citizen, redemption = _reserved(actors, app, stock=1)
    backdate_reservations(app)
    env = {**os.environ, "DATABASE_URL": DATABASE_URL, "SECRET_KEY": TEST_SECRET,
           "CARBON_ENV": "test", "REDIS_URL": REDIS_URL or ""}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "run-due"]
    procs = [subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    released = [int(line.split(": ")[1]) for out, _ in outputs for line in out.splitlines()
                if line.startswith("release_expired_reservations: ")]
    assert sorted(released) == [0, 1], outputs
    assert redemption_row(app, redemption["id"])["status"] == "expired"
    assert balance(app, citizen.id) == (500, 0)
    assert reward_row(app, reward["id"])["stock"] == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "redemption.expire")) == 1
        db.session.remove()

