"""DDL helpers used by migrations: rules the database enforces itself."""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


def make_append_only(table: str) -> None:
    """Refuse UPDATE and DELETE on `table` at the database (TRUNCATE stays for test resets)."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("""
            CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END;
            $$ LANGUAGE plpgsql
        """)
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION refuse_change()")
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only'); END")


def drop_append_only(table: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    else:
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event}")


def replace_checks(changes: list[tuple[str, str, str, str]]) -> None:
    """Change CHECK constraints: (table, constraint name, the check now, the check wanted).

    PostgreSQL drops and adds each constraint in place (on a partitioned table, every partition
    follows). SQLite cannot alter a CHECK, and rebuilding a table drops its triggers (the
    ledger's append-only ones, the key tables' writers), so the table's stored CREATE statement
    is edited instead: the procedure SQLite documents for changes that leave the stored data
    valid ("Making Other Kinds Of Table Schema Changes",
    https://www.sqlite.org/lang_altertable.html), with the schema version bumped and an
    integrity check after. Use it only where every existing row satisfies the new check."""
    if op.get_bind().dialect.name == "postgresql":
        for table, name, _, wanted in changes:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({wanted})")
        return
    edit_sqlite_tables([(table, f"CONSTRAINT {name} CHECK ({now})",
                         f"CONSTRAINT {name} CHECK ({wanted})") for table, name, now, wanted in changes])


def edit_sqlite_tables(edits: list[tuple[str, str, str]]) -> None:
    """SQLite only: in each table's stored CREATE statement, replace the one occurrence of a text
    (a constraint) by another, as `replace_checks` explains; RuntimeError if it is not there."""
    bind = op.get_bind()
    originals: dict[str, str] = {}
    for table, _, _ in edits:
        originals.setdefault(table, bind.execute(sa.text(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
            {"t": table}).scalar())
    edited = dict(originals)
    for table, before, after in edits:
        if edited[table].count(before) != 1:
            raise RuntimeError(f"{table}: {before!r} is not in its definition once")
        edited[table] = edited[table].replace(before, after)
    _write_sqlite_schema(bind, edited)
    result = bind.exec_driver_sql("PRAGMA integrity_check").scalar()
    if result != "ok":  # rows the new definition refuses: put the old one back
        _write_sqlite_schema(bind, originals)
        raise RuntimeError(f"integrity check after editing the schema: {result}")


def _write_sqlite_schema(bind, sql_by_table: dict[str, str]) -> None:
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    for table, sql in sql_by_table.items():
        bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' "
                             "AND name = :t"), {"sql": sql, "t": table})
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
