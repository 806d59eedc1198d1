"""The daily cap per citizen, scope and scheme day: its `daily_credits` rows, created and locked
in one statement, and crediting a reduction against a locked row.

The claim pipeline and the review approval both credit through `credit_on_row`, so the cap
rule, its `daily_cap_reached` note and the points are computed one way (`domain/crediting`)."""
from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from carbon_credits.domain import crediting
from models import DailyCredit, db


def lock_daily_rows(keys: set[tuple]) -> dict[tuple, DailyCredit]:
    """Create the (user, scope, day) rows if missing and lock them, in one statement.

    An upsert whose conflict branch rewrites the row unchanged takes the row lock the way
    SELECT ... FOR UPDATE would, and RETURNING hands back the current value under that lock.
    Rows are listed in sorted order, so two batches lock them in the same order."""
    if not keys:
        return {}
    ordered = sorted(keys, key=lambda k: (str(k[0]), k[1], k[2]))
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(DailyCredit).values(
        [{"user_id": u, "scope_key": s, "scheme_day": d, "credited_mg": 0} for u, s, d in ordered])
    stmt = stmt.on_conflict_do_update(
        index_elements=[DailyCredit.user_id, DailyCredit.scope_key, DailyCredit.scheme_day],
        set_={"credited_mg": DailyCredit.credited_mg})
    rows = db.session.scalars(stmt.returning(DailyCredit)
                              .execution_options(populate_existing=True))
    return {(r.user_id, r.scope_key, r.scheme_day): r for r in rows}


def credit_on_row(row: DailyCredit, *, reduction_mg: int, cap_mg: int | None,
                  points_per_gram: int) -> crediting.Credit:
    """Credit a reduction within what is left of the locked row's cap, and count it there."""
    credit = crediting.credit(reduction_mg=reduction_mg, used_mg=row.credited_mg, cap_mg=cap_mg,
                              scope=row.scope_key, points_per_gram=points_per_gram)
    row.credited_mg += credit.credited_mg
    return credit
