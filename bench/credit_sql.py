"""Figure (b) of `make bench`: the credit's own SQL, recorded from the service and written as
pgbench scripts. Run by run.py with the service's environment (DATABASE_URL of the bench
database, REDIS_URL, ...) and the venv's Python:

    python credit_sql.py --citizens tokens.json --out results/credit_sql

For each citizen of the pool (bench citizens, given by their access tokens) it makes three app
credits in process through Flask's test client, exactly as gunicorn would serve them
(POST /api/v1/actions with an Idempotency-Key): a warm-up (a first credit may take extra
statements, and fills the process's caches), then two recorded inside
`carbon_credits.services.statements.recording()`. The two recordings of one citizen tell what is
minted per request (ids, the idempotency key: see pgbench_script.py); the first is rendered into
`credit_NNN.sql`, one script per citizen, which pgbench picks at random per transaction.
Every credit of every citizen must send the same SQL in the same round trips, or this fails.

Writes `summary.json` beside the scripts: statements, round trips and commits per credit, the
round-trip groups, and what was replaced per transaction.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import uuid
from pathlib import Path

from common import ROOT, walk
from pgbench_script import Credit, RenderError, build_script, find_minted, same_shape

UTC = dt.timezone.utc


class RoundTrips(list):
    """Stands in for `Recording.statements`: the same list, plus where each round trip and each
    commit began. The SQLAlchemy path appends one statement per round trip; the pipelined
    layer extends the list by a whole group."""

    def __init__(self):
        super().__init__()
        self.groups: list[list] = []
        self.commits_before_group: list[int] = []

    def append(self, item):
        super().append(item)
        self.groups.append([item])

    def extend(self, items):
        items = list(items)
        super().extend(items)
        if items:
            self.groups.append(items)

    def commit(self):
        self.commits_before_group.append(len(self.groups))


def record_credit(app, client, headers: dict, start: dt.datetime) -> tuple[Credit, dict]:
    from sqlalchemy import event

    from carbon_credits.services.statements import recording
    from models import db

    with app.app_context():
        engine = db.engine
        with recording() as found:
            seen = found.statements = RoundTrips()
            on_commit = (lambda conn: seen.commit())
            event.listen(engine, "commit", on_commit)
            try:
                credit(client, headers, start)
            finally:
                event.remove(engine, "commit", on_commit)
    if len(seen.groups) + found.commits != found.round_trips:
        raise RenderError(
            f"the recording counted {found.round_trips} round trips but {len(seen.groups)} "
            f"statement groups and {found.commits} commits were seen: statements.recording() "
            "changed how it lists statements; update bench/credit_sql.py (RoundTrips)")
    counts = {"statements": len(found.statements), "round_trips": found.round_trips,
              "commits": found.commits, "groups": [len(g) for g in seen.groups]}
    groups = [[(sql, with_fixed_values(sql, params, engine.dialect)) for sql, params in group]
              for group in seen.groups]
    return Credit(groups=groups, commits_before_group=seen.commits_before_group), counts


_fixed_values: dict[str, dict] | None = None
AMBIGUOUS = {"<ambiguous>": None}
PLACEHOLDER_NAME = re.compile(r"%\((\w+)\)s")
COMPLETED: set[str] = set()  # SQL whose constants came from the statement objects


def with_fixed_values(sql: str, params, dialect):
    """The recording lists the parameters a caller passed to a built-once `Statement`; values
    written into the construct itself (`.values(kind="earn")`) are sent as parameters too, but
    are not in that list. They are the same on every execution: take them from the statement
    objects that compiled this SQL. Placeholders left without a value make the render fail."""
    global _fixed_values
    names = set(PLACEHOLDER_NAME.findall(sql))
    sets = params if isinstance(params, (list, tuple)) else [params]
    if all(isinstance(p, dict) and names <= p.keys() for p in sets):
        return params  # nothing missing: the recording has every value
    if _fixed_values is None:
        _fixed_values = _statement_constants(dialect)
    fixed = _fixed_values.get(sql)
    if not fixed:
        return params
    COMPLETED.add(sql)
    if fixed is AMBIGUOUS:
        raise RenderError(f"two built-once statements compile to this SQL with different "
                          f"constants; cannot tell which was sent: {sql.strip()[:120]!r}")
    if isinstance(params, dict):
        return {**fixed, **params}
    return [{**fixed, **p} if isinstance(p, dict) else p for p in params]


def _statement_constants(dialect) -> dict[str, dict]:
    import gc

    from carbon_credits.services.statements import Statement

    found: dict[str, dict] = {}
    for obj in gc.get_objects():
        if isinstance(obj, Statement):
            try:
                compiled = obj.compiled_for(dialect)
            except (ValueError, KeyError):  # not compiled this way on this dialect
                continue
            fixed = dict(getattr(compiled, "fixed_params", {}) or {})
            if found.setdefault(compiled.sql, fixed) != fixed:
                found[compiled.sql] = AMBIGUOUS
    return found


def credit(client, headers: dict, start: dt.datetime) -> None:
    response = client.post("/api/v1/actions", json=walk(start),
                           headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    body = response.get_json(silent=True) or {}
    if response.status_code != 201 or body.get("status") != "credited":
        raise SystemExit(f"credit_sql: an app credit failed: {response.status_code} {body}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=Path, required=True,
                        help="JSON list of Authorization header values, one per pool citizen")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--days-back", type=int, default=6,
                        help="the recorded walks happen this many days ago (inside the claim "
                             "window, away from the days the HTTP runs use)")
    parser.add_argument("--shift-days", type=int, default=28,
                        help="replayed transactions move their times back by 0..N-1 days")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from api import create_app

    app = create_app()
    client = app.test_client()
    authorizations = json.loads(args.citizens.read_text())
    base = dt.datetime.now(UTC).replace(second=0, microsecond=0) - dt.timedelta(days=args.days_back)
    recorded = []
    for authorization in authorizations:
        headers = {"Authorization": authorization}
        credit(client, headers, base)  # warm-up, not recorded
        first = record_credit(app, client, headers, base + dt.timedelta(minutes=75))
        second = record_credit(app, client, headers, base + dt.timedelta(minutes=150))
        recorded.append((first, second))
    write_scripts(recorded, args.out, shift_days=args.shift_days)


def write_scripts(recorded: list, out: Path, *, shift_days: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("credit_*.sql"):
        old.unlink()
    (reference, counts), _ = recorded[0]
    scripts, minted_counts = [], set()
    for k, ((first, first_counts), (second, _)) in enumerate(recorded):
        same_shape(reference, first)
        if first_counts != counts:
            raise RenderError(f"citizen {k}: {first_counts} but citizen 0: {counts}")
        minted = find_minted(first, second)
        minted_counts.add((len(minted.uuids), len(minted.strings)))
        path = out / f"credit_{k:03d}.sql"
        path.write_text(build_script(first, minted, shift_days=shift_days,
                                     title=f"one app credit of bench citizen {k}"))
        scripts.append(str(path))
    if len(minted_counts) != 1:
        raise RenderError(f"citizens differ in what is minted per credit: {sorted(minted_counts)}")
    uuids, strings = minted_counts.pop()
    summary = {**counts, "scripts": scripts, "citizens": len(recorded), "shift_days": shift_days,
               "minted_uuids": uuids, "minted_strings": strings,
               "statements_completed_from_constructs": len(COMPLETED),
               "first_lines": [sql.strip().splitlines()[0][:100] for sql, _ in reference.statements]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    try:
        main()
    except RenderError as error:
        raise SystemExit(f"credit_sql: cannot render the credit's SQL for pgbench: {error}")
