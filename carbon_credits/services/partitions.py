"""The monthly partitions of `actions` and `ledger_transfers` (PostgreSQL; models/partitions.py).

`ensure_partitions` is a due job: it keeps the last month (late partner records and claim
windows reach back into it) to `MONTHS_AHEAD` months ahead, so a row never waits for its month
and the DEFAULT partition never holds a month that must be created later (PostgreSQL refuses to
create a month whose rows already sit in DEFAULT). Creating a partition locks its parent
briefly; a short lock timeout keeps the job from queueing in front of the credit path behind a
long transaction. A month that cannot be created now (the lock timed out, or its rows already
sit in DEFAULT) is logged and skipped, and the others are still created; the next run retries.
On SQLite there is nothing to do.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import zlib

from sqlalchemy import exists, func, select, table, text
from sqlalchemy.exc import DBAPIError

from carbon_credits.services.uow import unit_of_work
from models import Action, ActionKey, LedgerTransfer, LedgerTransferKey, db, utcnow
from models.partitions import (MONTHS_AHEAD, MONTHS_BEHIND, PARTITIONED, add_months,
                               create_partition_sql, default_partition_name, month_start,
                               months_between, partition_name)

log = logging.getLogger(__name__)

# Two workers running the job at once take turns (a transaction-level advisory lock).
_LOCK_KEY = zlib.crc32(b"carbon_credits.ensure_partitions")
_LOCK_TIMEOUT = "5s"

_PARTITIONS = text("""
    SELECT parent.relname AS parent, child.relname AS name,
           pg_get_expr(child.relpartbound, child.oid) AS bounds,
           greatest(child.reltuples, 0)::bigint AS estimated_rows
    FROM pg_inherits
    JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
    JOIN pg_class child ON child.oid = pg_inherits.inhrelid
    JOIN pg_namespace ns ON ns.oid = child.relnamespace AND ns.nspname = current_schema()
    WHERE parent.relname IN ('actions', 'ledger_transfers')
    ORDER BY parent.relname, child.relname""")


@dataclasses.dataclass(frozen=True)
class Partition:
    table: str
    name: str
    bounds: str
    estimated_rows: int


def is_partitioned() -> bool:
    return db.engine.dialect.name == "postgresql"


def list_partitions() -> list[Partition]:
    """Every partition of the two tables, with PostgreSQL's row estimate (from ANALYZE)."""
    if not is_partitioned():
        return []
    return [Partition(r.parent, r.name, r.bounds, r.estimated_rows)
            for r in db.session.execute(_PARTITIONS)]


def months_wanted(today: dt.date) -> list[dt.date]:
    this_month = month_start(today)
    return months_between(add_months(this_month, -MONTHS_BEHIND),
                          add_months(this_month, MONTHS_AHEAD))


def ensure_partitions(*, now: dt.datetime | None = None) -> int:
    """Create the missing partitions of `months_wanted`; return how many were created."""
    if not is_partitioned():
        return 0
    # scheme days run ahead of UTC (Asia/Shanghai); a month ahead of either is already there.
    today = (now or utcnow()).date()
    created = 0
    with unit_of_work():
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        db.session.execute(text(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'"))
        existing = {p.name for p in list_partitions()}
        for table in PARTITIONED:
            for month in months_wanted(today):
                if partition_name(table, month) not in existing:
                    created += _create(table, month)
    return created


def _create(table: str, month: dt.date) -> int:
    try:
        with db.session.begin_nested():
            db.session.execute(text(create_partition_sql(table, month)))
        return 1
    except DBAPIError as error:
        log.warning("partition %s not created now: %s", partition_name(table, month),
                    str(error.orig).splitlines()[0])
        return 0


def rows_in_default_partitions() -> dict[str, int]:
    """Rows no month holds (history older than the first partition, or a far-off clock)."""
    if not is_partitioned():
        return {}
    return {name: db.session.execute(select(func.count())
                                     .select_from(table(default_partition_name(name))))
            .scalar_one() for name in PARTITIONED}


# partitioned table -> (its key table, the values that must be unique across months)
_KEYS = ((Action.__table__, ActionKey.__table__, ("partner_id", "external_id")),
         (LedgerTransfer.__table__, LedgerTransferKey.__table__, ("external_ref",)))


def check_keys() -> list[str]:
    """Every action and transfer has its key row, with the same unique values. The triggers
    write them; this catches rows written with triggers disabled
    (`session_replication_role = replica`) or edited by hand."""
    problems = []
    for rows, keys, columns in _KEYS:
        keyed = exists().where(keys.c.id == rows.c.id,
                               *[keys.c[c].is_not_distinct_from(rows.c[c]) for c in columns])
        missing = db.session.execute(select(func.count()).select_from(rows)
                                     .where(~keyed)).scalar_one()
        if missing:
            problems.append(f"{rows.name}: {missing} rows without their key in {keys.name} "
                            f"(their uniqueness across months is not enforced)")
    return problems
