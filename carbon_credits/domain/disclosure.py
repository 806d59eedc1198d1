"""Small-cell suppression of the public totals (docs/open-data.md): no published figure comes
from fewer than `min_citizens` citizens, and none can be worked out by subtraction either.

In each period a cell (one scene, or one district) with fewer citizens than the threshold is
suppressed. Because the period's total is published (and every grouping adds up to it), the
suppressed cells of a period together must also count at least the threshold in distinct
citizens; if they do not, the next smallest cells are suppressed with them until they do (or
every cell is). The period's total is suppressed when the whole period counts fewer. So any
difference anyone can take — total minus what is shown — covers at least `min_citizens`
people."""
from __future__ import annotations

import dataclasses
from typing import Callable, Iterable

MIN_CITIZENS_FLOOR = 2  # a threshold of 1 would publish single people's figures


@dataclasses.dataclass(frozen=True)
class Cell:
    group: str
    actions: int
    citizens: int
    credited_mg: int
    points: int


def suppressed_groups(cells: Iterable[Cell], *, min_citizens: int,
                      distinct_citizens: Callable[[set[str]], int]) -> set[str]:
    """The groups of one period whose figures are withheld. `distinct_citizens(groups)` counts
    the citizens of those groups together (a citizen in two of them counts once)."""
    cells = list(cells)
    hidden = {c.group for c in cells if c.citizens < min_citizens}
    if not hidden:
        return hidden
    shown = sorted((c for c in cells if c.group not in hidden), key=lambda c: (c.citizens, c.group))
    while shown and distinct_citizens(hidden) < min_citizens:
        hidden.add(shown.pop(0).group)
    return hidden
