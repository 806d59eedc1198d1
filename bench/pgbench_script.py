"""Render recorded SQL statements into a pgbench script (pure functions, no database).

Input: the statements one credit sent, as recorded by `carbon_credits.services.statements.
recording()` (SQL in psycopg's `%(name)s` style with its parameters), grouped by round trip,
and the same for a second credit of the same citizen. Output: a pgbench script that replays the
first credit with literals, except for what must differ from one transaction to the next:

- values that differ between the two credits and are identifiers minted per request (UUIDs,
  and strings such as the idempotency key) become per-transaction expressions derived from one
  pgbench variable, `:cc_txn` (`md5(...)::uuid` for UUIDs, `md5(...)` text for strings), so the
  same minted id is the same in every statement of one transaction and unique across them;
- every date and time is moved back by `:cc_shift` whole days, so replayed actions spread over
  several scheme days instead of piling onto one citizen's daily-cap row and overlap window;
- everything else (the citizen, the methodology version, amounts) stays as recorded.

Literals keep the types psycopg would have sent (`'...'::uuid`, `'...'::timestamptz`, a bare
number, an untyped string). Colons inside literals are written `\\x3a` in `E'...'` strings:
pgbench's prepared mode would take `:32` in `'18:32:08'` for a variable. A value of a type not
listed here raises `RenderError`: the bench must fail rather than replay something else.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import re
import uuid
from typing import Any

PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")
UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
JSON_CAST = re.compile(r"\s*::\s*JSONB?\b", re.IGNORECASE)
ANY_CAST = re.compile(r"\s*::")
TXN, SHIFT = "cc_txn", "cc_shift"


class RenderError(Exception):
    """A recorded statement that cannot be replayed faithfully."""


@dataclasses.dataclass
class Credit:
    """One recorded credit: statement groups in order (a group is one round trip; a pipelined
    group holds several statements) and where the commits fell (index of the next group)."""
    groups: list[list[tuple[str, Any]]]
    commits_before_group: list[int]

    @property
    def statements(self) -> list[tuple[str, Any]]:
        return [s for group in self.groups for s in group]


@dataclasses.dataclass
class Minted:
    """Values minted per request, found by comparing two credits of one citizen."""
    uuids: dict[str, int] = dataclasses.field(default_factory=dict)    # canonical text -> n
    strings: dict[str, int] = dataclasses.field(default_factory=dict)  # value -> n


def param_sets(params) -> list:
    """A statement's parameter sets: one for execute, several for executemany."""
    if params is None:
        return [{}]
    if isinstance(params, dict):
        return [params]
    rows = isinstance(params, (list, tuple)) and params
    if rows and all(isinstance(p, (dict, list, tuple)) for p in params):
        return list(params)
    if isinstance(params, (list, tuple)):
        return [list(params)]  # positional parameters of one execute
    raise RenderError(f"unexpected parameters {type(params).__name__}: {params!r:.200}")


def same_shape(a: Credit, b: Credit) -> None:
    """Both credits sent the same SQL in the same round trips, or the replay means nothing."""
    shape_a = [[sql for sql, _ in g] for g in a.groups]
    shape_b = [[sql for sql, _ in g] for g in b.groups]
    if shape_a != shape_b:
        flat_a = [s for g in shape_a for s in g]
        flat_b = [s for g in shape_b for s in g]
        first = next((i for i, (x, y) in enumerate(zip(flat_a, flat_b)) if x != y),
                     min(len(flat_a), len(flat_b)))
        raise RenderError(
            "two credits of one citizen sent different SQL: groups "
            f"{[len(g) for g in shape_a]} vs {[len(g) for g in shape_b]}; first difference at "
            f"statement {first}: {_first_line(flat_a, first)!r} vs {_first_line(flat_b, first)!r}")
    if a.commits_before_group != b.commits_before_group:
        raise RenderError(f"commits fell at different places: {a.commits_before_group} vs "
                          f"{b.commits_before_group}")


def _first_line(statements: list[str], i: int) -> str:
    return statements[i].strip().splitlines()[0][:120] if i < len(statements) else "<none>"


def find_minted(a: Credit, b: Credit) -> Minted:
    """UUIDs and strings of credit `a` that credit `b` did not repeat at the same place."""
    same_shape(a, b)
    minted = Minted()
    for (_, params_a), (_, params_b) in zip(a.statements, b.statements):
        sets_a, sets_b = param_sets(params_a), param_sets(params_b)
        if len(sets_a) != len(sets_b):
            raise RenderError(f"executemany of {len(sets_a)} vs {len(sets_b)} rows")
        for set_a, set_b in zip(sets_a, sets_b):
            keys = set_a.keys() if isinstance(set_a, dict) else range(len(set_a))
            for key in keys:
                if _differs(set_a[key], set_b[key]):
                    _note_minted(set_a[key], minted)
    return minted


def _differs(x, y) -> bool:
    unwrap = (lambda v: v.obj if _is_json_wrapper(v) else v)
    return unwrap(x) != unwrap(y)


def _note_minted(value, minted: Minted) -> None:
    if isinstance(value, uuid.UUID):
        minted.uuids.setdefault(str(value), len(minted.uuids))
    elif isinstance(value, str):
        found = UUID_TEXT.findall(value)
        if found:
            for text in found:
                minted.uuids.setdefault(text.lower(), len(minted.uuids))
        else:
            minted.strings.setdefault(value, len(minted.strings))
    # Other values that differ (amounts, times, JSON bodies) are replayed as recorded; times
    # are shifted anyway.


# --- literals --------------------------------------------------------------------------------

def quote(text: str) -> str:
    """An E'' string literal with no colon in it (see the module docstring)."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == ":":
            out.append("\\x3a")
        elif ch == "\x00":
            raise RenderError("a NUL character cannot be sent to PostgreSQL")
        elif ord(ch) < 32:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "E'" + "".join(out) + "'"


def _is_json_wrapper(value) -> bool:
    return type(value).__name__ in ("Json", "Jsonb") and hasattr(value, "obj")


def _json_text(value) -> str:
    obj, dumps = value, json.dumps
    if _is_json_wrapper(value):
        obj, dumps = value.obj, getattr(value, "dumps", None) or json.dumps
    try:
        text = dumps(obj)
        return text.decode() if isinstance(text, bytes) else text
    except (TypeError, ValueError) as error:
        raise RenderError(f"cannot write {obj!r:.120} as JSON: {error}") from error


def _shifted(expr: str) -> str:
    return f"({expr} - make_interval(days => (:{SHIFT})::int))"


def uuid_expr(n: int) -> str:
    return f"md5((:{TXN})::text || '-u{n}')::uuid"


def string_expr(n: int, length: int) -> str:
    digest = f"md5((:{TXN})::text || '-s{n}')"
    if length <= 32:
        return f"left({digest}, {length})"
    return f"rpad({digest}, {length}, md5((:{TXN})::text || '-t{n}'))"


def _datetime(value: dt.datetime) -> str:
    kind = "timestamptz" if value.tzinfo is not None else "timestamp"
    return _shifted(f"{quote(value.isoformat())}::{kind}")


# Plain literals by type, in order: bool before int (a bool is an int), datetime before date.
LITERALS = [
    (bool, lambda v: "true" if v else "false"),
    (int, lambda v: f"({v})" if v < 0 else str(v)),
    (float, lambda v: f"'{v!r}'::float8"),
    (decimal.Decimal, lambda v: f"'{v}'::numeric"),
    (dt.datetime, _datetime),
    (dt.date, lambda v: f"({quote(v.isoformat())}::date - (:{SHIFT})::int)"),
    (dt.time, lambda v: f"{quote(v.isoformat())}::time"),
    (dt.timedelta, lambda v: f"'{v.total_seconds()!r} seconds'::interval"),
    ((bytes, bytearray, memoryview), lambda v: f"E'\\\\x{bytes(v).hex()}'::bytea"),
]


def render_value(value, *, json_cast: bool, cast_follows: bool, minted: Minted) -> str:
    """SQL for one parameter value: a typed literal, or an expression for a minted value."""
    if value is None:
        return "NULL"
    if _is_json_wrapper(value) or json_cast or isinstance(value, dict):
        return quote(_json_text(value))
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, uuid.UUID):
        n = minted.uuids.get(str(value))
        return f"({uuid_expr(n)})" if n is not None else f"'{value}'::uuid"
    if isinstance(value, str):
        return _render_text(value, minted)
    if isinstance(value, (list, tuple)):
        return _render_array(list(value), cast_follows=cast_follows, minted=minted)
    for kind, render in LITERALS:
        if isinstance(value, kind):
            return render(value)
    raise RenderError(f"cannot render a {type(value).__module__}.{type(value).__name__}: {value!r:.120}")


def _render_text(value: str, minted: Minted) -> str:
    if value in minted.strings:
        return f"({string_expr(minted.strings[value], len(value))})"
    parts, last = [], 0
    for match in UUID_TEXT.finditer(value):
        n = minted.uuids.get(match.group(0).lower())
        if n is None:
            continue
        if match.start() > last:
            parts.append(quote(value[last:match.start()]))
        parts.append(f"({uuid_expr(n)})::text")
        last = match.end()
    if not parts:
        return quote(value)
    if last < len(value):
        parts.append(quote(value[last:]))
    return "(" + " || ".join(parts) + ")"


def _render_array(values: list, *, cast_follows: bool, minted: Minted) -> str:
    if not values:
        if not cast_follows:
            raise RenderError("an empty array without a cast has no type")
        return "'{}'"
    items = [render_value(v, json_cast=False, cast_follows=False, minted=minted) for v in values]
    return "ARRAY[" + ", ".join(items) + "]"


# --- statements and scripts -------------------------------------------------------------------

def render_statement(sql: str, params, minted: Minted) -> list[str]:
    """One SQL command per parameter set (executemany sends one per row)."""
    return [_render_one(sql, p, minted) for p in param_sets(params)]


SQL_STRING = re.compile(r"(?<![A-Za-z0-9_$])'(?:[^']|'')*'")
PGBENCH_VARIABLE = re.compile(r":+([A-Za-z0-9_\x80-\U0010ffff]*)")


def _requote_sql_strings(sql: str) -> str:
    """String constants written into the SQL itself (`status IN ('approved')`) that hold a
    colon are rewritten as E'' strings with the colon escaped, as for parameters."""
    def requote(match):
        text = match.group(0)
        return quote(text[1:-1].replace("''", "'")) if ":" in text else text
    return SQL_STRING.sub(requote, sql)


def check_variables(command: str) -> None:
    """pgbench reads every `:name` (outside `::`) as a variable; only ours may appear."""
    for match in PGBENCH_VARIABLE.finditer(command):
        if match.group(0).startswith("::") or not match.group(1):
            continue
        if match.group(1) not in (TXN, SHIFT):
            raise RenderError(f"pgbench would read :{match.group(1)} as a variable in "
                              f"{command.strip()[:160]!r}")


def _render_one(sql: str, params, minted: Minted) -> str:
    sql = _requote_sql_strings(sql)
    position = iter(range(10_000))
    out, last = [], 0
    for match in PLACEHOLDER.finditer(sql):
        out.append(sql[last:match.start()])
        last = match.end()
        token = match.group(0)
        if token == "%%":
            out.append("%")
            continue
        try:
            value = params[match.group(1)] if match.group(1) else params[next(position)]
        except (KeyError, IndexError, TypeError) as error:
            raise RenderError(f"no value for {token} in {sql.strip()[:120]!r}") from error
        rest = sql[last:]
        out.append(render_value(value, json_cast=bool(JSON_CAST.match(rest)),
                                cast_follows=bool(ANY_CAST.match(rest)), minted=minted))
    out.append(sql[last:])
    text = "".join(out).strip().rstrip(";")
    if text.startswith("\\"):
        raise RenderError("a statement starts with a backslash: pgbench would read a meta-command")
    check_variables(text)
    return text + ";"


def build_script(credit: Credit, minted: Minted, *, shift_days: int, title: str) -> str:
    """The pgbench script: per-transaction variables, then the credit's groups in order,
    pipelined groups between \\startpipeline and \\endpipeline, in BEGIN ... COMMIT."""
    lines = [f"-- {title}",
             "-- generated by bench/credit_sql.py at bench time; regenerated every run",
             f"\\set {TXN} random(1, 1000000000000000000)",
             f"\\set {SHIFT} random(0, {max(0, shift_days - 1)})"]
    in_transaction = False
    for index, group in enumerate(credit.groups):
        if index in credit.commits_before_group and in_transaction:
            lines.append("COMMIT;")
            in_transaction = False
        commands = [c for sql, params in group for c in render_statement(sql, params, minted)]
        begin = [] if in_transaction else ["BEGIN;"]
        in_transaction = True
        if len(commands) > 1:  # psycopg queues BEGIN inside the pipeline too
            lines += ["\\startpipeline", *begin, *commands, "\\endpipeline"]
        else:
            lines += [*begin, *commands]
    if in_transaction:
        lines.append("COMMIT;")
    return "\n".join(lines) + "\n"
