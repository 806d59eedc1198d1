"""The points ledger on a real database: every rule of docs/ledger.md has a test named after it."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from carbon_credits.domain.errors import Conflict, NotFound, ValidationFailed
from carbon_credits.services import ledger
from carbon_credits.services.ledger import EarnEntry
from models import (AuditEntry, LedgerAccount, LedgerHold, LedgerLot, LedgerReversal,
                    LedgerSeal, LedgerTransfer, db)
from tests.conftest import IS_POSTGRES

UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC).replace(microsecond=0)


def make_user(email=None):
    from carbon_credits.services.auth import register_user
    return register_user(email=email or f"c-{uuid.uuid4().hex[:10]}@example.test", phone=None,
                         password="long enough pw", display_name="C").id


def make_merchant():
    from carbon_credits.services.partners import create_partner
    return create_partner(name=f"shop-{uuid.uuid4().hex[:8]}", kind="merchant",
                          actor_user_id=None).partner.id


def earn(user_id, amount, ref=None, *, when=None, action_id=None):
    return ledger.post_earn(user_id=user_id, amount=amount, external_ref=ref or uuid.uuid4().hex,
                            action_id=action_id, event_time=when or NOW)


def hold_for(user_id, amount, ref=None, *, minutes=30, now=None):
    now = now or dt.datetime.now(UTC)
    return ledger.reserve(user_id=user_id, amount=amount, external_ref=ref or uuid.uuid4().hex,
                          expires_at=now + dt.timedelta(minutes=minutes), now=now)


def account(user_id) -> LedgerAccount:
    db.session.expire_all()
    return db.session.scalars(select(LedgerAccount).where(LedgerAccount.user_id == user_id)).one()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def assert_clean():
    report = ledger.verify_ledger()
    assert report.problems == []
    return report


pytestmark = pytest.mark.usefixtures("app_ctx")


# --- earning -------------------------------------------------------------------------------

def test_earn_credits_the_citizen_and_records_the_balance_after():
    user = make_user()
    first = earn(user, 100)
    second = earn(user, 50)
    assert (first.kind, first.amount, first.balance_after) == ("earn", 100, 100)
    assert second.balance_after == 150
    assert account(user).balance == 150
    assert ledger.get_balance(user_id=user).available == 150
    assert_clean()


def test_the_same_external_ref_posts_once():
    user = make_user()
    first = earn(user, 100, "partner-1:rec-1")
    again = earn(user, 100, "partner-1:rec-1")
    assert again.id == first.id
    assert account(user).balance == 100 and count(LedgerTransfer) == 1 and count(LedgerLot) == 1


def test_the_same_external_ref_with_other_details_is_a_conflict():
    user = make_user()
    earn(user, 100, "ref-x")
    with pytest.raises(Conflict) as caught:
        earn(user, 101, "ref-x")
    assert caught.value.code == "ledger_ref_conflict"
    db.session.rollback()
    with pytest.raises(Conflict):
        earn(make_user(), 100, "ref-x")
    db.session.rollback()
    assert account(user).balance == 100 and count(LedgerTransfer) == 1


@pytest.mark.parametrize("amount", [0, -5, True, 1.5, 10**13])
def test_amounts_are_positive_whole_points(amount):
    user = make_user()
    with pytest.raises(ValidationFailed):
        earn(user, amount)
    assert count(LedgerTransfer) == 0


def test_naive_event_time_is_refused():
    with pytest.raises(ValidationFailed):
        ledger.post_earn(user_id=make_user(), amount=5, external_ref="r",
                         event_time=dt.datetime.now())


def test_earning_for_an_unknown_user_is_not_found():
    with pytest.raises(NotFound):
        earn(uuid.uuid4(), 5)


def test_bulk_earns_keep_each_balance_after_and_update_each_account_once():
    a, b = make_user(), make_user()
    earn(a, 10, "pre")
    entries = [EarnEntry(user_id=a, amount=5, external_ref="b-1", event_time=NOW),
               EarnEntry(user_id=b, amount=7, external_ref="b-2", event_time=NOW),
               EarnEntry(user_id=a, amount=3, external_ref="b-3", event_time=NOW),
               EarnEntry(user_id=a, amount=10, external_ref="pre", event_time=NOW),  # resent
               EarnEntry(user_id=a, amount=3, external_ref="b-3", event_time=NOW)]   # dup in batch
    results = ledger.post_earns(entries)
    assert [t.balance_after for t in results] == [15, 7, 18, 10, 18]
    assert results[3].external_ref == "pre" and results[4].id == results[2].id
    assert len({t.posting_id for t in results[:3]}) == 1
    assert account(a).balance == 18 and account(b).balance == 7
    assert count(LedgerTransfer) == 4 and count(LedgerLot) == 4
    assert ledger.post_earns([]) == []
    assert_clean()


def test_bulk_earn_of_a_thousand_records_is_one_batch():
    users = [make_user() for _ in range(5)]
    entries = [EarnEntry(user_id=users[i % 5], amount=1 + i % 7, external_ref=f"big-{i}",
                         event_time=NOW) for i in range(1000)]
    results = ledger.post_earns(entries)
    assert len(results) == 1000
    for user in users:
        mine = [e.amount for e in entries if e.user_id == user]
        assert account(user).balance == sum(mine)
    with pytest.raises(ValidationFailed):
        ledger.post_earns(entries + entries[:1])
    assert_clean()


def test_system_accounts_keep_no_running_balance():
    user = make_user()
    earn(user, 100)
    issuance = db.session.scalars(select(LedgerAccount)
                                  .where(LedgerAccount.system_code == "issuance")).one()
    assert issuance.balance == 0 and issuance.reserved == 0
    with pytest.raises(IntegrityError):
        db.session.execute(update(LedgerAccount).where(LedgerAccount.id == issuance.id)
                           .values(balance=100))
    db.session.rollback()


def test_a_system_account_created_in_a_rolled_back_transaction_is_not_remembered():
    from carbon_credits.services.uow import unit_of_work
    user = make_user()
    with pytest.raises(RuntimeError):
        with unit_of_work():
            earn(user, 5)  # creates the issuance account lazily, then the whole thing rolls back
            raise RuntimeError("abort")
    assert count(LedgerTransfer) == 0
    assert db.session.scalar(select(func.count()).select_from(LedgerAccount)
                             .where(LedgerAccount.system_code == "issuance")) == 0
    earn(user, 7)  # a remembered id from the rolled-back attempt would break this posting
    assert account(user).balance == 7
    assert_clean()


def test_fresh_refs_skip_the_look_up_but_a_repeat_is_still_refused():
    user = make_user()
    entry = EarnEntry(user_id=user, amount=3, external_ref="fresh-1", event_time=NOW)
    assert ledger.post_new_earns([entry]) is None
    db.session.commit()
    with pytest.raises(Conflict):
        ledger.post_new_earns([entry])
    db.session.rollback()
    assert account(user).balance == 3
    assert count(LedgerTransfer) == 1
    assert_clean()


def test_double_entry_sums_to_zero_over_all_accounts():
    user = make_user()
    earn(user, 100)
    hold_for(user, 30)
    totals = db.session.execute(text(
        "SELECT SUM(amount) FROM ledger_transfers")).scalar()
    per_account = db.session.execute(text(
        "SELECT SUM(s) FROM (SELECT credit_account_id AS a, amount AS s FROM ledger_transfers "
        "UNION ALL SELECT debit_account_id, -amount FROM ledger_transfers) x")).scalar()
    assert totals == 130 and per_account == 0


# --- database rules ------------------------------------------------------------------------

def test_citizen_balance_can_never_go_negative_in_the_database():
    user = make_user()
    earn(user, 5)
    with pytest.raises(IntegrityError):
        db.session.execute(update(LedgerAccount).where(LedgerAccount.user_id == user)
                           .values(balance=-1))
    db.session.rollback()


@pytest.mark.parametrize("table", ["ledger_transfers", "ledger_seals", "ledger_reversals"])
def test_ledger_history_tables_refuse_update_and_delete(table):
    user = make_user()
    earn(user, 5, "e1")
    ledger.reverse_earn(external_ref="e1", reason="test", actor_user_id=None)
    ledger.seal_pending()
    for statement in (f"UPDATE {table} SET created_at = created_at" if table == "ledger_reversals"
                      else f"UPDATE {table} SET {'amount = amount + 1' if table == 'ledger_transfers' else 'hash = hash'}",
                      f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError):
            db.session.execute(text(statement))
        db.session.rollback()
    assert count(LedgerTransfer) == 2


def test_transfer_amount_must_be_positive_in_the_database():
    user = make_user()
    t = earn(user, 5)
    with pytest.raises(IntegrityError):
        db.session.execute(text(
            "INSERT INTO ledger_transfers (id, posting_id, kind, reason, debit_account_id, "
            "credit_account_id, amount, external_ref, event_time, recorded_at) "
            "VALUES (:id, :id, 'earn', 'x', :d, :c, 0, 'zero', :t, :t)"),
            {"id": uuid.uuid4().hex if not IS_POSTGRES else uuid.uuid4(),
             "d": t.debit_account_id, "c": t.credit_account_id, "t": NOW})
    db.session.rollback()


# --- holds ---------------------------------------------------------------------------------

def test_reserve_moves_points_from_available_to_reserved():
    user = make_user()
    earn(user, 100)
    hold = hold_for(user, 30)
    acc = account(user)
    assert (acc.balance, acc.reserved) == (70, 30)
    balance = ledger.get_balance(user_id=user)
    assert (balance.available, balance.reserved) == (70, 30)
    assert hold.status == "pending"
    assert_clean()


def test_reserve_beyond_available_is_refused_and_changes_nothing():
    user = make_user()
    earn(user, 100)
    hold_for(user, 60)
    with pytest.raises(Conflict) as caught:
        hold_for(user, 41)
    assert caught.value.code == "insufficient_balance"
    db.session.rollback()
    acc = account(user)
    assert (acc.balance, acc.reserved) == (40, 60) and count(LedgerHold) == 1


def test_reserve_is_idempotent_by_external_ref():
    user = make_user()
    earn(user, 100)
    first = hold_for(user, 30, "redeem-1")
    again = hold_for(user, 30, "redeem-1")
    assert again.id == first.id and account(user).reserved == 30
    with pytest.raises(Conflict) as caught:
        hold_for(user, 31, "redeem-1")
    assert caught.value.code == "ledger_ref_conflict"


def test_post_pays_the_merchant_and_clears_the_reservation():
    user, shop = make_user(), make_merchant()
    earn(user, 100)
    hold = hold_for(user, 30)
    transfer = ledger.post_hold(hold_id=hold.id, merchant_partner_id=shop)
    assert (transfer.kind, transfer.amount, transfer.balance_after) == ("redeem", 30, 70)
    acc = account(user)
    assert (acc.balance, acc.reserved) == (70, 0)
    merchant = db.session.scalars(select(LedgerAccount)
                                  .where(LedgerAccount.partner_id == shop)).one()
    assert merchant.balance == 30
    assert ledger.post_hold(hold_id=hold.id, merchant_partner_id=shop).id == transfer.id
    assert_clean()


def test_void_returns_points_to_available():
    user = make_user()
    earn(user, 100)
    hold = hold_for(user, 30)
    release = ledger.void_hold(hold_id=hold.id)
    assert (release.kind, release.amount, release.balance_after) == ("release", 30, 100)
    acc = account(user)
    assert (acc.balance, acc.reserved) == (100, 0)
    assert ledger.void_hold(hold_id=hold.id).id == release.id  # again: the same release
    assert_clean()


def test_a_posted_hold_can_never_be_voided():
    user, shop = make_user(), make_merchant()
    earn(user, 100)
    hold = hold_for(user, 30)
    ledger.post_hold(hold_id=hold.id, merchant_partner_id=shop)
    with pytest.raises(Conflict) as caught:
        ledger.void_hold(hold_id=hold.id)
    assert caught.value.code == "hold_not_pending"


@pytest.mark.parametrize("expired", [False, True])
def test_a_voided_or_expired_hold_can_never_be_posted(expired):
    user, shop = make_user(), make_merchant()
    earn(user, 100)
    now = dt.datetime.now(UTC)
    hold = hold_for(user, 30, now=now, minutes=1)
    ledger.void_hold(hold_id=hold.id, expired=expired, now=now + dt.timedelta(minutes=2))
    with pytest.raises(Conflict) as caught:
        ledger.post_hold(hold_id=hold.id, merchant_partner_id=shop)
    assert caught.value.code == "hold_not_pending"
    assert account(user).balance == 100


def test_an_overdue_hold_cannot_be_posted_and_expires():
    user, shop = make_user(), make_merchant()
    earn(user, 100)
    now = dt.datetime.now(UTC)
    hold = hold_for(user, 30, now=now, minutes=5)
    later = now + dt.timedelta(minutes=6)
    with pytest.raises(Conflict) as caught:
        ledger.post_hold(hold_id=hold.id, merchant_partner_id=shop, now=later)
    assert caught.value.code == "hold_expired"
    db.session.rollback()
    assert ledger.expire_due_holds(now=now) == 0
    assert ledger.expire_due_holds(now=later) == 1
    assert ledger.expire_due_holds(now=later) == 0
    db.session.expire_all()
    assert db.session.get(LedgerHold, hold.id).status == "expired"
    assert account(user).balance == 100 and account(user).reserved == 0
    assert_clean()


def test_a_hold_that_is_not_due_cannot_be_expired():
    user = make_user()
    earn(user, 10)
    hold = hold_for(user, 5)
    with pytest.raises(Conflict) as caught:
        ledger.void_hold(hold_id=hold.id, expired=True)
    assert caught.value.code == "hold_not_due"


def test_posting_to_a_non_merchant_is_not_found():
    from carbon_credits.services.partners import create_partner
    user = make_user()
    earn(user, 10)
    hold = hold_for(user, 5)
    transit = create_partner(name="metro", kind="transit_operator", actor_user_id=None).partner.id
    with pytest.raises(NotFound):
        ledger.post_hold(hold_id=hold.id, merchant_partner_id=transit)
    with pytest.raises(NotFound):
        ledger.post_hold(hold_id=uuid.uuid4(), merchant_partner_id=transit)


# --- lots and expiry -----------------------------------------------------------------------

def test_each_earn_opens_a_lot_expiring_after_the_scheme_months():
    user = make_user()
    when = dt.datetime(2025, 1, 31, 12, 0, tzinfo=UTC)
    t = earn(user, 40, when=when)
    lot = db.session.scalars(select(LedgerLot).where(LedgerLot.earn_transfer_id == t.id)).one()
    assert lot.expires_at == dt.datetime(2027, 1, 31, 12, 0, tzinfo=UTC)
    assert (lot.amount, lot.remaining) == (40, 40)


def test_spends_consume_the_oldest_lots_so_expiry_never_takes_spent_points():
    user = make_user()
    now = dt.datetime.now(UTC)
    old = earn(user, 100, when=now - dt.timedelta(days=700))   # expires in ~30 days
    earn(user, 100, when=now - dt.timedelta(days=10))
    hold_for(user, 120, now=now)
    lots = {lot.earn_transfer_id: lot.remaining for lot in db.session.scalars(select(LedgerLot))}
    assert lots[old.id] == 0
    later = now + dt.timedelta(days=40)
    assert ledger.expire_due_lots(now=later) == 0  # nothing left in the old lot: nothing expires
    assert account(user).balance == 80
    assert_clean()


def test_expiry_posts_what_is_left_and_running_twice_expires_once():
    user = make_user()
    now = dt.datetime.now(UTC)
    earn(user, 100, when=now - dt.timedelta(days=700))
    earn(user, 50, when=now)
    hold_for(user, 30, now=now)
    later = now + dt.timedelta(days=40)
    balance = ledger.get_balance(user_id=user, now=later)
    assert balance.available == 50  # 70 left in the old lot are past expiry
    assert ledger.expire_due_lots(now=later) == 1
    assert ledger.expire_due_lots(now=later) == 0
    expired = db.session.scalars(select(LedgerTransfer).where(LedgerTransfer.kind == "expire")).all()
    assert [t.amount for t in expired] == [70]
    assert account(user).balance == 50
    assert_clean()


def test_balance_shows_what_expires_when():
    user = make_user()
    now = dt.datetime.now(UTC)
    a = now - dt.timedelta(days=100)
    b = now - dt.timedelta(days=10)
    earn(user, 30, when=b)
    earn(user, 20, when=a)
    balance = ledger.get_balance(user_id=user, now=now)
    assert balance.expiring == [(20, ledger.rules.add_months(a, 24)),
                                (30, ledger.rules.add_months(b, 24))]


def test_voided_points_return_to_their_lots_and_expire_if_the_lot_has():
    user = make_user()
    now = dt.datetime.now(UTC)
    earn(user, 100, when=now - dt.timedelta(days=729))  # expires in about a day
    hold = hold_for(user, 60, now=now, minutes=60 * 24 * 3)
    later = now + dt.timedelta(days=2)
    assert ledger.expire_due_lots(now=later) == 1  # the 40 not held
    assert account(user).balance == 0
    ledger.void_hold(hold_id=hold.id, now=later)  # 60 back into an expired lot: they expire too
    acc = account(user)
    assert (acc.balance, acc.reserved) == (0, 0)
    kinds = [t.kind for t in db.session.scalars(select(LedgerTransfer)
                                                .order_by(LedgerTransfer.seq))]
    assert kinds == ["earn", "reserve", "expire", "release", "expire"]
    assert_clean()


def test_reserve_does_not_spend_points_past_expiry():
    user = make_user()
    now = dt.datetime.now(UTC)
    earn(user, 100, when=now - dt.timedelta(days=731))
    with pytest.raises(Conflict) as caught:
        hold_for(user, 1, now=now)
    assert caught.value.code == "insufficient_balance"


# --- reversals -----------------------------------------------------------------------------

def test_reversal_claws_back_the_whole_earn_when_it_is_available():
    user, auditor = make_user(), make_user()
    action = uuid.uuid4()
    earn(user, 100, action_id=action)
    earn(user, 20)
    reversal = ledger.reverse_earn(action_id=action, reason="duplicate trip",
                                   actor_user_id=auditor)
    assert (reversal.earned, reversal.clawed_back, reversal.shortfall) == (100, 100, 0)
    assert account(user).balance == 20
    audit = db.session.scalars(select(AuditEntry)
                               .where(AuditEntry.action == "ledger.earn_reversed")).one()
    assert audit.details["clawed_back"] == 100 and audit.actor_user_id == auditor
    assert_clean()


def test_reversal_is_capped_at_the_available_balance_and_records_the_shortfall():
    user, shop = make_user(), make_merchant()
    earn(user, 100, "e-1")
    hold = hold_for(user, 70)
    ledger.post_hold(hold_id=hold.id, merchant_partner_id=shop)
    hold_for(user, 10)
    reversal = ledger.reverse_earn(external_ref="e-1", reason="fraud", actor_user_id=None)
    assert (reversal.clawed_back, reversal.shortfall) == (20, 80)
    acc = account(user)
    assert (acc.balance, acc.reserved) == (0, 10)
    assert_clean()


def test_reversal_with_nothing_left_records_the_whole_shortfall_without_a_transfer():
    user, shop = make_user(), make_merchant()
    earn(user, 50, "e-1")
    ledger.post_hold(hold_id=hold_for(user, 50).id, merchant_partner_id=shop)
    reversal = ledger.reverse_earn(external_ref="e-1", reason="fraud", actor_user_id=None)
    assert (reversal.clawed_back, reversal.shortfall, reversal.transfer_id) == (0, 50, None)
    assert count(LedgerTransfer) == 3
    assert_clean()


def test_reversing_twice_is_refused():
    user = make_user()
    earn(user, 50, "e-1")
    ledger.reverse_earn(external_ref="e-1", reason="x", actor_user_id=None)
    with pytest.raises(Conflict) as caught:
        ledger.reverse_earn(external_ref="e-1", reason="x", actor_user_id=None)
    assert caught.value.code == "already_reversed"
    db.session.rollback()
    assert count(LedgerReversal) == 1


def test_the_database_refuses_a_second_reversal_record():
    user = make_user()
    t = earn(user, 50, "e-1")
    r = ledger.reverse_earn(external_ref="e-1", reason="x", actor_user_id=None)
    db.session.add(LedgerReversal(target_transfer_id=t.id, account_id=r.account_id, earned=50,
                                  clawed_back=0, shortfall=50, reason="again"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_reversal_takes_the_reversed_earns_own_lot_first():
    user = make_user()
    now = dt.datetime.now(UTC)
    earn(user, 30, "old", when=now - dt.timedelta(days=100))
    new = earn(user, 40, "new", when=now)
    ledger.reverse_earn(external_ref="new", reason="x", actor_user_id=None)
    lots = {lot.earn_transfer_id: lot.remaining for lot in db.session.scalars(select(LedgerLot))}
    assert lots[new.id] == 0 and sum(lots.values()) == 30


def test_reverse_needs_exactly_one_target():
    with pytest.raises(ValidationFailed):
        ledger.reverse_earn(reason="x", actor_user_id=None)
    with pytest.raises(NotFound):
        ledger.reverse_earn(external_ref="nope", reason="x", actor_user_id=None)


# --- reads ---------------------------------------------------------------------------------

def test_statement_is_newest_first_signed_and_keyset_paginated():
    user, shop = make_user(), make_merchant()
    action = uuid.uuid4()
    earn(user, 100, action_id=action)
    hold = hold_for(user, 30)
    ledger.post_hold(hold_id=hold.id, merchant_partner_id=shop)
    hold2 = hold_for(user, 10)
    ledger.void_hold(hold_id=hold2.id)
    entries, key = ledger.list_statement(user_id=user, limit=3)
    assert [(e.kind, e.amount, e.balance_after) for e in entries] == [
        ("release", 10, 70), ("reserve", -10, 60), ("redeem", 0, 70)]
    rest, key2 = ledger.list_statement(user_id=user, limit=3, after=key)
    assert [(e.kind, e.amount, e.balance_after) for e in rest] == [
        ("reserve", -30, 70), ("earn", 100, 100)]
    assert key2 is None
    only, _ = ledger.list_statement(user_id=user, action_id=action, limit=10)
    assert [e.kind for e in only] == ["earn"]
    reserves, _ = ledger.list_statement(user_id=user, kind="reserve", limit=10)
    assert len(reserves) == 2
    assert ledger.list_statement(user_id=make_user(), limit=10) == ([], None)


def test_balance_of_a_user_without_an_account_is_zero():
    assert ledger.get_balance(user_id=make_user()) == ledger.Balance(0, 0, [])


# --- hash chain and verify -----------------------------------------------------------------

def test_sealer_chains_every_transfer_and_verify_recomputes_it():
    user = make_user()
    earn(user, 10)
    earn(user, 20)
    report = assert_clean()
    assert (report.sealed, report.pending_seal) == (0, 2)
    assert ledger.seal_pending() == 2
    earn(user, 5)
    assert ledger.seal_pending() == 1
    assert ledger.seal_pending() == 0
    report = assert_clean()
    assert (report.sealed, report.pending_seal, report.entries_checked) == (3, 0, 3)
    seals = db.session.scalars(select(LedgerSeal).order_by(LedgerSeal.position)).all()
    assert seals[0].prev_hash == "0" * 64 and seals[1].prev_hash == seals[0].hash
    assert report.chain_head == seals[-1].hash


def test_watermark_only_passes_settled_transfers():
    user = make_user()
    earn(user, 10)
    ledger.seal_pending(settle_seconds=0)
    head = db.session.execute(text("SELECT watermark_seq FROM ledger_chain_head")).scalar()
    assert head == 1
    earn(user, 10)
    ledger.seal_pending()  # settle window: watermark stays
    assert db.session.execute(text("SELECT watermark_seq FROM ledger_chain_head")).scalar() == 1
    assert ledger.seal_all(settle_seconds=0) == 0
    assert_clean()


def _tamper(sql: str, params: dict):
    """Run `sql` behind the application's back, with the append-only triggers out of the way."""
    if IS_POSTGRES:
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
        db.session.execute(text(sql), params)
        db.session.commit()
    else:
        for event in ("update", "delete"):
            db.session.execute(text(f"DROP TRIGGER ledger_transfers_no_{event}"))
        db.session.execute(text(sql), params)
        for event in ("UPDATE", "DELETE"):
            db.session.execute(text(
                f"CREATE TRIGGER ledger_transfers_no_{event.lower()} BEFORE {event} ON "
                f"ledger_transfers BEGIN SELECT RAISE(ABORT, 'table ledger_transfers is "
                f"append-only'); END"))
        db.session.commit()


@pytest.mark.no_verify
def test_verify_catches_a_transfer_edited_behind_the_applications_back(runner):
    user = make_user()
    earn(user, 10)
    target = earn(user, 20)
    ledger.seal_pending()
    assert_clean()
    _tamper("UPDATE ledger_transfers SET amount = 2000 WHERE seq = :seq", {"seq": target.seq})
    report = ledger.verify_ledger()
    assert not report.ok
    assert any("no longer matches seal 2" in p for p in report.problems)
    assert any("stored balance 30 but its transfers sum to 2010" in p for p in report.problems)
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1 and "no longer matches seal" in result.output
    # Edit it back: the chain verifies again and the append-only rule is in force.
    _tamper("UPDATE ledger_transfers SET amount = 20 WHERE seq = :seq", {"seq": target.seq})
    assert_clean()
    with pytest.raises(DBAPIError):
        db.session.execute(text("UPDATE ledger_transfers SET amount = 1"))
    db.session.rollback()


@pytest.mark.no_verify
def test_verify_catches_an_unsealed_edit_through_the_balances():
    user = make_user()
    target = earn(user, 20)
    _tamper("UPDATE ledger_transfers SET balance_after = 7 WHERE seq = :seq", {"seq": target.seq})
    problems = ledger.verify_ledger().problems
    assert any("balance_after 7" in p for p in problems)
    _tamper("UPDATE ledger_transfers SET balance_after = 20 WHERE seq = :seq", {"seq": target.seq})
    assert_clean()


@pytest.mark.no_verify
def test_verify_catches_a_stored_balance_that_disagrees_with_its_transfers():
    user = make_user()
    earn(user, 20)
    db.session.execute(update(LedgerAccount).where(LedgerAccount.user_id == user)
                       .values(balance=25))
    db.session.commit()
    problems = ledger.verify_ledger().problems
    assert any("stored balance 25 but its transfers sum to 20" in p for p in problems)
    assert any("live lots hold 20" in p for p in problems)
    db.session.execute(update(LedgerAccount).where(LedgerAccount.user_id == user)
                       .values(balance=20))
    db.session.commit()
    assert_clean()


@pytest.mark.no_verify
def test_verify_catches_reserved_that_disagrees_with_pending_holds():
    user = make_user()
    earn(user, 20)
    hold_for(user, 5)
    db.session.execute(update(LedgerAccount).where(LedgerAccount.user_id == user)
                       .values(reserved=0))
    db.session.commit()
    assert any("reserved 0 but pending holds total 5" in p
               for p in ledger.verify_ledger().problems)
    db.session.execute(update(LedgerAccount).where(LedgerAccount.user_id == user)
                       .values(reserved=5))
    db.session.commit()
    assert_clean()


def test_cli_seal_and_verify(runner):
    user = make_user()
    earn(user, 10)
    db.session.commit()
    result = runner.invoke(args=["ledger", "seal"])
    assert result.exit_code == 0 and "sealed: 1" in result.output
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "entries checked: 1" in result.output and "ledger verify: ok" in result.output


def adjust(user, points, ref, *, requester, approver, reason="goodwill", note="lost trip"):
    from carbon_credits.services import adjustments
    request = adjustments.request_adjustment(user_id=user, points=points, reason=reason, note=note,
                                             external_ref=ref, actor_user_id=requester)
    adjustments.approve_adjustment(adjustment_id=request.id, actor_user_id=approver)
    return db.session.scalars(select(LedgerTransfer)
                              .where(LedgerTransfer.external_ref == f"adjustment:{request.id}")).one()


def test_adjustments_keep_lots_and_balances_consistent():
    user = make_user()
    earn(user, 10, when=NOW - dt.timedelta(days=1))
    requester, approver = make_user(), make_user()
    up = adjust(user, 30, "T-1", requester=requester, approver=approver)
    assert (up.kind, up.amount, up.balance_after) == ("adjustment", 30, 40)
    down = adjust(user, -35, "T-2", requester=requester, approver=approver, reason="correction")
    assert down.balance_after == 5
    assert account(user).balance == 5
    assert db.session.scalar(select(func.sum(LedgerLot.remaining))
                             .where(LedgerLot.account_id == account(user).id)) == 5
    with pytest.raises(Conflict):
        adjust(user, -6, "T-3", requester=requester, approver=approver, reason="correction")
    db.session.rollback()
    assert account(user).balance == 5
    assert_clean()


@pytest.mark.no_verify
def test_verify_catches_an_adjustment_posted_without_an_approved_request():
    from carbon_credits.services.verify import verify_all
    user = make_user()
    ledger.post_adjustment(user_id=user, points=8, reason="goodwill", note="no second person",
                           external_ref="ROGUE-1", actor_user_id=None)
    db.session.commit()
    assert any("has no approved request" in p for p in verify_all())


@pytest.mark.no_verify
def test_verify_catches_an_adjustment_that_does_not_move_between_issuance_and_a_citizen():
    user = make_user()
    transfer = adjust(user, 8, "T-9", requester=make_user(), approver=make_user())
    db.session.commit()
    holds = ledger._system_account_id("holds")
    db.session.commit()
    _tamper("UPDATE ledger_transfers SET debit_account_id = :holds WHERE seq = :seq",
            {"holds": holds, "seq": transfer.seq})
    problems = ledger.verify_ledger().problems
    assert any("moves holds -> citizen, expected issuance <-> citizen" in p for p in problems)
    issuance = ledger._system_account_id("issuance")
    _tamper("UPDATE ledger_transfers SET debit_account_id = :issuance WHERE seq = :seq",
            {"issuance": issuance, "seq": transfer.seq})
    assert_clean()
