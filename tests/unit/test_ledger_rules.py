"""Pure ledger rules (carbon_credits/domain/ledger.py): posting input bounds, FIFO lots, the
clawback cap, calendar months, the hash-chain link and the invariants verify checks."""
from __future__ import annotations

import datetime as dt
import types
import uuid

import pytest
from hypothesis import given, strategies as st

from carbon_credits.domain import ledger as rules
from carbon_credits.domain.errors import ValidationFailed

UTC = dt.timezone.utc


# --- posting input ----------------------------------------------------------------------------

@pytest.mark.parametrize("points", [1, 7, rules.MAX_TRANSFER_POINTS])
def test_whole_points_within_bounds_are_accepted(points):
    rules.check_points(points)


@pytest.mark.parametrize("points", [0, -1, rules.MAX_TRANSFER_POINTS + 1, True, 1.0, "5", None])
def test_points_outside_bounds_or_not_whole_are_refused(points):
    with pytest.raises(ValidationFailed) as refused:
        rules.check_points(points, "points")
    assert refused.value.errors == {"points": [
        f"Must be a whole number of points from 1 to {rules.MAX_TRANSFER_POINTS}."]}


def test_refs_are_1_to_200_characters_without_nul():
    rules.check_ref("a")
    rules.check_ref("r" * rules.MAX_REF_LENGTH)
    for bad in ("", "r" * (rules.MAX_REF_LENGTH + 1), "a\x00b", 42, None):
        with pytest.raises(ValidationFailed) as refused:
            rules.check_ref(bad)
        assert list(refused.value.errors) == ["external_ref"]


def test_times_must_be_aware():
    rules.check_time(dt.datetime(2025, 1, 1, tzinfo=UTC), "event_time")
    for bad in (dt.datetime(2025, 1, 1), dt.date(2025, 1, 1), "2025-01-01T00:00:00Z"):
        with pytest.raises(ValidationFailed) as refused:
            rules.check_time(bad, "event_time")
        assert refused.value.errors == {"event_time": ["Must be an aware datetime."]}


def test_reasons_are_non_blank_and_bounded():
    rules.check_reason("action_credited")
    rules.check_reason("n" * 1000, "note", maximum=1000)
    for bad in ("", "   ", "n" * 65, "a\x00", None):
        with pytest.raises(ValidationFailed):
            rules.check_reason(bad)
    with pytest.raises(ValidationFailed) as refused:
        rules.check_reason("n" * 1001, "note", maximum=1000)
    assert refused.value.errors == {"note": ["Must be 1-1000 characters."]}


# --- FIFO lots ----------------------------------------------------------------------------------

def test_fifo_takes_the_oldest_lot_first_and_leaves_later_lots_alone():
    assert rules.allocate_fifo([("old", 10), ("new", 10)], 4) == [("old", 4)]


def test_fifo_spills_into_the_next_lot_taking_part_of_it():
    assert rules.allocate_fifo([("a", 3), ("b", 10), ("c", 5)], 8) == [("a", 3), ("b", 5)]


def test_fifo_exactly_exhausting_every_lot_takes_them_all():
    assert rules.allocate_fifo([("a", 3), ("b", 4)], 7) == [("a", 3), ("b", 4)]


def test_fifo_skips_empty_lots():
    assert rules.allocate_fifo([("empty", 0), ("b", 4)], 2) == [("b", 2)]


def test_fifo_asking_more_than_the_lots_hold_is_an_error():
    with pytest.raises(ValueError, match="short by 3 points"):
        rules.allocate_fifo([("a", 3), ("b", 4)], 10)
    with pytest.raises(ValueError):
        rules.allocate_fifo([], 1)


@pytest.mark.parametrize("amount", [0, -5])
def test_fifo_of_nothing_takes_nothing(amount):
    assert rules.allocate_fifo([("a", 3)], amount) == []
    assert rules.allocate_fifo([], amount) == []


lots_strategy = st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=20)


@given(remaining=lots_strategy, data=st.data())
def test_fifo_takes_exactly_the_amount_never_more_than_a_lot_in_order(remaining, data):
    lots = list(enumerate(remaining))
    amount = data.draw(st.integers(min_value=1, max_value=max(1, sum(remaining))))
    if amount > sum(remaining):
        with pytest.raises(ValueError):
            rules.allocate_fifo(lots, amount)
        return
    taken = rules.allocate_fifo(lots, amount)
    assert sum(take for _, take in taken) == amount
    assert all(0 < take <= remaining[lot] for lot, take in taken)
    ids = [lot for lot, _ in taken]
    assert ids == sorted(ids)  # in the order given
    # Every lot before the last one touched is emptied: nothing newer is used while older
    # points are left.
    last = ids[-1]
    assert all(dict(taken).get(lot, 0) == remaining[lot] for lot in range(last))


# --- clawback cap ---------------------------------------------------------------------------------

def test_clawback_takes_it_all_back_when_the_balance_covers_it():
    assert rules.clawback(earned=40, available=100) == (40, 0)
    assert rules.clawback(earned=40, available=40) == (40, 0)


def test_clawback_is_capped_at_the_available_balance_and_records_the_shortfall():
    assert rules.clawback(earned=40, available=15) == (15, 25)
    assert rules.clawback(earned=40, available=0) == (0, 40)
    assert rules.clawback(earned=40, available=-5) == (0, 40)


@given(earned=st.integers(min_value=1, max_value=10**12),
       available=st.integers(min_value=-10**6, max_value=10**13))
def test_clawback_never_takes_more_than_available_and_adds_up(earned, available):
    clawed, shortfall = rules.clawback(earned=earned, available=available)
    assert clawed + shortfall == earned
    assert 0 <= clawed <= max(0, available) and shortfall >= 0


# --- calendar months ------------------------------------------------------------------------------

def test_add_months_keeps_day_time_and_zone():
    moment = dt.datetime(2025, 6, 1, 8, 30, 15, 123, tzinfo=UTC)
    assert rules.add_months(moment, 24) == dt.datetime(2027, 6, 1, 8, 30, 15, 123, tzinfo=UTC)
    assert rules.add_months(moment, 0) == moment


def test_add_months_rolls_over_the_year_both_ways():
    assert rules.add_months(dt.datetime(2025, 11, 15, tzinfo=UTC), 3) == \
        dt.datetime(2026, 2, 15, tzinfo=UTC)
    assert rules.add_months(dt.datetime(2025, 1, 15, tzinfo=UTC), -1) == \
        dt.datetime(2024, 12, 15, tzinfo=UTC)


def test_the_31st_becomes_the_last_day_of_a_shorter_month():
    assert rules.add_months(dt.datetime(2025, 1, 31, tzinfo=UTC), 1) == \
        dt.datetime(2025, 2, 28, tzinfo=UTC)
    assert rules.add_months(dt.datetime(2024, 1, 31, tzinfo=UTC), 1) == \
        dt.datetime(2024, 2, 29, tzinfo=UTC)
    assert rules.add_months(dt.datetime(2024, 2, 29, tzinfo=UTC), 12) == \
        dt.datetime(2025, 2, 28, tzinfo=UTC)
    assert rules.add_months(dt.datetime(2025, 3, 31, tzinfo=UTC), 1) == \
        dt.datetime(2025, 4, 30, tzinfo=UTC)


@given(moment=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),
                           timezones=st.just(UTC)),
       months=st.integers(min_value=0, max_value=120))
def test_add_months_lands_in_the_right_month_never_on_a_later_day(moment, months):
    later = rules.add_months(moment, months)
    assert (later.year * 12 + later.month) - (moment.year * 12 + moment.month) == months
    assert later.day <= moment.day and later.time() == moment.time()
    assert later.tzinfo == moment.tzinfo


# --- running balances -------------------------------------------------------------------------

def test_emptying_lots_runs_the_balance_down_to_the_final_one():
    assert rules.balances_while_emptying([5, 3, 2], 10) == [15, 12, 10]
    assert rules.balances_while_emptying([4], 0) == [0]
    assert rules.balances_while_emptying([], 7) == []


def test_signed_amount_is_the_change_to_one_account():
    transfer = dict(debit_account_id=1, credit_account_id=2, amount=30)
    assert rules.signed_amount(**transfer, account_id=2) == 30
    assert rules.signed_amount(**transfer, account_id=1) == -30
    assert rules.signed_amount(**transfer, account_id=3) == 0


# --- the hash-chain link --------------------------------------------------------------------------

def _sealed_fields() -> dict:
    return {"seq": 7, "id": uuid.UUID(int=1), "posting_id": uuid.UUID(int=2), "kind": "earn",
            "reason": "action_credited", "debit_account_id": 1, "credit_account_id": 2,
            "amount": 30, "citizen_account_id": 2, "balance_after": 30,
            "action_id": uuid.UUID(int=3), "redemption_id": None, "hold_id": None,
            "reversal_of": None, "external_ref": "action:3",
            "event_time": dt.datetime(2025, 6, 1, 8, 0, tzinfo=UTC),
            "recorded_at": dt.datetime(2025, 6, 1, 8, 0, 1, tzinfo=UTC)}


def test_canonical_text_is_sorted_with_utc_times_and_string_ids():
    text = rules.canonical_transfer({"b": uuid.UUID(int=1), "a": None,
                                     "t": dt.datetime(2025, 6, 1, 10, 0,
                                                      tzinfo=dt.timezone(dt.timedelta(hours=2)))})
    assert text == ('{"a":null,"b":"00000000-0000-0000-0000-000000000001",'
                    '"t":"2025-06-01T08:00:00.000000+00:00"}')


def test_the_same_instant_in_another_zone_seals_the_same():
    fields = _sealed_fields()
    shifted = {**fields, "event_time": fields["event_time"].astimezone(
        dt.timezone(dt.timedelta(hours=8)))}
    assert rules.canonical_transfer(shifted) == rules.canonical_transfer(fields)


def test_a_chain_link_is_a_deterministic_sha256():
    canonical = rules.canonical_transfer(_sealed_fields())
    link = rules.chain_hash(rules.GENESIS_HASH, canonical)
    assert link == rules.chain_hash(rules.GENESIS_HASH, canonical)
    assert len(link) == 64 and int(link, 16) >= 0
    assert rules.chain_hash(link, canonical) != link  # depends on the link before


@pytest.mark.parametrize("field", rules.SEALED_FIELDS)
def test_changing_any_sealed_field_changes_the_link(field):
    fields = _sealed_fields()
    original = rules.chain_hash(rules.GENESIS_HASH, rules.canonical_transfer(fields))
    value = fields[field]
    if isinstance(value, dt.datetime):
        changed = value + dt.timedelta(microseconds=1)
    elif isinstance(value, int):
        changed = value + 1
    elif isinstance(value, uuid.UUID):
        changed = uuid.UUID(int=value.int + 100)
    elif value is None:
        changed = uuid.UUID(int=99)
    else:
        changed = value + "x"
    tampered = rules.canonical_transfer({**fields, field: changed})
    assert rules.chain_hash(rules.GENESIS_HASH, tampered) != original


def test_the_seal_covers_every_column_that_carries_money_or_meaning():
    assert set(rules.SEALED_FIELDS) == set(_sealed_fields())


# --- invariants (verify) --------------------------------------------------------------------------

def test_each_transfer_kind_moves_between_its_account_kinds():
    assert rules.shape_problem("earn", "issuance", "citizen") is None
    assert rules.shape_problem("earn", "citizen", "issuance") == \
        "moves citizen -> issuance, expected issuance -> citizen"
    assert rules.shape_problem("adjustment", "citizen", "issuance") is None
    assert rules.shape_problem("adjustment", "issuance", "citizen") is None
    assert rules.shape_problem("adjustment", "holds", "citizen") == \
        "moves holds -> citizen, expected issuance <-> citizen"


def _transfer(seq, kind, debit, credit, amount, *, citizen=None, after=None):
    return types.SimpleNamespace(id=f"t{seq}", seq=seq, kind=kind, debit_account_id=debit,
                                 credit_account_id=credit, amount=amount,
                                 citizen_account_id=citizen, balance_after=after)


KINDS = {1: "issuance", 2: "citizen", 3: "holds", 4: "merchant"}


def test_a_consistent_walk_finds_nothing_and_sums_to_zero():
    walk = rules.TransferWalk(account_kinds=KINDS)
    for t in (_transfer(1, "earn", 1, 2, 50, citizen=2, after=50),
              _transfer(2, "reserve", 2, 3, 20, citizen=2, after=30),
              _transfer(3, "redeem", 3, 4, 20, citizen=2, after=30)):
        walk.add(t)
    assert walk.problems == [] and walk.double_entry_problems() == []
    assert walk.count == 3 and walk.last_after == {2: 30}
    assert dict(walk.derived) == {1: -50, 2: 30, 3: 0, 4: 20}


def test_the_walk_reports_bad_amounts_unknown_accounts_shapes_and_balance_after():
    walk = rules.TransferWalk(account_kinds=KINDS)
    walk.add(_transfer(1, "earn", 1, 2, 0, citizen=2, after=0))
    walk.add(_transfer(2, "earn", 1, 9, 5))
    walk.add(_transfer(3, "earn", 2, 1, 5, citizen=2, after=-5))
    walk.add(_transfer(4, "earn", 1, 2, 10, citizen=2, after=99))
    walk.add(_transfer(5, "earn", 1, 2, 1, citizen=2, after=None))
    assert walk.problems == [
        "transfer t1 (seq 1, earn): amount 0 is not positive",
        "transfer t2 (seq 2, earn): unknown account",
        "transfer t3 (seq 3, earn): moves citizen -> issuance, expected issuance -> citizen",
        "transfer t4 (seq 4, earn): balance_after 99, the entries before it give 5",
        "transfer t5 (seq 5, earn): balance_after None, the entries before it give 100",
    ]
    assert walk.count == 5 and walk.last_after[2] == 100  # a missing balance_after: expected
    assert walk.double_entry_problems() == []  # the unknown account still counts


def test_double_entry_is_broken_when_the_accounts_do_not_sum_to_zero():
    walk = rules.TransferWalk(account_kinds=KINDS)
    walk.derived[2] += 7
    assert walk.double_entry_problems() == ["double entry broken: balances sum to 7, not 0"]


def test_a_sound_citizen_account_has_no_problems():
    assert rules.account_problems(rules.AccountFigures(
        id=2, kind="citizen", balance=30, reserved=20, derived=30, pending_holds=20,
        live_lots=30, last_after=30)) == []


def test_every_citizen_account_invariant_is_reported_in_order():
    figures = rules.AccountFigures(id=2, kind="citizen", balance=-1, reserved=5, derived=3,
                                   pending_holds=4, live_lots=6, last_after=7)
    assert rules.account_problems(figures) == [
        "account 2 (citizen): negative balance -1/5",
        "account 2 (citizen): stored balance -1 but its transfers sum to 3",
        "account 2 (citizen): reserved 5 but pending holds total 4",
        "account 2 (citizen): balance -1 but live lots hold 6",
        "account 2 (citizen): last balance_after 7 differs from the balance -1",
    ]


def test_system_account_invariants():
    def problems(kind, derived, all_pending_holds=0):
        return rules.account_problems(rules.AccountFigures(
            id=1, kind=kind, balance=0, reserved=0, derived=derived,
            all_pending_holds=all_pending_holds))
    assert problems("holds", 20, all_pending_holds=20) == []
    assert problems("holds", 20, all_pending_holds=15) == \
        ["account 1 (holds): holds 20 but pending holds total 15"]
    assert problems("expiry", 5) == [] and problems("forfeiture", 0) == []
    assert problems("expiry", -1) == ["account 1 (expiry): expiry account is negative (-1)"]
    assert problems("issuance", -500) == []
    assert problems("issuance", 1) == ["account 1 (issuance): issuance account is positive (1)"]
    # Only citizens and merchants keep a running balance to compare.
    merchant = rules.AccountFigures(id=4, kind="merchant", balance=10, reserved=0, derived=9)
    assert rules.account_problems(merchant) == [
        "account 4 (merchant): stored balance 10 but its transfers sum to 9"]


@pytest.mark.parametrize("status,legs", [
    ("pending", [("reserve", 20)]),
    ("posted", [("reserve", 20), ("redeem", 20)]),
    ("voided", [("reserve", 20), ("release", 20)]),
    ("expired", [("reserve", 20), ("release", 20)]),
])
def test_a_hold_carries_its_reserve_and_its_settlement(status, legs):
    assert rules.expected_hold_legs(status, 20) == legs
    assert rules.hold_problems(hold_id="h", status=status, amount=20, legs=list(reversed(legs)),
                               allocated=20) == []


def test_hold_problems_name_missing_legs_and_misallocated_lots():
    assert rules.hold_problems(hold_id="h", status="posted", amount=20, legs=[("reserve", 20)],
                               allocated=15) == [
        "hold h (posted): transfers [('reserve', 20)], expected [('reserve', 20), ('redeem', 20)]",
        "hold h: lots allocated 15, expected 20",
    ]


def test_a_reversal_adds_up_to_what_was_earned():
    assert rules.reversal_problem(reversal_id="r", earned=40, clawed_back=15, shortfall=25,
                                  clawed_amount=15) is None
    assert rules.reversal_problem(reversal_id="r", earned=40, clawed_back=0, shortfall=40,
                                  clawed_amount=None) is None
    assert rules.reversal_problem(reversal_id="r", earned=40, clawed_back=15, shortfall=20,
                                  clawed_amount=15) == \
        "reversal r: earned 40, clawed back 15 (transfer 15), shortfall 20 do not add up"
    assert rules.reversal_problem(reversal_id="r", earned=40, clawed_back=15, shortfall=25,
                                  clawed_amount=14) is not None
