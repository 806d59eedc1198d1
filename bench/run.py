"""`make bench`: what the hot paths cost, measured in one run on this machine, against
PostgreSQL + Redis under gunicorn. Prints a table and writes bench/results/latest.json.
Not part of `make test`. docs/performance.md explains every figure.

  (a) pgbench tpcb-like: PostgreSQL's ceiling for a small write transaction;
  (b) pgbench replaying one app credit's own SQL: scripts generated now, by credit_sql.py,
      from the statements the service sends for a credit (no Python in the loop);
  (c) app credits over HTTP through gunicorn: credits/s, p50/p99, worker and PostgreSQL CPU
      and WAL bytes per credit;
  (d) signed partner batches of 1000 records: records/s, CPU and WAL per record;
  (e) balance and statement reads with a small ledger (10k entries) and a large one (1M);
  (f) a hot-reward redemption storm: throughput and exact outcomes.
Ratios: c/b, b/a, c/a, d/a, reads large/small, with the issue's targets.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import tempfile
from pathlib import Path

from common import (BIN, PGHOST, PGUSER, ROOT, Server, flask, free_port, fresh_database, parse_kv,
                    psql, request, service_env)
from measure import Meter, load_average
from report import TARGETS, print_table
from workloads import (PASSWORD, drive_batches, drive_credits, drive_liveness, first_credit, grow_ledger, ledger_size,
                       make_citizens, measure_reads, redemption_storm)

UTC = dt.timezone.utc
RESULTS = ROOT / "bench" / "results"
MAX_SCRIPTS = 120  # pgbench takes at most 128 -f scripts


def pgbench(db: str, clients: int, seconds: int, *options: str) -> dict:
    """One timed pgbench run; its tps, mean latency and transaction counts."""
    command = ["pgbench", "-h", PGHOST, "-U", PGUSER, "-n", "-c", str(clients),
               "-j", str(min(clients, 2)), "-T", str(seconds), *options, db]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"pgbench failed ({run.returncode}): {' '.join(command[:16])} ...\n"
                         f"{run.stderr[-3000:]}\n{run.stdout[-1500:]}")
    out = run.stdout

    def number(pattern: str) -> float | None:
        match = re.search(pattern, out)
        return float(match.group(1)) if match else None

    return {"tps": number(r"tps = ([0-9.]+) \(without initial connection time\)"),
            "latency_ms": number(r"latency average = ([0-9.]+) ms"),
            "transactions": int(number(r"number of transactions actually processed: (\d+)") or 0),
            "failed": int(number(r"number of failed transactions: (\d+)") or 0),
            "clients": clients, "seconds": seconds}


def tpcb(db: str, clients: int, seconds: int) -> dict:
    """(a) on its own database, scale 10."""
    fresh_database(db)
    subprocess.run(["pgbench", "-h", PGHOST, "-U", PGUSER, "-i", "-q", "-s", "10", db],
                   check=True, capture_output=True)
    try:
        return {"script": "tpcb-like", "scale": 10, **pgbench(db, clients, seconds, "-b", "tpcb-like")}
    finally:
        psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def credit_sql_replay(env: dict, db: str, citizens: list[dict], clients: int, seconds: int) -> dict:
    """(b): record the service's credit in process, render pgbench scripts, replay them."""
    out = RESULTS / "credit_sql"
    with tempfile.NamedTemporaryFile("w", suffix=".json") as tokens:
        json.dump([c["headers"]["Authorization"] for c in citizens], tokens)
        tokens.flush()
        run = subprocess.run([str(BIN / "python"), "credit_sql.py", "--citizens", tokens.name,
                              "--out", str(out)], cwd=ROOT / "bench", env=env,
                             capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"(b) could not generate the credit's pgbench script:\n"
                         f"{run.stderr[-2500:]}\n{run.stdout[-2500:]}")
    summary = json.loads((out / "summary.json").read_text())
    scripts = [option for path in summary["scripts"] for option in ("-f", f"{path}@1")]
    replay = pgbench(db, clients, seconds, "-M", "prepared", *scripts)
    if replay["failed"] or not replay["transactions"]:
        raise SystemExit(f"(b) the replay failed: {replay}")
    return {"query_mode": "prepared", **replay,
            "statements_per_credit": summary["statements"],
            "round_trips_per_credit": summary["round_trips"], "commits_per_credit": summary["commits"],
            "round_trip_groups": summary["groups"], "citizens": summary["citizens"],
            "shift_days": summary["shift_days"], "minted_uuids": summary["minted_uuids"],
            "minted_strings": summary["minted_strings"],
            "statements_completed_from_constructs": summary["statements_completed_from_constructs"],
            "statements": summary["first_lines"],
            "scripts": str(out.relative_to(ROOT))}


def setup(env: dict) -> dict:
    """Schema, seed data, a transit operator, a merchant and its staff member; the operator."""
    flask(env, "db", "upgrade")
    flask(env, "seed")
    operator = parse_kv(flask(env, "create-partner", "--name", "Bench Metro", "--kind", "transit_operator"))
    merchant = parse_kv(flask(env, "create-partner", "--name", "Bench Cafe", "--kind", "merchant"))
    flask(env, "create-user", "--email", "staff@bench.test", "--password", PASSWORD, "--role",
          "merchant", "--partner", merchant["partner_id"])
    return operator


def reads(port: int, db: str, citizen: dict) -> dict:
    return {"ledger_entries": ledger_size(db), **measure_reads(port, citizen)}


def measured_http(args, env: dict, operator: dict, results: dict) -> None:
    """Everything that needs the gunicorn server: (b) uses its citizens, (c) to (f)."""
    db, port = args.database, args.port or free_port()
    server = Server(env, port, args.workers, RESULTS / "gunicorn.log")
    try:
        print(f"registering {args.citizens} citizens ...", flush=True)
        citizens = make_citizens(port, args.citizens, operator, args.clients, db)
        _, tokens = request("POST", "/api/v1/auth/login", port=port,
                            body={"identifier": "staff@bench.test", "password": PASSWORD})
        staff = {"headers": {"Authorization": f"Bearer {tokens['access_token']}"}}

        # The reader's own lots and entries change only through the ledger growth: runs (c) and
        # (d) credit the other citizens, so (e) compares ledger sizes and nothing else.
        reader, crediting = citizens[0], citizens[1:]
        print(f"(e) reads at {args.ledger_small} ledger entries ...", flush=True)
        first_credit(port, reader)
        grow_ledger(db, "citizen0@bench.test", args.ledger_small)
        results["reads_small"] = reads(port, db, reader)

        pool = crediting[:min(len(crediting), args.replay_citizens, MAX_SCRIPTS)]
        print(f"(b) the credit's own SQL through pgbench, {len(pool)} citizens ...", flush=True)
        results["credit_sql"] = credit_sql_replay(env, db, pool, args.clients, args.seconds)

        print(f"(c0) GET /healthz over HTTP, {args.clients} clients, {args.seconds} s ...", flush=True)
        meter = Meter(server, db)
        floor = drive_liveness(port, args.clients, args.seconds)
        results["liveness"] = {**floor, **meter.done(floor["requests"], "request")}

        print(f"(c) app credits over HTTP, {args.clients} clients, {args.seconds} s ...", flush=True)
        meter = Meter(server, db)
        credits = drive_credits(port, crediting, args.clients, args.seconds)
        results["credits"] = {**credits, **meter.done(credits["credited"], "credit")}

        print(f"(d) {args.batches} partner batches of 1000 ...", flush=True)
        meter = Meter(server, db)
        batches = drive_batches(port, operator, crediting, args.batches)
        results["batches"] = {**batches, **meter.done(batches["records"], "record")}

        print(f"(e) growing the ledger to {args.ledger} entries ...", flush=True)
        grow_ledger(db, "citizen0@bench.test", args.ledger)
        results["reads_large"] = reads(port, db, reader)

        print("(f) redemption storm ...", flush=True)
        results["storm"] = redemption_storm(port, citizens, staff, args.clients, stock=50)
        results["peak_rss_mib"] = server.peak_rss_mib()
    finally:
        server.stop()


def ratios(r: dict) -> dict:
    a, b = r["pgbench_tpcb"]["tps"], r["credit_sql"]["tps"]
    c, d = r["credits"]["credits_per_s"], r["batches"]["records_per_s"]
    small, large = r["reads_small"], r["reads_large"]
    return {"c_over_b": round(c / b, 3), "b_over_a": round(b / a, 3),
            # the most c/b could be here: requests that do no work at all, over (b)
            "c0_over_b": round(r["liveness"]["requests_per_s"] / b, 3),
            "c_over_a": round(c / a, 4), "d_over_a": round(d / a, 3),
            "reads_1m_over_10k": round(large["balance"]["p50_ms"] / small["balance"]["p50_ms"], 2),
            "statement_1m_over_10k": round(large["statement"]["p50_ms"] / small["statement"]["p50_ms"], 2),
            "p99_ms": r["credits"]["p99_ms"]}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=20, help="length of runs a, b and c")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("--replay-citizens", type=int, default=64,
                        help="citizens (b) rotates over, one script each (at most 120)")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--ledger-small", type=int, default=10_000)
    parser.add_argument("--ledger", type=int, default=1_000_000, help="the large ledger of (e)")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port; 0 picks a free one")
    parser.add_argument("--database", default="cc_bench",
                        help="bench database (dropped and created; must start with cc_bench); "
                             "(a) uses <name>_pgbench")
    parser.add_argument("--redis-db", type=int, default=9)
    args = parser.parse_args()
    if not re.fullmatch(r"cc_bench[a-z0-9_]*", args.database):
        parser.error("--database must start with cc_bench (it is dropped and re-created)")
    return args


def main():
    args = parse_args()
    load_start = load_average()
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    subprocess.run(["redis-cli", "-n", str(args.redis_db), "FLUSHDB"], check=True, capture_output=True)
    # Tokens outlive a default run (the 1M-entry growth comes before the storm).
    env = service_env(fresh_database(args.database), redis_url, ACCESS_TOKEN_TTL_SECONDS=3600)
    operator = setup(env)
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "platform": platform.platform(), "postgres": psql("SHOW server_version")},
               "parameters": vars(args), "started_at": dt.datetime.now(UTC).isoformat()}

    print(f"(a) pgbench tpcb-like, {args.clients} clients, {args.seconds} s ...", flush=True)
    results["pgbench_tpcb"] = tpcb(f"{args.database}_pgbench", args.clients, args.seconds)
    measured_http(args, env, operator, results)

    results["ratios"] = ratios(results)
    results["targets"] = TARGETS
    results["load_average"] = {"start": load_start, "end": load_average()}
    results["finished_at"] = dt.datetime.now(UTC).isoformat()
    out = RESULTS / "latest.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print_table(results)
    print(f"\nwritten: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
