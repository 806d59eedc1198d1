"""Threads racing real PostgreSQL connections against the ledger's rules. Exact outcomes only."""
from __future__ import annotations

import datetime as dt
import random
import threading
import uuid

import pytest
from sqlalchemy import func, select, text

from carbon_credits.domain.errors import DomainError
from carbon_credits.services import ledger
from carbon_credits.services.ledger import EarnEntry
from models import LedgerAccount, LedgerHold, LedgerReversal, LedgerTransfer, db

pytestmark = pytest.mark.postgres
UTC = dt.timezone.utc


def race(app, n, work):
    """Run `work(i)` in n threads released together, each on its own connection."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                results[i] = ("ok", work(i))
            except DomainError as error:
                results[i] = ("refused", error.code)
            except Exception as error:  # pragma: no cover - reported by the assertion
                results[i] = ("crashed", repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results


def setup(app, fn):
    with app.app_context():
        try:
            return fn()
        finally:
            db.session.remove()


def make_user():
    from carbon_credits.services.auth import register_user
    return register_user(email=f"r-{uuid.uuid4().hex[:10]}@example.test", phone=None,
                         password="long enough pw", display_name="R").id


def make_merchant():
    from carbon_credits.services.partners import create_partner
    return create_partner(name=f"shop-{uuid.uuid4().hex[:8]}", kind="merchant",
                          actor_user_id=None).partner.id


def earn(user, amount, ref=None, when=None):
    return ledger.post_earn(user_id=user, amount=amount, external_ref=ref or uuid.uuid4().hex,
                            event_time=when or dt.datetime.now(UTC)).id


def scalar(app, query):
    return setup(app, lambda: db.session.execute(query).scalar())


def test_fifty_concurrent_spends_never_overdraw_and_exactly_the_affordable_succeed(app):
    user = setup(app, make_user)
    setup(app, lambda: earn(user, 205))
    expires = dt.datetime.now(UTC) + dt.timedelta(minutes=30)
    results = race(app, 50, lambda i: ledger.reserve(
        user_id=user, amount=10, external_ref=f"spend-{i}", expires_at=expires).id)
    assert sorted({r[0] for r in results}) == ["ok", "refused"], results
    assert sum(r[0] == "ok" for r in results) == 20
    assert all(r[1] == "insufficient_balance" for r in results if r[0] == "refused")
    balance, reserved = setup(app, lambda: db.session.execute(
        select(LedgerAccount.balance, LedgerAccount.reserved)
        .where(LedgerAccount.user_id == user)).one())
    assert (balance, reserved) == (5, 200)


def test_concurrent_duplicate_reversals_reverse_exactly_once(app):
    user = setup(app, make_user)
    setup(app, lambda: earn(user, 100, "to-reverse"))
    results = race(app, 12, lambda i: ledger.reverse_earn(
        external_ref="to-reverse", reason="fraud", actor_user_id=None).clawed_back)
    assert sorted(results) == [("ok", 100)] + [("refused", "already_reversed")] * 11, results
    assert scalar(app, select(func.count()).select_from(LedgerReversal)) == 1
    assert scalar(app, select(LedgerAccount.balance).where(LedgerAccount.user_id == user)) == 0


def test_the_same_external_ref_from_twenty_threads_posts_once(app):
    user = setup(app, make_user)
    when = dt.datetime.now(UTC)
    results = race(app, 20, lambda i: ledger.post_earn(
        user_id=user, amount=7, external_ref="partner:rec-42", event_time=when).id)
    assert {r[0] for r in results} == {"ok"}, results
    assert len({r[1] for r in results}) == 1
    assert scalar(app, select(func.count()).select_from(LedgerTransfer)) == 1
    assert scalar(app, select(LedgerAccount.balance).where(LedgerAccount.user_id == user)) == 7


def test_the_same_reserve_ref_from_twenty_threads_holds_once(app):
    user = setup(app, make_user)
    setup(app, lambda: earn(user, 100))
    expires = dt.datetime.now(UTC) + dt.timedelta(minutes=30)
    results = race(app, 20, lambda i: ledger.reserve(
        user_id=user, amount=30, external_ref="redemption-1", expires_at=expires).id)
    assert {r[0] for r in results} == {"ok"} and len({r[1] for r in results}) == 1, results
    assert scalar(app, select(func.count()).select_from(LedgerHold)) == 1
    assert scalar(app, select(LedgerAccount.reserved).where(LedgerAccount.user_id == user)) == 30


def test_void_racing_post_on_one_hold_exactly_one_wins(app):
    user, shop = setup(app, make_user), setup(app, make_merchant)
    setup(app, lambda: earn(user, 1000))
    expires = dt.datetime.now(UTC) + dt.timedelta(minutes=30)
    holds = setup(app, lambda: [ledger.reserve(user_id=user, amount=10, external_ref=f"h-{i}",
                                               expires_at=expires).id for i in range(10)])

    def work(i):
        hold_id = holds[i // 2]
        if i % 2:
            return ("void", ledger.void_hold(hold_id=hold_id).kind)
        return ("post", ledger.post_hold(hold_id=hold_id, merchant_partner_id=shop).kind)

    results = race(app, 20, work)
    for k in range(10):
        pair = results[2 * k: 2 * k + 2]
        assert sorted(r[0] for r in pair) == ["ok", "refused"], pair
        assert [r[1] for r in pair if r[0] == "refused"] == ["hold_not_pending"]
    posted = sum(1 for r in results if r[0] == "ok" and r[1][0] == "post")
    balance, reserved = setup(app, lambda: db.session.execute(
        select(LedgerAccount.balance, LedgerAccount.reserved)
        .where(LedgerAccount.user_id == user)).one())
    assert (balance, reserved) == (1000 - 10 * posted, 0)


def test_two_expiry_runs_at_once_expire_each_lot_once(app):
    users = setup(app, lambda: [make_user() for _ in range(4)])
    old = dt.datetime.now(UTC) - dt.timedelta(days=800)
    now = dt.datetime.now(UTC)
    for user in users:
        setup(app, lambda user=user: [earn(user, 10, when=old), earn(user, 5, when=old),
                                      earn(user, 3, when=now)])
    results = race(app, 4, lambda i: ledger.expire_due_lots(now=now))
    assert {r[0] for r in results} == {"ok"}, results
    assert sum(r[1] for r in results) == 8
    assert scalar(app, select(func.count()).select_from(LedgerTransfer)
                  .where(LedgerTransfer.kind == "expire")) == 8
    assert scalar(app, select(func.sum(LedgerAccount.balance))
                  .where(LedgerAccount.kind == "citizen")) == 12


def test_two_hold_expiry_runs_at_once_release_each_hold_once(app):
    user = setup(app, make_user)
    setup(app, lambda: earn(user, 100))
    now = dt.datetime.now(UTC)
    setup(app, lambda: [ledger.reserve(user_id=user, amount=10, external_ref=f"x-{i}",
                                       expires_at=now + dt.timedelta(minutes=1), now=now)
                        for i in range(6)])
    later = now + dt.timedelta(minutes=2)
    results = race(app, 3, lambda i: ledger.expire_due_holds(now=later))
    assert sum(r[1] for r in results) == 6, results
    assert scalar(app, select(func.count()).select_from(LedgerTransfer)
                  .where(LedgerTransfer.kind == "release")) == 6


def test_concurrent_batches_over_the_same_citizens_do_not_deadlock(app):
    users = setup(app, lambda: [make_user() for _ in range(6)])
    when = dt.datetime.now(UTC)

    def work(i):
        order = users[:]
        random.Random(i).shuffle(order)
        return len(ledger.post_earns([EarnEntry(user_id=u, amount=1 + j, external_ref=f"b{i}-{j}",
                                                event_time=when) for j, u in enumerate(order)]))

    results = race(app, 10, work)
    assert results == [("ok", 6)] * 10
    assert scalar(app, select(func.sum(LedgerAccount.balance))
                  .where(LedgerAccount.kind == "citizen")) == 10 * sum(range(1, 7))


def _hold_row_lock(app, sql):
    """Hold a row lock in a separate connection, as another writer would, until released."""
    with app.app_context():
        conn = db.engine.connect()
    trans = conn.begin()
    conn.execute(text(sql))
    return conn, trans


@pytest.mark.parametrize("lock_sql", [
    # What a running balance on the issuance account would need for every credit.
    "SELECT id FROM ledger_accounts WHERE system_code = 'issuance' FOR NO KEY UPDATE",
    # The sealer's lock on the chain head.
    "SELECT id FROM ledger_chain_head WHERE id = 1 FOR UPDATE",
])
def test_earns_never_wait_for_the_issuance_account_or_the_hash_chain(app, lock_sql):
    user = setup(app, make_user)
    setup(app, lambda: earn(user, 1))
    setup(app, lambda: ledger.seal_pending())
    conn, trans = _hold_row_lock(app, lock_sql)
    try:
        def work(i):
            db.session.execute(text("SET LOCAL lock_timeout = '3s'"))
            return earn(user, 5)
        results = race(app, 4, work)
        assert {r[0] for r in results} == {"ok"}, results
    finally:
        trans.rollback()
        conn.close()
    assert scalar(app, select(LedgerAccount.balance).where(LedgerAccount.user_id == user)) == 21


def test_racing_decisions_on_one_adjustment_take_exactly_one(app):
    """Eight auditors approve or reject the same request at once: one decision, at most one
    transfer, and the request's status matches it."""
    from carbon_credits.services import adjustments
    from models import LedgerAdjustment
    citizen = setup(app, make_user)
    requester = setup(app, make_user)
    deciders = [setup(app, make_user) for _ in range(8)]
    request_id = setup(app, lambda: adjustments.request_adjustment(
        user_id=citizen, points=25, reason="goodwill", note="lost trip", external_ref="RACE-1",
        actor_user_id=requester).id)

    def work(i):
        if i % 2:
            return adjustments.reject_adjustment(adjustment_id=request_id,
                                                 actor_user_id=deciders[i], note="no").status
        return adjustments.approve_adjustment(adjustment_id=request_id,
                                              actor_user_id=deciders[i]).status

    results = race(app, 8, work)
    assert [r for r in results if r[0] == "crashed"] == []
    decided = [r[1] for r in results if r[0] == "ok"]
    assert len(decided) == 1
    assert sorted(r[1] for r in results if r[0] == "refused") == ["adjustment_not_pending"] * 7

    def check():
        row = db.session.get(LedgerAdjustment, request_id)
        transfers = db.session.scalar(select(func.count()).select_from(LedgerTransfer)
                                      .where(LedgerTransfer.kind == "adjustment"))
        balance = db.session.scalar(select(LedgerAccount.balance)
                                    .where(LedgerAccount.user_id == citizen)) or 0
        return row.status, transfers, balance

    status, transfers, balance = setup(app, check)
    assert status == decided[0]
    assert (transfers, balance) == ((1, 25) if status == "approved" else (0, 0))


def test_the_database_refuses_the_requester_as_decider(app):
    from sqlalchemy.exc import IntegrityError

    from carbon_credits.services import adjustments
    from models import LedgerAdjustment
    citizen, requester = setup(app, make_user), setup(app, make_user)
    request_id = setup(app, lambda: adjustments.request_adjustment(
        user_id=citizen, points=5, reason="goodwill", note="lost trip", external_ref="SELF-1",
        actor_user_id=requester).id)

    def decide_own():
        db.session.execute(text("UPDATE ledger_adjustments SET status = 'rejected', "
                                "decided_by = requested_by, decided_at = now() WHERE id = :id"),
                           {"id": request_id})
        db.session.commit()

    with pytest.raises(IntegrityError):
        setup(app, decide_own)
    assert setup(app, lambda: db.session.get(LedgerAdjustment, request_id).status) == "pending"
