"""Where a newly confirmed binding of a card starts covering (domain/partners.py), pure."""
from __future__ import annotations

import datetime as dt

from hypothesis import given, strategies as st

from carbon_credits.domain.partners import covers_from_after

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


def at(hours: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def test_the_first_binding_of_a_card_covers_from_the_beginning():
    assert covers_from_after([]) is None


def test_bindings_never_granted_or_never_ended_move_nothing():
    # pending, expired or withdrawn before confirmation; and the one active until now
    assert covers_from_after([(None, None), (None, at(3)), (at(1), None)]) is None


def test_a_changeover_starts_where_the_last_granted_binding_ended():
    assert covers_from_after([(at(0), at(2)), (at(3), at(5)), (None, at(9))]) == at(5)


@given(st.lists(st.tuples(st.none() | st.integers(0, 100), st.none() | st.integers(0, 100))))
def test_the_start_is_the_latest_end_of_a_granted_binding(rows):
    bindings = [(None if g is None else at(g), None if e is None else at(e)) for g, e in rows]
    ends = [e for g, e in bindings if g is not None and e is not None]
    assert covers_from_after(bindings) == (max(ends) if ends else None)
