"""Small-cell suppression without a database (hypothesis): every shown cell counts at least the
threshold, and what the shown cells leave of the total covers at least the threshold too."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from carbon_credits.domain.disclosure import Cell, suppressed_groups

counts = st.lists(st.integers(0, 40), min_size=1, max_size=12)


def cells_of(citizens: list[int]) -> list[Cell]:
    return [Cell(f"g{i:02d}", n, n, n * 1000, n) for i, n in enumerate(citizens)]


@given(counts, st.integers(2, 20))
def test_no_figure_and_no_difference_covers_fewer_than_the_threshold(citizens, k):
    cells = cells_of(citizens)
    by_group = {c.group: c.citizens for c in cells}
    # disjoint citizens: the union of groups counts their sum (the worst case is overlap,
    # which the service measures with COUNT(DISTINCT); here the sum is exact)
    hidden = suppressed_groups(cells, min_citizens=k,
                               distinct_citizens=lambda groups: sum(by_group[g] for g in groups))
    shown = [c for c in cells if c.group not in hidden]
    assert all(c.citizens >= k for c in shown)
    if hidden:
        assert sum(by_group[g] for g in hidden) >= k or not shown


def test_nothing_is_withheld_when_every_cell_is_large():
    cells = cells_of([10, 12, 30])
    assert suppressed_groups(cells, min_citizens=10, distinct_citizens=lambda g: 0) == set()


def test_the_smallest_shown_cell_is_withheld_with_a_lone_one():
    cells = cells_of([1, 10, 12, 30])
    by_group = {c.group: c.citizens for c in cells}
    assert suppressed_groups(cells, min_citizens=10, distinct_citizens=lambda groups: sum(
        by_group[g] for g in groups)) == {"g00", "g01"}


def test_overlapping_citizens_are_counted_once():
    """Two small cells of the same three people: together still three, so a third is added."""
    cells = cells_of([3, 3, 10, 11])
    hidden = suppressed_groups(cells, min_citizens=5,
                               distinct_citizens=lambda groups: 3 if groups <= {"g00", "g01"}
                               else 13)
    assert hidden == {"g00", "g01", "g02"}
