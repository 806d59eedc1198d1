"""Many rows of one table inserted at once: COPY on PostgreSQL, an executemany INSERT on
SQLite. A partner batch writes its actions, transfers and lots this way (services/actions.py,
ledger/core.py, ledger/postings.py), in the request's transaction, after whatever statements
were deferred (`services/statements`)."""
from __future__ import annotations

from sqlalchemy.sql.sqltypes import JSON

from carbon_credits.services import statements
from models import db



_copy_columns: dict[tuple, tuple] = {}


def copy_rows(table, rows: list[dict]) -> None:
    """Insert many rows of `table` (all with the same keys) in the current transaction: on
    PostgreSQL with COPY, whose per-row cost is a fraction of an INSERT's (one message per row,
    no statement per row); on SQLite with an executemany INSERT. Values go through the column
    types' processors, as for any insert. Constraint violations raise as SQLAlchemy's."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        db.session.execute(table.insert(), rows)
        return
    import psycopg
    statements.flush()
    if db.session.new or db.session.dirty or db.session.deleted:
        db.session.flush()
    names = tuple(rows[0])
    processors = _copy_processors(table, names, connection.dialect)
    raw = connection.connection.driver_connection
    sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
    try:
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row([f(row[n]) if f else row[n] for n, f in zip(names, processors)])
    except psycopg.Error as error:
        statements.raise_as_sqlalchemy(connection, error, sql)
    recording = statements.current_recording()
    if recording is not None:
        recording.statements.append((sql, rows))
        recording.round_trips += 1
    statements.mark_succeeded()


def _copy_processors(table, names: tuple, dialect) -> tuple:
    key = (table.name, names, dialect.name)
    found = _copy_columns.get(key)
    if found is None:
        from psycopg.types.json import Json

        def processor(column):
            impl = column.type.dialect_impl(dialect)
            if isinstance(impl, JSON):  # COPY takes the document, not a bound parameter
                return lambda value: None if value is None else Json(value)
            return impl.bind_processor(dialect)
        found = _copy_columns[key] = tuple(processor(table.c[n]) for n in names)
    return found
