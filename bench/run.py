"""`make bench`: figures measured in one run on this machine, against PostgreSQL + Redis under
gunicorn. Prints a table and writes bench/results/latest.json. Not part of `make test`.

  1. the PostgreSQL ceiling: pgbench tpcb-like (a transfer-shaped transaction), same client
     count and duration as the HTTP credit run;
  2. single-action credits over HTTP (JWT, validation, quantification, ledger, commit):
     credits/s, p50/p99 latency, ratio to pgbench;
  3. signed 1000-record partner batches: records/s and ratio to the single-action rate;
  4. balance and statement reads on a small ledger and after growing it to ~1M entries: ratio;
  5. a hot-reward redemption storm: throughput and outcome counts;
  6. peak RSS of the gunicorn workers.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import re
import subprocess
import threading
import time
import uuid
from pathlib import Path

from common import (ROOT, Server, flask, fresh_database, mark_verified, parse_kv, percentile, psql,
                    request, service_env, sign)

UTC = dt.timezone.utc
PASSWORD = "bench password 123"


def pgbench(clients: int, seconds: int) -> float:
    fresh_database("cc_pgbench")
    subprocess.run(["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-i", "-q", "-s", "10",
                    "cc_pgbench"], check=True, capture_output=True)
    out = subprocess.run(["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-n", "-b", "tpcb-like",
                          "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds),
                          "cc_pgbench"], check=True, capture_output=True, text=True).stdout
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    psql("DROP DATABASE IF EXISTS cc_pgbench WITH (FORCE)")
    return float(match.group(1))


def run_threads(count: int, target) -> None:
    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def make_citizens(port: int, count: int, operator: dict, clients: int) -> list[dict]:
    """Citizens whose cards the operator has confirmed (request, then signed confirmation)."""
    citizens: list[dict] = [None] * count

    def register(t):
        for i in range(t, count, clients):
            request("POST", "/api/v1/auth/register", port=port,
                    body={"email": f"citizen{i}@bench.test", "password": PASSWORD,
                          "display_name": f"Rider {i}"})

    def work(t):
        for i in range(t, count, clients):
            email = f"citizen{i}@bench.test"
            _, tokens = request("POST", "/api/v1/auth/login", port=port,
                                body={"identifier": email, "password": PASSWORD})
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            status, pending = request("POST", "/api/v1/me/bindings", port=port, headers=headers,
                                      body={"partner_id": operator["partner_id"],
                                            "external_ref": f"CARD-{i:05d}"})
            assert status == 201, status
            raw = json.dumps({"external_ref": f"CARD-{i:05d}",
                              "confirmation_code": pending["confirmation_code"]}).encode()
            status, _ = request("POST", "/api/v1/partner/bindings/confirm", port=port, raw=raw,
                                headers={"X-Partner-Key": operator["key_id"],
                                         **sign(operator["secret"], raw)})
            assert status == 200, status
            citizens[i] = {"headers": headers, "card": f"CARD-{i:05d}"}

    run_threads(clients, register)
    mark_verified("cc_bench", "bench.test")
    run_threads(clients, work)
    return citizens


def walk(start: dt.datetime) -> dict:
    end = (start + dt.timedelta(minutes=6)).isoformat()
    return {"action_type": "transit", "mode": "walk", "occurred_at": end,
            "started_at": start.isoformat(), "ended_at": end,
            "distance_km": 0.5}


def drive_credits(port: int, citizens: list[dict], clients: int, seconds: int) -> dict:
    """Each client walks its own citizens; walks 75 minutes apart stay under the daily cap."""
    now = dt.datetime.now(UTC).replace(microsecond=0)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    credited_points = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def work(t):
        mine = citizens[t::clients]
        slot = 0
        local, local_status, points = [], {}, 0
        while time.monotonic() < deadline:
            citizen = mine[slot % len(mine)]
            start = now - dt.timedelta(hours=1) - dt.timedelta(minutes=75 * (slot // len(mine)))
            began = time.perf_counter()
            status, body = request("POST", "/api/v1/actions", port=port, body=walk(start),
                                   headers={**citizen["headers"], "Idempotency-Key": uuid.uuid4().hex})
            local.append(time.perf_counter() - began)
            local_status[status] = local_status.get(status, 0) + 1
            if status == 201 and body.get("status") == "credited":
                points += body["points"]
            slot += 1
        with lock:
            latencies.extend(local)
            for k, v in local_status.items():
                statuses[k] = statuses.get(k, 0) + v
            credited_points[0] += points

    began = time.monotonic()
    run_threads(clients, work)
    elapsed = time.monotonic() - began
    ok = statuses.get(201, 0)
    return {"requests": len(latencies), "credited": ok, "statuses": statuses,
            "points": credited_points[0], "seconds": round(elapsed, 2),
            "credits_per_s": round(ok / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1)}


def drive_batches(port: int, partner: dict, citizens: list[dict], batches: int) -> dict:
    """1000 metro trips per signed batch, 4.8 h apart per citizen (5 a day: under the cap)."""
    now = dt.datetime.now(UTC).replace(microsecond=0)
    per_citizen = (batches * 1000) // len(citizens) + 1
    records = []
    for slot in range(per_citizen):
        for i, citizen in enumerate(citizens):
            start = now - dt.timedelta(hours=2) - dt.timedelta(minutes=288 * slot)
            records.append({"external_id": f"M-{i}-{slot}", "external_ref": citizen["card"],
                            "action_type": "transit", "mode": "metro",
                            "occurred_at": (start + dt.timedelta(minutes=20)).isoformat(),
                            "started_at": start.isoformat(),
                            "ended_at": (start + dt.timedelta(minutes=20)).isoformat(),
                            "distance_km": 10})
    summary: dict[str, int] = {}
    times = []
    for b in range(batches):
        body = json.dumps({"records": records[b * 1000:(b + 1) * 1000]}).encode()
        headers = {"X-Partner-Key": partner["key_id"], **sign(partner["secret"], body)}
        began = time.perf_counter()
        status, result = request("POST", "/api/v1/partner/actions", port=port, raw=body,
                                 headers=headers, timeout=120)
        times.append(time.perf_counter() - began)
        assert status == 200, (status, result)
        for k, v in result["summary"].items():
            summary[k] = summary.get(k, 0) + v
    total = sum(times)
    return {"batches": batches, "records": batches * 1000, "outcomes": summary,
            "seconds": round(total, 2), "records_per_s": round(batches * 1000 / total, 1),
            "batch_p50_ms": round(percentile(times, 50) * 1000, 1)}


def measure_reads(port: int, citizen: dict, count: int = 200) -> dict:
    result = {}
    for name, path in (("balance", "/api/v1/me/balance"), ("statement", "/api/v1/me/ledger?limit=50")):
        latencies = []
        for _ in range(count):
            began = time.perf_counter()
            status, _ = request("GET", path, port=port, headers=citizen["headers"])
            latencies.append(time.perf_counter() - began)
            assert status == 200, status
        result[name] = {"p50_ms": round(percentile(latencies, 50) * 1000, 2),
                        "p99_ms": round(percentile(latencies, 99) * 1000, 2)}
    return result


def ledger_size(db: str) -> int:
    return int(psql("SELECT count(*) FROM ledger_transfers", db))


def grow_ledger(db: str, citizen_email: str, target: int) -> int:
    """Bulk-load synthetic earn transfers (set-based SQL) until the ledger holds ~`target`
    entries, 5% of them on the measured citizen's own account."""
    missing = target - ledger_size(db)
    if missing <= 0:
        return ledger_size(db)
    own = missing // 20
    others = missing - own
    psql("""INSERT INTO users (id, email, display_name, password_hash, created_at)
            SELECT gen_random_uuid(), 'bulk' || g || '@bench.test', 'bulk', 'x', now()
            FROM generate_series(1, 1000) g""", db)
    psql("""INSERT INTO ledger_accounts (kind, user_id, balance, reserved, created_at)
            SELECT 'citizen', id, 0, 0, now() FROM users WHERE email LIKE 'bulk%@bench.test'""", db)
    issuance = psql("SELECT id FROM ledger_accounts WHERE system_code = 'issuance'", db)
    mine = psql(f"""SELECT a.id FROM ledger_accounts a JOIN users u ON u.id = a.user_id
                    WHERE u.email = '{citizen_email}'""", db)
    insert = """INSERT INTO ledger_transfers (id, posting_id, kind, reason, debit_account_id,
                    credit_account_id, amount, citizen_account_id, balance_after, external_ref,
                    event_time, recorded_at)
                SELECT gen_random_uuid(), gen_random_uuid(), 'earn', 'bench_bulk', {issuance},
                    a.id, 1, a.id, g, 'bulk:' || a.id || ':' || g, now() - interval '30 days',
                    now() - interval '30 days'
                FROM {accounts} a, generate_series(1, {per}) g"""
    psql(insert.format(issuance=issuance, per=others // 1000,
                       accounts="(SELECT a.id FROM ledger_accounts a JOIN users u ON u.id = a.user_id "
                                "WHERE u.email LIKE 'bulk%@bench.test')"), db)
    psql(insert.format(issuance=issuance, per=own, accounts=f"(SELECT {mine} AS id)"), db)
    psql("ANALYZE", db)
    return ledger_size(db)


def redemption_storm(port: int, citizens: list[dict], staff: dict, clients: int, stock: int) -> dict:
    _, reward = request("POST", "/api/v1/merchant/rewards", port=port, headers=staff["headers"],
                        body={"title": "Launch-day coffee", "description": "One coffee",
                              "points_cost": 100, "stock": stock,
                              "valid_from": (dt.datetime.now(UTC) - dt.timedelta(hours=1)).isoformat(),
                              "valid_until": (dt.datetime.now(UTC) + dt.timedelta(days=30)).isoformat(),
                              "per_citizen_limit": 1})
    outcomes: dict[int, int] = {}
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def work(t):
        barrier.wait()
        for citizen in citizens[t::clients]:
            began = time.perf_counter()
            status, _ = request("POST", "/api/v1/redemptions", port=port, body={"reward_id": reward["id"]},
                                headers={**citizen["headers"], "Idempotency-Key": uuid.uuid4().hex})
            with lock:
                latencies.append(time.perf_counter() - began)
                outcomes[status] = outcomes.get(status, 0) + 1

    began = time.monotonic()
    run_threads(clients, work)
    elapsed = time.monotonic() - began
    _, after = request("GET", f"/api/v1/rewards/{reward['id']}", port=port)
    return {"citizens": len(citizens), "stock": stock, "outcomes": outcomes,
            "stock_left": after.get("stock") if isinstance(after, dict) else None,
            "seconds": round(elapsed, 2), "requests_per_s": round(len(citizens) / elapsed, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--ledger", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=5077)
    args = parser.parse_args()

    database_url = fresh_database("cc_bench")
    redis_url = "redis://127.0.0.1:6379/9"
    subprocess.run(["redis-cli", "-n", "9", "FLUSHDB"], check=True, capture_output=True)
    env = service_env(database_url, redis_url)
    flask(env, "db", "upgrade")
    flask(env, "seed")
    operator = parse_kv(flask(env, "create-partner", "--name", "Bench Metro", "--kind", "transit_operator"))
    merchant = parse_kv(flask(env, "create-partner", "--name", "Bench Cafe", "--kind", "merchant"))
    flask(env, "create-user", "--email", "staff@bench.test", "--password", PASSWORD, "--role",
          "merchant", "--partner", merchant["partner_id"])

    results = {"machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version(),
                           "platform": platform.platform(),
                           "postgres": psql("SHOW server_version")},
               "parameters": vars(args), "started_at": dt.datetime.now(UTC).isoformat()}
    print(f"pgbench tpcb-like, {args.clients} clients, {args.seconds} s ...", flush=True)
    results["pgbench_tps"] = pgbench(args.clients, args.seconds)

    server = Server(env, args.port, args.workers, ROOT / "bench" / "results" / "gunicorn.log")
    try:
        print(f"registering {args.citizens} citizens ...", flush=True)
        citizens = make_citizens(args.port, args.citizens, operator, args.clients)
        _, tokens = request("POST", "/api/v1/auth/login", port=args.port,
                            body={"identifier": "staff@bench.test", "password": PASSWORD})
        staff = {"headers": {"Authorization": f"Bearer {tokens['access_token']}"}}

        print(f"single-action credits, {args.clients} clients, {args.seconds} s ...", flush=True)
        results["credits"] = drive_credits(args.port, citizens, args.clients, args.seconds)
        print(f"{args.batches} partner batches of 1000 ...", flush=True)
        results["batches"] = drive_batches(args.port, operator, citizens, args.batches)

        small = ledger_size("cc_bench")
        results["reads_small"] = {"ledger_entries": small, **measure_reads(args.port, citizens[0])}
        print(f"growing the ledger from {small} to ~{args.ledger} entries ...", flush=True)
        large = grow_ledger("cc_bench", "citizen0@bench.test", args.ledger)
        results["reads_large"] = {"ledger_entries": large, **measure_reads(args.port, citizens[0])}

        print("redemption storm ...", flush=True)
        results["storm"] = redemption_storm(args.port, citizens, staff, args.clients, stock=50)
        results["peak_rss_mib"] = server.peak_rss_mib()
    finally:
        server.stop()

    credits = results["credits"]["credits_per_s"]
    results["ratios"] = {
        "credits_to_pgbench": round(credits / results["pgbench_tps"], 3),
        "batch_records_to_single_credits": round(results["batches"]["records_per_s"] / credits, 1),
        "balance_read_large_to_small": round(results["reads_large"]["balance"]["p50_ms"]
                                             / results["reads_small"]["balance"]["p50_ms"], 2),
        "statement_read_large_to_small": round(results["reads_large"]["statement"]["p50_ms"]
                                               / results["reads_small"]["statement"]["p50_ms"], 2),
    }
    out = ROOT / "bench" / "results" / "latest.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print_table(results)
    print(f"\nwritten: {out.relative_to(ROOT)}")


def print_table(r: dict) -> None:
    c, b, s = r["credits"], r["batches"], r["storm"]
    rows = [
        ("pgbench tpcb-like ceiling", f"{r['pgbench_tps']:.0f} tps", ""),
        ("single-action credits", f"{c['credits_per_s']} credits/s",
         f"p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms, statuses {c['statuses']}"),
        ("  ratio to pgbench", f"{r['ratios']['credits_to_pgbench']}", "target >= 0.5"),
        ("partner batches (1000 records)", f"{b['records_per_s']} records/s",
         f"batch p50 {b['batch_p50_ms']} ms, outcomes {b['outcomes']}"),
        ("  ratio to single-action rate", f"{r['ratios']['batch_records_to_single_credits']}x", "target >= 10"),
        (f"balance read @ {r['reads_small']['ledger_entries']} entries", f"p50 {r['reads_small']['balance']['p50_ms']} ms", ""),
        (f"balance read @ {r['reads_large']['ledger_entries']} entries", f"p50 {r['reads_large']['balance']['p50_ms']} ms",
         f"ratio {r['ratios']['balance_read_large_to_small']} (target <= 1.2)"),
        (f"statement page @ {r['reads_small']['ledger_entries']} entries", f"p50 {r['reads_small']['statement']['p50_ms']} ms", ""),
        (f"statement page @ {r['reads_large']['ledger_entries']} entries", f"p50 {r['reads_large']['statement']['p50_ms']} ms",
         f"ratio {r['ratios']['statement_read_large_to_small']} (target <= 1.2)"),
        (f"redemption storm ({s['citizens']} citizens, stock {s['stock']})", f"{s['requests_per_s']} req/s",
         f"outcomes {s['outcomes']}, stock left {s['stock_left']}, p99 {s['p99_ms']} ms"),
        ("peak RSS per process (MiB)", str(sorted(r["peak_rss_mib"].values())), ""),
    ]
    width = max(len(name) for name, _, _ in rows)
    print()
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:<22}  {note}")


if __name__ == "__main__":
    main()
