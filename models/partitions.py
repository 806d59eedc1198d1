"""Monthly partitions of the two tables that grow with every action (PostgreSQL only).

`actions` is partitioned by `scheme_day` (reports and certificates read ranges of scheme days)
and `ledger_transfers` by `recorded_at` (UTC months; statements read a citizen's newest
entries, which are in the newest partitions). Each has a DEFAULT partition that catches what
no month holds (older history, a clock far off). The `ensure_partitions` job keeps the last
month (late partner records and claim windows reach back into it) to `MONTHS_AHEAD` months
ahead, so the DEFAULT partition never holds a month that must be created later. SQLite keeps
plain tables. docs/operations.md, "Partitioning by month".

The SQL here is built from constants and dates only: nothing a client sends reaches it.
"""
from __future__ import annotations

import datetime as dt

# table -> (partition key, SQL type of the bounds)
PARTITIONED = {"actions": ("scheme_day", "date"),
               "ledger_transfers": ("recorded_at", "timestamptz")}
# table -> the table holding what must be unique across all its months
KEY_TABLES = {"actions": "action_keys", "ledger_transfers": "ledger_transfer_keys"}
MONTHS_AHEAD = 3
MONTHS_BEHIND = 1


def month_start(day: dt.date | dt.datetime) -> dt.date:
    return dt.date(day.year, day.month, 1)


def add_months(month: dt.date, count: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every month from the one holding `first` to the one holding `last`, both included."""
    months, month = [], month_start(first)
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return months


def partition_name(table: str, month: dt.date) -> str:
    return f"{table}_p{month:%Y_%m}"


def default_partition_name(table: str) -> str:
    return f"{table}_pdefault"


def _bound(table: str, month: dt.date) -> str:
    kind = PARTITIONED[table][1]
    return f"'{month.isoformat()}'" if kind == "date" else f"'{month.isoformat()} 00:00:00+00'"


def create_partition_sql(table: str, month: dt.date) -> str:
    month = month_start(month)
    return (f"CREATE TABLE IF NOT EXISTS {partition_name(table, month)} PARTITION OF {table} "
            f"FOR VALUES FROM ({_bound(table, month)}) TO ({_bound(table, add_months(month, 1))})")


def create_default_partition_sql(table: str) -> str:
    return f"CREATE TABLE IF NOT EXISTS {default_partition_name(table)} PARTITION OF {table} DEFAULT"


def is_partition(table_name: str) -> bool:
    """A month (or DEFAULT) partition of a partitioned table: not a model of its own."""
    return any(table_name.startswith(f"{table}_p") and
               (table_name == default_partition_name(table) or
                table_name[len(table) + 2:].replace("_", "").isdigit())
               for table in PARTITIONED)
