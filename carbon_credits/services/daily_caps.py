"""The daily cap per citizen, scope and scheme day: its `daily_credits` rows, created and locked
in one statement, crediting a reduction against a locked row, and counting what was credited.

The claim pipeline and the review approval both credit through `credit_on_row`, so the cap
rule, its `daily_cap_reached` note and the points are computed one way (`domain/crediting`).
The statements are built once; `lock_call` and `count_call` hand them to callers that send
them together with others (`services/statements`)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from carbon_credits.domain import crediting
from carbon_credits.services.statements import Statement, run_one
from models import DailyCredit

DAILY = DailyCredit.__table__
_KEY = (DAILY.c.user_id, DAILY.c.scope_key, DAILY.c.scheme_day)


def _lock_construct(insert):
    # An upsert whose conflict branch rewrites the row unchanged takes the row lock the way
    # SELECT ... FOR UPDATE would, and RETURNING hands back the current value under that lock.
    stmt = insert(DAILY).values(user_id=bindparam("b_user"), scope_key=bindparam("b_scope"),
                                scheme_day=bindparam("b_day"), credited_mg=0)
    return (stmt.on_conflict_do_update(index_elements=list(_KEY),
                                       set_={"credited_mg": DAILY.c.credited_mg})
            .returning(*_KEY, DAILY.c.credited_mg))


_LOCK = Statement({"postgresql": _lock_construct(pg_insert),
                   "sqlite": _lock_construct(sqlite_insert)}, name="daily cap: create and lock")
_COUNT = Statement(update(DAILY).where(DAILY.c.user_id == bindparam("b_user"),
                                       DAILY.c.scope_key == bindparam("b_scope"),
                                       DAILY.c.scheme_day == bindparam("b_day"))
                   .values(credited_mg=DAILY.c.credited_mg + bindparam("b_added")),
                   name="daily cap: count credited")


@dataclasses.dataclass
class DailyRow:
    """A locked `daily_credits` row: what was credited before, and what this unit adds."""

    user_id: uuid.UUID
    scope_key: str
    scheme_day: dt.date
    credited_mg: int
    added_mg: int = 0

    @property
    def key(self) -> tuple:
        return (self.user_id, self.scope_key, self.scheme_day)


def lock_call(keys: set[tuple]) -> tuple[Statement, list[dict]]:
    """The statement creating and locking the (user, scope, day) rows, in sorted order so two
    batches lock them in the same order. Its rows go to `rows_by_key`."""
    ordered = sorted(keys, key=lambda k: (str(k[0]), k[1], k[2]))
    return _LOCK, [{"b_user": u, "b_scope": s, "b_day": d} for u, s, d in ordered]


def rows_by_key(rows) -> dict[tuple, DailyRow]:
    found = (DailyRow(r.user_id, r.scope_key, r.scheme_day, r.credited_mg) for r in rows)
    return {row.key: row for row in found}


def lock_daily_rows(keys: set[tuple]) -> dict[tuple, DailyRow]:
    """Create the (user, scope, day) rows if missing and lock them."""
    return rows_by_key(run_one(*lock_call(keys))) if keys else {}


def credit_on_row(row: DailyRow, *, reduction_mg: int, cap_mg: int | None,
                  points_per_gram: int) -> crediting.Credit:
    """Credit a reduction within what is left of the locked row's cap, and count it there."""
    credit = crediting.credit(reduction_mg=reduction_mg, used_mg=row.credited_mg, cap_mg=cap_mg,
                              scope=row.scope_key, points_per_gram=points_per_gram)
    row.credited_mg += credit.credited_mg
    row.added_mg += credit.credited_mg
    return credit


def count_call(rows) -> tuple[Statement, list[dict]]:
    """The update storing what `credit_on_row` added to each locked row."""
    return _COUNT, [{"b_user": r.user_id, "b_scope": r.scope_key, "b_day": r.scheme_day,
                     "b_added": r.added_mg} for r in rows if r.added_mg]


def count_credits(rows) -> None:
    run_one(*count_call(rows))
