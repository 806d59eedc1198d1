"""Statements built once, sent together.

The credit path's statements are SQLAlchemy Core constructs built at import time with bound
parameters, so nothing is rebuilt per request. `run_together` executes several of them in the
session's transaction:

- on PostgreSQL each is compiled once for the dialect and sent on the session's own psycopg
  connection in pipeline mode: statements that do not depend on each other's results cost one
  round trip between them (they still run in order, so a lock taken by the first holds for the
  rest);
- on SQLite (in process: a round trip costs nothing) the same constructs go through the session
  one after another.

Driver errors are raised as SQLAlchemy's (`IntegrityError`, `OperationalError`...), as for any
other statement, so callers and the unit of work handle them one way.

`recording()` lists every statement a block sends (through this module or through SQLAlchemy)
and the round trips they took: the statement-count tests and `make bench` read it.
"""
from __future__ import annotations

import collections
import contextlib
import contextvars
import dataclasses
from typing import Any, Callable, Iterator, Sequence

from sqlalchemy import event, exc
from sqlalchemy.orm import Session

from models import db


@dataclasses.dataclass(frozen=True)
class _Compiled:
    sql: str
    fixed_params: dict[str, Any]  # values written into the construct (`.values(kind="earn")`)
    bind_processors: dict[str, Callable]
    result_processors: tuple[Callable | None, ...] | None  # None: returns no rows
    row_type: type | None


class Statement:
    """A Core construct with its bound parameters, compiled once per dialect together with the
    type processors SQLAlchemy would apply (aware UTC datetimes, JSON, exact decimals...)."""

    def __init__(self, construct, *, name: str):
        """`construct`: one Core construct, or {dialect name: construct} where the dialects
        spell it differently (an upsert)."""
        self.constructs = construct if isinstance(construct, dict) else None
        self.construct = construct if self.constructs is None else next(iter(construct.values()))
        self.name = name
        self.returns_rows = bool(self.construct.exported_columns)
        self._compiled: dict[str, _Compiled] = {}

    def construct_for(self, dialect_name: str):
        return self.construct if self.constructs is None else self.constructs[dialect_name]

    def compiled_for(self, dialect) -> _Compiled:
        cached = self._compiled.get(dialect.name)
        if cached is None:
            compiled = self.construct_for(dialect.name).compile(dialect=dialect)
            if "POSTCOMPILE" in compiled.string:  # an IN list: rendered per execution
                raise ValueError(f"{self.name}: IN lists are not fixed SQL; use = ANY or text")
            binds = {name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                     for name, bind in compiled.binds.items()}
            columns = list(self.construct.exported_columns)
            cached = self._compiled[dialect.name] = _Compiled(
                sql=compiled.string,
                fixed_params={name: bind.value for name, bind in compiled.binds.items()
                              if not bind.required and bind.value is not None},
                bind_processors={name: f for name, f in binds.items() if f is not None},
                result_processors=tuple(c.type.dialect_impl(dialect).result_processor(dialect, None)
                                        for c in columns) if columns else None,
                row_type=collections.namedtuple(f"Row_{len(self._compiled)}",
                                                [c.key for c in columns], rename=True)
                if columns else None)
        return cached

    def __repr__(self) -> str:
        return f"<Statement {self.name}>"


@dataclasses.dataclass
class Recording:
    statements: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
    round_trips: int = 0
    commits: int = 0  # COMMITs that cost a round trip of their own
    commits_with_group: int = 0  # COMMITs sent with the last group of statements


_recording: contextvars.ContextVar[Recording | None] = contextvars.ContextVar("sql_recording",
                                                                               default=None)


def run_together(*calls: tuple[Statement, dict | Sequence[dict]]) -> list[list]:
    """Run the statements in order in the current transaction, after any deferred ones; one
    list of rows per call (empty for statements that return none). A list of parameter sets
    runs the statement for each (an empty list: not at all)."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return [_run_through_session(statement, params, connection.dialect.name)
                for statement, params in calls]
    queued = _take_queue()
    if queued and (db.session.new or db.session.dirty or db.session.deleted):
        _resolve(queued, _run_pipelined(connection, [(p.statement, p.params) for p in queued]))
        queued = []
    results = _run_pipelined(connection, [(p.statement, p.params) for p in queued] + list(calls))
    _resolve(queued, results[:len(queued)])
    return results[len(queued):]


# ---------------------------------------------------------------------------------------------
# Deferred statements: sent with the next group, or before the commit


@dataclasses.dataclass(eq=False)
class Pending:
    """A deferred statement. `result()` sends it (with whatever else waits) if it has not gone
    yet; `check`, if given, sees its rows as soon as they arrive and may raise to abort."""

    statement: Statement
    params: Any
    check: Callable[[list], None] | None = None
    rows: list | None = None
    sent: bool = False

    def result(self) -> list:
        if not self.sent:
            flush()
        return self.rows


_queue: contextvars.ContextVar[list | None] = contextvars.ContextVar("sql_queue", default=None)


def defer(statement: Statement, params: dict | Sequence[dict], *,
          check: Callable[[list], None] | None = None) -> Pending:
    """Queue a statement to go out with the next group sent in this transaction (or before its
    commit), so independent statements of different layers share one round trip. On SQLite it
    runs at once."""
    pending = Pending(statement, params, check)
    if db.session.connection().dialect.name != "postgresql":
        _resolve([pending], [run_one(statement, params)])
        return pending
    queue = _queue.get()
    if queue is None:
        queue = []
        _queue.set(queue)
    queue.append(pending)
    return pending


def flush() -> None:
    """Send whatever is deferred (before a commit, or when a result is needed)."""
    if _queue.get():
        run_together()


def commit_deferred() -> bool:
    """Send what is deferred and COMMIT in one round trip (PostgreSQL), when no deferred
    statement has a check to pass first and the ORM holds nothing unsent. False: nothing was
    done, the caller flushes and commits as usual."""
    queue = _queue.get()
    if (not queue or any(p.check is not None for p in queue)
            or db.session.new or db.session.dirty or db.session.deleted):
        return False
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return False
    queued = _take_queue()
    _resolve(queued, _run_pipelined(connection, [(p.statement, p.params) for p in queued],
                                    commit=True))
    return True


def discard_deferred() -> None:
    """At a rollback, and at the start of each request or job: nothing carries over."""
    _queue.set(None)


def _take_queue() -> list:
    queue = _queue.get() or []
    _queue.set(None)
    return queue


def _resolve(pendings: list, results: list) -> None:
    for pending, rows in zip(pendings, results):
        pending.rows, pending.sent = rows, True
    for pending in pendings:
        if pending.check is not None:
            pending.check(pending.rows)


def run_one(statement: Statement, params: dict | Sequence[dict]) -> list:
    return run_together((statement, params))[0]


def _run_through_session(statement: Statement, params, dialect_name: str) -> list:
    many = not isinstance(params, dict)
    if many and not params:
        return []
    result = db.session.execute(statement.construct_for(dialect_name),
                                list(params) if many else params)
    return list(result) if statement.returns_rows else []


def _run_pipelined(connection, calls, *, commit: bool = False) -> list[list]:
    import psycopg

    if db.session.new or db.session.dirty or db.session.deleted:
        db.session.flush()  # what the ORM holds goes first, as autoflush would send it
    raw = connection.connection.driver_connection
    recording = _recording.get()
    sent: list[tuple[str, Any]] = []
    try:
        with raw.pipeline():
            cursors = [_send(raw, connection.dialect, statement, params, sent)
                       for statement, params in calls]
            if commit:  # as a statement: psycopg's commit() would cost one more Sync
                raw.cursor().execute("COMMIT")
                if recording is not None:
                    recording.commits_with_group += 1
        results = [_fetch(cursor, many, compiled) for cursor, many, compiled in cursors]
    except psycopg.Error as error:
        raise_as_sqlalchemy(connection, error, sent[-1][0] if sent else "")
    finally:
        if recording is not None:
            recording.statements.extend(sent)
            recording.round_trips += 1
    _succeeded.set(True)
    return results


def _send(raw, dialect, statement: Statement, params, sent: list) -> tuple:
    compiled = statement.compiled_for(dialect)
    many = not isinstance(params, dict)
    if many and not params:
        return None, many, compiled
    given = [{**compiled.fixed_params, **p} for p in (params if many else [params])]
    rows = [_bind(p, compiled.bind_processors) for p in given]
    cursor = raw.cursor()
    if many:
        cursor.executemany(compiled.sql, rows, returning=compiled.row_type is not None)
    else:
        cursor.execute(compiled.sql, rows[0])
    sent.append((compiled.sql, given if many else given[0]))  # every value sent, constants too
    return cursor, many, compiled


def raise_as_sqlalchemy(connection, error, sql: str):
    """As SQLAlchemy does for its own statements: a lost connection is invalidated (with every
    pooled one older than it, as after a server restart), and the error is SQLAlchemy's."""
    import psycopg
    lost = connection.dialect.is_disconnect(error, connection.connection.driver_connection, None)
    if lost:
        connection.invalidate(error)
        db.engine.pool.dispose()
    raise exc.DBAPIError.instance(sql, None, error, psycopg.Error,
                                  connection_invalidated=lost) from error


# ---------------------------------------------------------------------------------------------
# Whether anything reached the database in this request (safe-retry on a dead connection)

_succeeded: contextvars.ContextVar[bool] = contextvars.ContextVar("sql_succeeded", default=False)


def start_tracking() -> None:
    """At the start of a request: nothing has gone through yet, nothing is deferred."""
    _succeeded.set(False)
    discard_deferred()


def anything_succeeded() -> bool:
    """Whether a statement of this request completed: if none did, nothing can have been
    committed, so a request that failed on a dead pooled connection may simply run again."""
    return _succeeded.get()


def mark_succeeded() -> None:
    _succeeded.set(True)


def current_recording() -> Recording | None:
    return _recording.get()


def _statement_done(conn, cursor, statement, parameters, context, executemany) -> None:
    _succeeded.set(True)


def discard_transaction() -> None:
    discard_deferred()
    db.session.rollback()


def _flush_first(*args) -> None:
    flush()


def track_engine(engine=None) -> None:
    """Count statements SQLAlchemy sends itself, too; and send deferred statements before the
    ORM sends anything (a query, a flush, a commit), so the order of a transaction's statements
    is the order they were issued in."""
    engine = engine or db.engine
    if not event.contains(engine, "after_cursor_execute", _statement_done):
        event.listen(engine, "after_cursor_execute", _statement_done)
    for name in ("do_orm_execute", "before_flush", "before_commit"):
        if not event.contains(Session, name, _flush_first):
            event.listen(Session, name, _flush_first)


def _bind(params: dict, processors: dict[str, Callable]) -> dict:
    if not processors:
        return params
    return {k: processors[k](v) if k in processors else v for k, v in params.items()}


def _fetch(cursor, many: bool, compiled: _Compiled) -> list:
    if compiled.row_type is None or cursor is None:
        return []
    raw_rows: list = []
    while True:
        if cursor.description:
            raw_rows.extend(cursor.fetchall())
        if not many or not cursor.nextset():
            break
    make, processors = compiled.row_type._make, compiled.result_processors
    if not any(processors):
        return [make(r) for r in raw_rows]
    return [make(f(v) if f else v for f, v in zip(processors, r)) for r in raw_rows]


# ---------------------------------------------------------------------------------------------
# Recording (tests and the bench)


def _driver_in_transaction(raw) -> bool:
    info = getattr(raw, "info", None)  # psycopg; sqlite3 has in_transaction
    if info is not None and hasattr(info, "transaction_status"):
        return info.transaction_status != 0  # 0: IDLE (a pipelined COMMIT went already)
    return bool(getattr(raw, "in_transaction", True))


@contextlib.contextmanager
def recording(engine=None) -> Iterator[Recording]:
    """Every statement sent inside the block, through this module or through SQLAlchemy, with
    the round trips they cost (a pipelined group is one; so is a commit)."""
    engine = engine or db.engine
    found = Recording()

    def on_statement(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE",
                                                       "ROLLBACK")):
            found.statements.append((statement, parameters))
            found.round_trips += 1

    def on_commit(conn):
        if _driver_in_transaction(conn.connection.driver_connection):
            found.commits += 1
            found.round_trips += 1

    token = _recording.set(found)
    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "commit", on_commit)
        _recording.reset(token)
