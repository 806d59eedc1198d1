"""The HTTP workloads of `make bench` (figures c to f) and the ledger growth between the two
read measurements. Standard library only: requests go through common.request."""
from __future__ import annotations

import datetime as dt
import json
import sys
import threading
import time
import uuid

from common import ROOT, mark_verified, percentile, psql, request, sign, walk

UTC = dt.timezone.utc
PASSWORD = "bench password 123"


def run_threads(count: int, target) -> None:
    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def make_citizens(port: int, count: int, operator: dict, clients: int, db: str) -> list[dict]:
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
    mark_verified(db, "bench.test")
    run_threads(clients, work)
    return citizens


def first_credit(port: int, citizen: dict) -> None:
    """One credit before the ledger is grown: it creates the system accounts (issuance) that
    the bulk rows debit. Five days back, away from the days (c) and (b) use."""
    start = dt.datetime.now(UTC).replace(second=0, microsecond=0) - dt.timedelta(days=5)
    status, body = request("POST", "/api/v1/actions", port=port, body=walk(start),
                           headers={**citizen["headers"], "Idempotency-Key": uuid.uuid4().hex})
    assert status == 201 and body.get("status") == "credited", (status, body)


def drive_liveness(port: int, clients: int, seconds: int) -> dict:
    """(c0) The floor under (c): `GET /healthz` (no database, no token, one small JSON body)
    through the same gunicorn, edge hooks and load client, so c0/b bounds what c/b can reach
    on this machine whatever the credit's own code costs."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def work(_):
        local = []
        while time.monotonic() < deadline:
            began = time.perf_counter()
            status, _ = request("GET", "/healthz", port=port)
            assert status == 200, status
            local.append(time.perf_counter() - began)
        with lock:
            latencies.extend(local)

    began = time.monotonic()
    run_threads(clients, work)
    elapsed = time.monotonic() - began
    return {"requests": len(latencies), "seconds": round(elapsed, 2),
            "requests_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1)}


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


def year_of_months(db: str) -> None:
    """The past year's monthly partitions of ledger_transfers (a fresh database has months
    from the current one on), so the grown ledger spreads over 13 partitions as a year of a
    city's data would."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from models.partitions import add_months, create_partition_sql, month_start
    this_month = month_start(dt.datetime.now(dt.timezone.utc))
    for back in range(1, 13):
        psql(create_partition_sql("ledger_transfers", add_months(this_month, -back)), db)


def grow_ledger(db: str, citizen_email: str, target: int) -> int:
    """Bulk-load synthetic earn transfers (set-based SQL) until the ledger holds `target`
    entries recorded over the past year, 5% of them on the measured citizen's own account, the
    rest spread over 1000 bulk accounts. Called twice (the small ledger, then the large one)."""
    missing = target - ledger_size(db)
    if missing <= 0:
        return ledger_size(db)
    year_of_months(db)
    own = missing // 20
    psql("""INSERT INTO users (id, email, display_name, password_hash, created_at)
            SELECT gen_random_uuid(), 'bulk' || g || '@bench.test', 'bulk', 'x', now()
            FROM generate_series(1, 1000) g
            WHERE NOT EXISTS (SELECT 1 FROM users WHERE email LIKE 'bulk%@bench.test')""", db)
    psql("""INSERT INTO ledger_accounts (kind, user_id, balance, reserved, created_at)
            SELECT 'citizen', u.id, 0, 0, now() FROM users u
            WHERE u.email LIKE 'bulk%@bench.test'
              AND NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.user_id = u.id)""", db)
    issuance = psql("SELECT id FROM ledger_accounts WHERE system_code = 'issuance'", db)
    insert = """WITH accounts AS ({accounts}),
                     numbered AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM accounts)
                INSERT INTO ledger_transfers (id, posting_id, kind, reason, debit_account_id,
                    credit_account_id, amount, citizen_account_id, balance_after, external_ref,
                    event_time, recorded_at)
                SELECT gen_random_uuid(), gen_random_uuid(), 'earn', 'bench_bulk', {issuance},
                    a.id, 1, a.id, g, 'bulk:{target}:' || a.id || ':' || g,
                    now() - (g % 365) * interval '1 day', now() - (g % 365) * interval '1 day'
                FROM generate_series(1, {rows}) g
                JOIN numbered a ON a.n = g % (SELECT count(*) FROM accounts)"""
    bulk = ("SELECT a.id FROM ledger_accounts a JOIN users u ON u.id = a.user_id "
            "WHERE u.email LIKE 'bulk%@bench.test'")
    mine = ("SELECT a.id FROM ledger_accounts a JOIN users u ON u.id = a.user_id "
            f"WHERE u.email = '{citizen_email}'")
    psql(insert.format(accounts=bulk, issuance=issuance, target=target, rows=missing - own), db)
    psql(insert.format(accounts=mine, issuance=issuance, target=target, rows=own), db)
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
