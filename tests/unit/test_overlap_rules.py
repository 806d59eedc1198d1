"""Pure overlap rules (carbon_credits/domain/actions.py): one trip or charging session is counted
once, whichever channel reports it first; an operator's record wins over a pending self-report."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, strategies as st

from carbon_credits.domain.actions import Claim, find_overlap, intervals_overlap

T0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.timezone.utc)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def claim(name, channel, status="credited", start=0, end=20) -> Claim:
    return Claim(name, channel, status, at(start), at(end))


# --- windows -----------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b, overlap", [
    ((0, 20), (10, 30), True),
    ((10, 30), (0, 20), True),
    ((0, 20), (5, 10), True),     # one inside the other
    ((0, 20), (0, 20), True),     # the same window
    ((0, 20), (20, 40), False),   # touching ends do not overlap
    ((20, 40), (0, 20), False),
    ((0, 20), (21, 40), False),
])
def test_windows_overlap_only_when_they_intersect(a, b, overlap):
    assert intervals_overlap(at(a[0]), at(a[1]), at(b[0]), at(b[1])) is overlap


@pytest.mark.parametrize("missing", range(4))
def test_a_window_missing_an_end_overlaps_nothing(missing):
    ends = [at(0), at(20), at(0), at(20)]
    ends[missing] = None
    assert intervals_overlap(*ends) is False


@given(a=st.tuples(st.integers(0, 500), st.integers(1, 100)),
       b=st.tuples(st.integers(0, 500), st.integers(1, 100)))
def test_overlap_is_symmetric_and_means_a_shared_minute(a, b):
    (a0, alen), (b0, blen) = a, b
    forward = intervals_overlap(at(a0), at(a0 + alen), at(b0), at(b0 + blen))
    assert forward == intervals_overlap(at(b0), at(b0 + blen), at(a0), at(a0 + alen))
    shared = set(range(a0, a0 + alen)) & set(range(b0, b0 + blen))
    assert forward == bool(shared)


# --- find_overlap ------------------------------------------------------------------------------

def test_nothing_overlapping_is_new():
    incoming = claim("in", "partner", start=0, end=20)
    existing = [claim("a", "partner", start=20, end=40), claim("b", "app", "pending_review",
                                                               start=-30, end=0)]
    assert find_overlap(incoming, existing) == ("new", None)
    assert find_overlap(incoming, []) == ("new", None)


def test_a_self_report_of_any_counted_trip_is_a_duplicate():
    incoming = claim("in", "app", "pending_review", start=2, end=22)
    for other in (claim("p", "partner"), claim("c", "app", "credited"),
                  claim("r", "app", "pending_review")):
        assert find_overlap(incoming, [other]) == ("duplicate", other)


def test_an_operator_record_of_a_trip_already_reported_by_an_operator_is_a_duplicate():
    other = claim("p", "partner", "pending_review")
    assert find_overlap(claim("in", "partner"), [other]) == ("duplicate", other)


def test_an_operator_record_of_a_credited_self_report_is_a_duplicate():
    other = claim("c", "app", "credited")
    assert find_overlap(claim("in", "partner"), [other]) == ("duplicate", other)


def test_an_operator_record_supersedes_a_pending_self_report():
    pending = claim("r", "app", "pending_review", start=5, end=25)
    assert find_overlap(claim("in", "partner"), [pending]) == ("supersedes", pending)


def test_a_duplicate_wins_over_a_supersede_wherever_it_is_listed():
    pending = claim("r", "app", "pending_review", start=0, end=10)
    counted = claim("p", "partner", start=10, end=20)
    incoming = claim("in", "partner", start=0, end=20)
    assert find_overlap(incoming, [pending, counted]) == ("duplicate", counted)
    assert find_overlap(incoming, [counted, pending]) == ("duplicate", counted)


def test_the_first_listed_pending_self_report_is_the_one_superseded():
    first = claim("r1", "app", "pending_review", start=0, end=10)
    second = claim("r2", "app", "pending_review", start=10, end=20)
    assert find_overlap(claim("in", "partner"), [first, second]) == ("supersedes", first)


def test_a_touching_claim_is_neither_duplicate_nor_superseded():
    incoming = claim("in", "partner", start=20, end=40)
    existing = [claim("p", "partner", start=0, end=20), claim("r", "app", "pending_review",
                                                              start=40, end=60)]
    assert find_overlap(incoming, existing) == ("new", None)


def test_an_app_claim_that_neither_counts_nor_waits_is_passed_over_by_an_operator_record():
    """Only counting claims are read from the database; anything else an operator ignores."""
    for status in ("rejected", "duplicate", "reversed"):
        assert find_overlap(claim("in", "partner"), [claim("x", "app", status)]) == ("new", None)


CHANNELS = st.sampled_from(["app", "partner"])
STATUSES = st.sampled_from(["credited", "pending_review"])


@given(channel=CHANNELS, others=st.lists(st.tuples(CHANNELS, STATUSES, st.integers(-30, 30)),
                                         max_size=6))
def test_an_overlapping_claim_is_never_new_and_the_verdict_names_an_overlapping_one(channel, others):
    incoming = claim("in", channel, "pending_review", start=0, end=20)
    existing = [claim(i, c, s, start=offset, end=offset + 20) for i, (c, s, offset) in enumerate(others)]
    verdict, other = find_overlap(incoming, existing)
    overlapping = [e for e in existing if abs(e.started_at - incoming.started_at) < dt.timedelta(minutes=20)]
    if not overlapping:
        assert (verdict, other) == ("new", None)
        return
    assert verdict in ("duplicate", "supersedes") and other in overlapping
    if channel == "app":
        assert verdict == "duplicate"
    if verdict == "supersedes":
        assert other.channel == "app" and other.status == "pending_review"
        assert all(e.channel == "app" and e.status == "pending_review" for e in overlapping)
