"""Stateful property test: random earns, holds, expiries, reversals and retries against a tiny
in-memory model, with every invariant (and `verify_ledger`) checked after every step.

A failure prints the steps; rerun with the printed seed to replay it."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)
from sqlalchemy import select

from carbon_credits.domain.errors import Conflict
from carbon_credits.domain.ledger import add_months
from carbon_credits.services import ledger
from models import LedgerAccount, LedgerLot, LedgerTransfer, db

UTC = dt.timezone.utc
MONTHS = 24


class LedgerMachine(RuleBasedStateMachine):
    """One citizen and one merchant per example; a clock the test moves forward."""

    @initialize()
    def setup(self):
        from carbon_credits.services.auth import register_user
        from carbon_credits.services.partners import create_partner
        self.user = register_user(email=f"m-{uuid.uuid4().hex[:12]}@example.test", phone=None,
                                  password="long enough pw", display_name="M").id
        self.shop = create_partner(name=f"shop-{uuid.uuid4().hex[:10]}", kind="merchant",
                                   actor_user_id=None).partner.id
        self.now = dt.datetime.now(UTC).replace(microsecond=0)
        self.n = 0
        self.balance = 0
        self.reserved = 0
        self.lots: dict[str, dict] = {}    # earn ref -> amount, remaining, expires_at, order
        self.earns: dict[str, dict] = {}   # earn ref -> amount, transfer id, reversed
        self.holds: dict[str, dict] = {}   # hold ref -> id, amount, status, alloc, expires_at

    # --- the model ---------------------------------------------------------------------------

    def _fifo(self):
        return sorted((ref for ref, lot in self.lots.items() if lot["remaining"] > 0),
                      key=lambda ref: (self.lots[ref]["expires_at"], self.lots[ref]["order"]))

    def _model_expire(self):
        for lot in self.lots.values():
            if lot["remaining"] and lot["expires_at"] <= self.now:
                self.balance -= lot["remaining"]
                lot["remaining"] = 0

    def _take(self, amount, first=None):
        order = self._fifo()
        if first in order:
            order.remove(first)
            order.insert(0, first)
        taken = {}
        for ref in order:
            take = min(amount, self.lots[ref]["remaining"])
            if take:
                self.lots[ref]["remaining"] -= take
                taken[ref] = take
                amount -= take
        assert amount == 0
        return taken

    def _next(self, prefix):
        self.n += 1
        return f"{prefix}-{self.user.hex[:8]}-{self.n}"

    # --- rules -------------------------------------------------------------------------------

    @rule(amount=st.integers(1, 500), age_days=st.integers(0, 800))
    def earn(self, amount, age_days):
        ref = self._next("earn")
        when = self.now - dt.timedelta(days=age_days)
        t = ledger.post_earn(user_id=self.user, amount=amount, external_ref=ref,
                             action_id=uuid.uuid4(), event_time=when)
        self.balance += amount
        assert t.balance_after == self.balance
        self.lots[ref] = {"amount": amount, "remaining": amount, "order": self.n,
                          "expires_at": add_months(when, MONTHS)}
        self.earns[ref] = {"amount": amount, "id": t.id, "reversed": False, "when": when,
                           "action_id": t.action_id}

    @precondition(lambda self: self.earns)
    @rule(data=st.data(), change=st.booleans())
    def retry_earn(self, data, change):
        ref = data.draw(st.sampled_from(sorted(self.earns)))
        earn = self.earns[ref]
        try:
            t = ledger.post_earn(user_id=self.user, amount=earn["amount"] + change,
                                 external_ref=ref, action_id=earn["action_id"],
                                 event_time=earn["when"])
        except Conflict as error:
            assert change and error.code == "ledger_ref_conflict"
        else:
            assert not change and t.id == earn["id"]

    @rule(amount=st.integers(1, 600), minutes=st.integers(1, 60 * 24 * 60))
    def reserve(self, amount, minutes):
        ref = self._next("hold")
        expires_at = self.now + dt.timedelta(minutes=minutes)
        due = sum(lot["remaining"] for lot in self.lots.values()
                  if lot["remaining"] and lot["expires_at"] <= self.now)
        try:
            hold = ledger.reserve(user_id=self.user, amount=amount, external_ref=ref,
                                  expires_at=expires_at, now=self.now)
        except Conflict as error:
            assert error.code == "insufficient_balance"
            assert self.balance - due < amount
            return
        assert self.balance - due >= amount
        self._model_expire()
        self.balance -= amount
        self.reserved += amount
        self.holds[ref] = {"id": hold.id, "amount": amount, "status": "pending",
                           "alloc": self._take(amount), "expires_at": expires_at}

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def retry_reserve(self, data):
        ref = data.draw(st.sampled_from(sorted(self.holds)))
        hold = self.holds[ref]
        again = ledger.reserve(user_id=self.user, amount=hold["amount"], external_ref=ref,
                               expires_at=self.now + dt.timedelta(minutes=5), now=self.now)
        assert again.id == hold["id"]

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def post(self, data):
        ref = data.draw(st.sampled_from(sorted(self.holds)))
        hold = self.holds[ref]
        try:
            ledger.post_hold(hold_id=hold["id"], merchant_partner_id=self.shop, now=self.now)
        except Conflict as error:
            if hold["status"] == "pending":
                assert error.code == "hold_expired" and hold["expires_at"] <= self.now
            else:
                assert hold["status"] in ("voided", "expired") and error.code == "hold_not_pending"
            return
        assert hold["status"] in ("pending", "posted")
        if hold["status"] == "pending":
            assert hold["expires_at"] > self.now
            hold["status"] = "posted"
            self.reserved -= hold["amount"]

    def _release(self, hold):
        self.balance += hold["amount"]
        self.reserved -= hold["amount"]
        for lot_ref, amount in hold["alloc"].items():
            self.lots[lot_ref]["remaining"] += amount
        self._model_expire()

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def void(self, data):
        ref = data.draw(st.sampled_from(sorted(self.holds)))
        hold = self.holds[ref]
        try:
            ledger.void_hold(hold_id=hold["id"], now=self.now)
        except Conflict as error:
            assert hold["status"] == "posted" and error.code == "hold_not_pending"
            return
        assert hold["status"] != "posted"
        if hold["status"] == "pending":
            hold["status"] = "voided"
            self._release(hold)

    @rule()
    def expire_holds(self):
        ledger.expire_due_holds(now=self.now)
        for hold in sorted(self.holds.values(), key=lambda h: h["expires_at"]):
            if hold["status"] == "pending" and hold["expires_at"] <= self.now:
                hold["status"] = "expired"
                self._release(hold)

    @rule()
    def expire_lots(self):
        ledger.expire_due_lots(now=self.now)
        self._model_expire()

    @rule(days=st.integers(1, 400))
    def advance_clock(self, days):
        self.now += dt.timedelta(days=days)

    @precondition(lambda self: self.earns)
    @rule(data=st.data())
    def reverse(self, data):
        ref = data.draw(st.sampled_from(sorted(self.earns)))
        earn = self.earns[ref]
        try:
            reversal = ledger.reverse_earn(external_ref=ref, reason="test", actor_user_id=None,
                                           now=self.now)
        except Conflict as error:
            assert earn["reversed"] and error.code == "already_reversed"
            return
        assert not earn["reversed"]
        earn["reversed"] = True
        self._model_expire()
        clawed = min(earn["amount"], self.balance)
        self._take(clawed, first=ref)
        self.balance -= clawed
        assert (reversal.clawed_back, reversal.shortfall) == (clawed, earn["amount"] - clawed)

    @rule()
    def seal(self):
        ledger.seal_pending()

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def matches_the_model(self):
        db.session.expire_all()
        account = db.session.scalars(select(LedgerAccount)
                                     .where(LedgerAccount.user_id == self.user)).first()
        if account is None:
            assert self.balance == self.reserved == 0
            return
        assert (account.balance, account.reserved) == (self.balance, self.reserved)
        remaining = dict(db.session.execute(
            select(LedgerTransfer.external_ref, LedgerLot.remaining)
            .join(LedgerLot, LedgerLot.earn_transfer_id == LedgerTransfer.id)
            .where(LedgerLot.account_id == account.id)).all())
        assert remaining == {ref: lot["remaining"] for ref, lot in self.lots.items()}
        due = sum(lot["remaining"] for lot in self.lots.values() if lot["expires_at"] <= self.now)
        balance = ledger.get_balance(user_id=self.user, now=self.now)
        assert (balance.available, balance.reserved) == (self.balance - due, self.reserved)
        assert balance.available >= 0

    @invariant()
    def books_verify(self):
        report = ledger.verify_ledger()
        assert report.problems == []

    def teardown(self):
        db.session.rollback()


@pytest.mark.timeout(900)  # passing takes seconds; shrinking a failure may take minutes
def test_ledger_matches_a_simple_model_after_every_step(app):
    with app.app_context():
        run_state_machine_as_test(LedgerMachine, settings=settings(
            max_examples=20, stateful_step_count=30, deadline=None, database=None,
            suppress_health_check=list(HealthCheck)))
        db.session.remove()
