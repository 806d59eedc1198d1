"""WAL bytes per app credit and per partner-batch record, measured in process, for each schema
revision given, back to back:

    .venv/bin/python bench/wal_per_credit.py --database-url postgresql://postgres@127.0.0.1/NAME \
        [--revisions 0012 head] [--series 2] [--rounds 2] [--credits 300] [--records 1000] \
        [--json out.json]

THE DATABASE IS WIPED (its public schema dropped and recreated): give it a scratch database.

Each revision is measured in a process of its own (`--series` per revision, alternating A B B A
so machine load and PostgreSQL's state favour neither side), on the database wiped and migrated
straight to that revision (so the indexes are built as they would be, not rebuilt by switching).
Each process seeds the methodologies, makes `--citizens` citizens with a card bound to one
transit operator (requested by the citizen, confirmed by the operator's signed call, as in
tests/api/test_actions.py), makes `--warm-up` app credits, then `--rounds` times:

1. CHECKPOINT, then `--credits` app credits (POST /api/v1/actions with an Idempotency-Key,
   through Flask's test client: a walk each, every one must be credited);
2. CHECKPOINT, then one partner batch of `--records` metro trips (POST /api/v1/partner/actions,
   signed; every record must be credited).

The server's WAL is shared by every database on it, so `pg_current_wal_lsn()` before and after
(`pg_wal_lsn_diff`, printed as `cluster`) counts other databases' work too. The figures are
therefore taken from the WAL records themselves with pg_walinspect (PostgreSQL 15+, superuser):
the records that touch a block of this database, plus the commit records of the transactions
that wrote them. Each figure is given with its full-page images (`total`; FPI: the first change
to a page after a checkpoint, which an index on random keys pays most often) and without them
(`no FPI`: stable whatever the checkpoint timing), and per relation (heap, each index, TOAST).
Without pg_walinspect only the cluster-wide difference is reported.
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import logging
import re
import sys
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

UTC = dt.timezone.utc
PASSWORD = "wal bench password 123"
WALK_SPACING = dt.timedelta(minutes=75)  # walks this far apart stay under the daily cap
TRIP_SPACING = dt.timedelta(minutes=288)  # five metro trips a day: under the cap
BLOCK_REF = re.compile(r"rel (\d+)/(\d+)/(\d+)")


# --- the app and its citizens ---------------------------------------------------------------

def make_app(database_url: str):
    from api import create_app
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the no-Redis start-up warning
        return create_app({
            "DATABASE_URL": database_url, "REDIS_URL": "", "CARBON_ENV": "test", "TESTING": True,
            "SECRET_KEY": "wal-bench-secret-0123456789abcdef0123456789",
            # Room for every round's credits, each on its own slot in the past.
            "CLAIM_WINDOW_DAYS": "366", "LOGIN_RATE_LIMIT": "100000 per minute",
            "THROTTLE_ADDRESS_LIMIT": "100000 per minute",
            "THROTTLE_FAILED_LOGIN_LIMIT": "100000 per minute"})


def sql(app, statement: str, **params):
    from sqlalchemy import text

    from models import db
    with app.app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            result = conn.execute(text(statement), params)
            return result.all() if result.returns_rows else None


def set_up(app, citizens: int, revision: str):
    """A fresh schema at `revision`, the seed methodologies, an operator, bound citizens."""
    from flask_migrate import upgrade

    from carbon_credits.services import auth, partners
    from carbon_credits.services.methodologies import seed_methodologies
    from models import db
    sql(app, "DROP SCHEMA public CASCADE")
    sql(app, "CREATE SCHEMA public")
    logging.disable(logging.INFO)  # the migration's progress lines
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory, revision=revision)
        seed_methodologies()
        issued = partners.create_partner(name="Metro operator", kind="transit_operator",
                                         actor_user_id=None)
        operator = {"id": str(issued.partner.id), "key_id": issued.partner.key_id,
                    "secret": issued.secret}
        pool = []
        for i in range(citizens):
            email = f"walker{i}@wal.bench"
            auth.register_user(email=email, phone=None, password=PASSWORD,
                               display_name=f"Walker {i}", roles=("citizen",), partner_id=None,
                               verified=True)
            access = auth.login(identifier=email, password=PASSWORD).access_token
            pool.append({"headers": {"Authorization": f"Bearer {access}"},
                         "card": f"CARD-{i:05d}", "slot": 0})
        db.session.remove()
    client = app.test_client()
    for citizen in pool:
        bind(client, operator, citizen)
    return client, operator, pool


def signed(operator: dict, body: bytes) -> dict:
    import time

    from carbon_credits.services.partners import sign
    ts = str(int(time.time()))
    return {"X-Partner-Key": operator["key_id"], "X-Timestamp": ts,
            "X-Signature": sign(operator["secret"], ts, body), "Content-Type": "application/json"}


def bind(client, operator: dict, citizen: dict) -> None:
    r = client.post("/api/v1/me/bindings", headers=citizen["headers"],
                    json={"partner_id": operator["id"], "external_ref": citizen["card"]})
    assert r.status_code == 201, r.get_json()
    raw = json.dumps({"external_ref": citizen["card"],
                      "confirmation_code": r.get_json()["confirmation_code"]}).encode()
    c = client.post("/api/v1/partner/bindings/confirm", data=raw, headers=signed(operator, raw))
    assert c.status_code == 200, c.get_json()


# --- the workloads --------------------------------------------------------------------------

def app_credits(client, pool: list, count: int, now: dt.datetime) -> None:
    """`count` walks, round robin over the citizens, each on the citizen's next free slot."""
    for i in range(count):
        citizen = pool[i % len(pool)]
        start = now - dt.timedelta(hours=1) - WALK_SPACING * citizen["slot"]
        citizen["slot"] += 1
        end = (start + dt.timedelta(minutes=6)).isoformat()
        r = client.post("/api/v1/actions", headers={**citizen["headers"],
                                                    "Idempotency-Key": uuid.uuid4().hex},
                        json={"action_type": "transit", "mode": "walk", "occurred_at": end,
                              "started_at": start.isoformat(), "ended_at": end,
                              "distance_km": 0.5})
        body = r.get_json() or {}
        if r.status_code != 201 or body.get("status") != "credited" or not body.get("points"):
            raise SystemExit(f"wal_per_credit: an app credit was not credited: "
                             f"{r.status_code} {body}")


def partner_batch(client, operator: dict, pool: list, count: int, first_slot: int,
                  now: dt.datetime) -> None:
    """One batch of `count` metro trips of the bound cards; every record must be credited."""
    records = []
    for i in range(count):
        citizen = pool[i % len(pool)]
        slot = first_slot + i // len(pool)
        start = now - dt.timedelta(hours=2) - TRIP_SPACING * slot
        end = start + dt.timedelta(minutes=20)
        records.append({"external_id": f"M-{citizen['card']}-{slot}",
                        "external_ref": citizen["card"], "action_type": "transit",
                        "mode": "metro", "occurred_at": end.isoformat(),
                        "started_at": start.isoformat(), "ended_at": end.isoformat(),
                        "distance_km": 10})
    body = json.dumps({"records": records}).encode()
    r = client.post("/api/v1/partner/actions", data=body, headers=signed(operator, body))
    summary = (r.get_json() or {}).get("summary")
    if r.status_code != 200 or summary != {"credited": count}:
        raise SystemExit(f"wal_per_credit: the partner batch was not all credited: "
                         f"{r.status_code} {summary}")


# --- WAL ------------------------------------------------------------------------------------

class WalMeter:
    """WAL written for this database between two points, from pg_walinspect's records."""

    def __init__(self, app):
        self.app = app
        self.database_oid = sql(app, "SELECT oid FROM pg_database "
                                     "WHERE datname = current_database()")[0][0]
        try:
            sql(app, "CREATE EXTENSION IF NOT EXISTS pg_walinspect")
            self.inspect = True
        except Exception as error:  # not installed, or not a superuser
            print(f"pg_walinspect unavailable ({str(error).splitlines()[0]}): "
                  "reporting the cluster-wide LSN difference only", file=sys.stderr)
            self.inspect = False

    def start(self) -> str:
        """A CHECKPOINT first, so every measurement starts with no page imaged yet."""
        sql(self.app, "CHECKPOINT")
        return sql(self.app, "SELECT pg_current_wal_lsn()::text")[0][0]

    def stop(self, start: str) -> dict:
        end = sql(self.app, "SELECT pg_current_wal_flush_lsn()::text")[0][0]
        cluster = int(sql(self.app, "SELECT pg_wal_lsn_diff(:e, :s)", e=end, s=start)[0][0])
        found = {"cluster": cluster}
        if self.inspect:
            found.update(self._attributed(start, end))
        return found

    def _attributed(self, start: str, end: str) -> dict:
        rows = sql(self.app, "SELECT xid::text::bigint, resource_manager, record_type, "
                             "record_length, fpi_length, block_ref "
                             "FROM pg_get_wal_records_info(:s, :e)", s=start, e=end)
        names = self._relation_names()
        ours, xids = [], set()
        for xid, manager, kind, length, fpi, block_ref in rows:
            match = BLOCK_REF.search(block_ref or "")
            if match and int(match.group(2)) == self.database_oid:
                ours.append((names.get(int(match.group(3)), f"filenode {match.group(3)}"),
                             length, fpi))
                if xid:
                    xids.add(xid)
        for xid, manager, kind, length, fpi, block_ref in rows:
            if manager == "Transaction" and xid in xids:
                ours.append(("(commit)", length, fpi))
        by_relation = collections.defaultdict(lambda: [0, 0])
        for name, length, fpi in ours:
            by_relation[name][0] += length
            by_relation[name][1] += fpi
        total = sum(length for _, length, _ in ours)
        fpi = sum(fpi for _, _, fpi in ours)
        return {"total": total, "fpi": fpi, "no_fpi": total - fpi, "records": len(ours),
                "by_relation": {name: {"total": t, "no_fpi": t - f}
                                for name, (t, f) in sorted(by_relation.items())}}

    def _relation_names(self) -> dict[int, str]:
        """filenode -> table or index name; TOAST relations named after their table."""
        rows = sql(self.app, """
            SELECT c.relfilenode, c.relname, owner.relname
            FROM pg_class c
                 LEFT JOIN pg_index i ON i.indexrelid = c.oid
                 LEFT JOIN pg_class owner ON owner.reltoastrelid IN (c.oid, i.indrelid)
            WHERE c.relfilenode <> 0""")
        return {node: name if owner is None else
                f"toast {'index ' if name.endswith('_index') else ''}of {owner}"
                for node, name, owner in rows}


def measure(meter: WalMeter, client, operator, pool, *, credits: int, records: int,
            batch_slot: int, now: dt.datetime) -> dict:
    started = meter.start()
    app_credits(client, pool, credits, now)
    credit = meter.stop(started)
    started = meter.start()
    partner_batch(client, operator, pool, records, batch_slot, now)
    batch = meter.stop(started)
    return {"credit": per_unit(credit, credits), "record": per_unit(batch, records)}


def per_unit(found: dict, units: int) -> dict:
    shown = {k: round(v / units, 1) for k, v in found.items() if isinstance(v, (int, float))}
    if "by_relation" in found:
        shown["by_relation"] = {name: {k: round(v / units, 1) for k, v in figures.items()}
                                for name, figures in found["by_relation"].items()}
    return shown


# --- the run --------------------------------------------------------------------------------

def measure_revision(args) -> dict:
    """One series on a fresh database at `args.revision`: set-up, warm-up, then the rounds."""
    app = make_app(args.database_url)
    client, operator, pool = set_up(app, args.citizens, args.revision)
    meter = WalMeter(app)
    now = dt.datetime.now(UTC).replace(second=0, microsecond=0)
    # Warm-up: the process's caches, the system accounts, tables past their first pages.
    app_credits(client, pool, args.warm_up, now)
    figures, slot = [], 0
    for _ in range(args.rounds):
        figures.append(measure(meter, client, operator, pool, credits=args.credits,
                               records=args.records, batch_slot=slot, now=now))
        slot += -(-args.records // len(pool))
    return {"revision": args.revision, "rounds": figures}


def compare(args) -> dict:
    """Each revision measured in a process of its own on the wiped database, alternating
    (A B B A ...), so machine load and PostgreSQL's state favour neither."""
    import subprocess
    results: dict[str, list] = {revision: [] for revision in args.revisions}
    for series in range(args.series):
        order = args.revisions if series % 2 == 0 else list(reversed(args.revisions))
        for revision in order:
            out = subprocess.run(
                [sys.executable, __file__, "--database-url", args.database_url,
                 "--revision", revision, "--rounds", str(args.rounds),
                 "--credits", str(args.credits), "--records", str(args.records),
                 "--citizens", str(args.citizens), "--warm-up", str(args.warm_up)],
                check=True, capture_output=True, text=True)
            found = json.loads(out.stdout.strip().splitlines()[-1])
            results[revision].extend(found["rounds"])
            for figures in found["rounds"]:
                print(f"series {series + 1} {revision}: " + summary_line(figures), flush=True)
    return {"credits": args.credits, "records": args.records, "citizens": args.citizens,
            "warm_up": args.warm_up, "measurements": args.series * args.rounds,
            "results": results}


def summary_line(figures: dict) -> str:
    parts = []
    for unit in ("credit", "record"):
        f = figures[unit]
        shown = (f"{f['total']:.0f} B (no FPI {f['no_fpi']:.0f} B)" if "total" in f
                 else f"cluster {f['cluster']:.0f} B")
        parts.append(f"per {unit} {shown}")
    return "; ".join(parts)


def report(found: dict) -> None:
    print(f"\nWAL bytes per unit, median of {found['measurements']} measurements "
          f"({found['credits']} app credits, then one batch of {found['records']} records, "
          f"after {found['warm_up']} warm-up credits, {found['citizens']} citizens)")
    for unit in ("credit", "record"):
        print(f"\nper {'app credit' if unit == 'credit' else 'partner record'}:")
        print(f"  {'revision':10} {'total':>9} {'no FPI':>9} {'FPI':>9} {'cluster':>9}")
        for revision, rounds in found["results"].items():
            med = {k: median([r[unit].get(k, 0) for r in rounds])
                   for k in ("total", "no_fpi", "fpi", "cluster")}
            print(f"  {revision:10} {med['total']:9.0f} {med['no_fpi']:9.0f} {med['fpi']:9.0f} "
                  f"{med['cluster']:9.0f}")
        print_relations(found, unit)


def print_relations(found: dict, unit: str) -> None:
    """No-FPI bytes per relation (median), one column per revision; under 1 B left out."""
    revisions = list(found["results"])
    names = sorted({name for rounds in found["results"].values() for r in rounds
                    for name in r[unit].get("by_relation", {})})
    if not names:
        return
    print(f"  {'relation (no FPI)':40} " + " ".join(f"{r:>8}" for r in revisions))
    for name in names:
        values = [median([r[unit].get("by_relation", {}).get(name, {}).get("no_fpi", 0)
                          for r in found["results"][rev]]) for rev in revisions]
        if max(values) >= 1:
            print(f"  {name:40} " + " ".join(f"{v:8.0f}" for v in values))


def median(values: list) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True,
                        help="a scratch PostgreSQL database: it is wiped")
    parser.add_argument("--revisions", nargs="+", default=["0012", "head"],
                        help="schema revisions to compare (alembic ids or 'head')")
    parser.add_argument("--revision", help=argparse.SUPPRESS)  # one series, in this process
    parser.add_argument("--series", type=int, default=2,
                        help="processes per revision (alternating)")
    parser.add_argument("--rounds", type=int, default=2, help="measurements per process")
    parser.add_argument("--credits", type=int, default=300, help="app credits per measurement")
    parser.add_argument("--records", type=int, default=1000, help="records in the batch")
    parser.add_argument("--citizens", type=int, default=50)
    parser.add_argument("--warm-up", type=int, default=300, help="app credits before measuring")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not args.database_url.startswith(("postgresql", "postgres")):
        raise SystemExit("wal_per_credit: WAL is PostgreSQL's; give a PostgreSQL database URL")
    if args.revision:
        print(json.dumps(measure_revision(args)))
        return
    found = compare(args)
    report(found)
    if args.json:
        args.json.write_text(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
