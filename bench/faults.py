"""`make faults`: credits and redemptions under load while gunicorn workers are killed with
SIGKILL, Redis is stopped and restarted, and PostgreSQL is restarted; then the books are checked.

It runs against its OWN PostgreSQL cluster (port 5440) and Redis (port 6390), created here and
removed at the end, so the shared servers on 5432/6379 are never disturbed.

Client side, every logical request has an Idempotency-Key and a history entry. A request that
times out, loses its connection or gets 503 is retried with the same key (that is the client
contract). Checks afterwards:
  * every acknowledged credit is in the ledger exactly once; no claim executed twice;
  * a request that timed out and was retried with its key landed exactly once;
  * no balance is negative; no reward stock is oversold;
  * `flask ledger verify` is clean;
  * no 500s at all; 503 (with Retry-After) only inside a fault window.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import threading
import time
import uuid
from pathlib import Path

import common
from common import ROOT, Server, flask, parse_kv, percentile, request, service_env

UTC = dt.timezone.utc
PG_PORT, REDIS_PORT, PG_VERSION, CLUSTER = 5440, 6390, "15", "ccfaults"
PASSWORD = "faults password 123"


def sh(*cmd, check=True, stdin: str | None = None):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, input=stdin)


class Services:
    """A throwaway PostgreSQL cluster and Redis server for this run only."""

    def start(self):
        sh("pg_dropcluster", "--stop", PG_VERSION, CLUSTER, check=False)
        sh("pg_createcluster", "-p", str(PG_PORT), PG_VERSION, CLUSTER, "--", "--auth=trust")
        self.pg("start")
        sh("redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(REDIS_PORT),
           "--save", "", "--appendonly", "no", "--logfile", "/tmp/cc-faults-redis.log")
        time.sleep(1)

    def pg(self, what: str):
        sh("pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, CLUSTER, what)

    def redis_stop(self):
        sh("redis-cli", "-p", str(REDIS_PORT), "shutdown", "nosave", check=False)

    def redis_start(self):
        sh("redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(REDIS_PORT),
           "--save", "", "--appendonly", "no", "--logfile", "/tmp/cc-faults-redis.log")

    def stop(self):
        self.redis_stop()
        sh("pg_dropcluster", "--stop", PG_VERSION, CLUSTER, check=False)


class History:
    def __init__(self):
        self.entries: list[dict] = []
        self.windows: list[list[float]] = []  # [start, end] monotonic
        self.lock = threading.Lock()

    def fault(self, name: str, action, settle: float):
        start = time.monotonic()
        action()
        time.sleep(settle)
        with self.lock:
            self.windows.append([start, time.monotonic() + 3.0, name])  # 3 s grace for reconnects

    def overlaps_window(self, began: float, ended: float) -> bool:
        """A request in flight at any moment of a fault window may fail with 503."""
        return any(began <= e and ended >= s for s, e, _ in self.windows)


def call_with_retries(port, method, path, body, headers, history: History, kind: str, meta: dict):
    """One logical request: retried with the same key on timeout, connection loss or 503."""
    key = uuid.uuid4().hex
    headers = {**headers, "Idempotency-Key": key}
    attempts = []
    for attempt in range(12):
        began = time.monotonic()
        try:
            status, payload = request(method, path, port=port, body=body, headers=headers, timeout=5)
            outcome = status
        except TimeoutError:
            status, payload, outcome = None, None, "timeout"
        except OSError as error:
            status, payload, outcome = None, None, f"conn:{type(error).__name__}"
        attempts.append({"at": began, "ended": time.monotonic(), "outcome": outcome})
        if status is not None and status != 503 and status < 500:
            break
        time.sleep(min(2.0, 0.2 * (attempt + 1)))
    entry = {"key": key, "kind": kind, "attempts": attempts, "final": status,
             "body": payload if isinstance(payload, dict) else None, **meta}
    with history.lock:
        history.entries.append(entry)
    return entry


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--citizens", type=int, default=60)
    parser.add_argument("--port", type=int, default=5078)
    args = parser.parse_args()

    services = Services()
    services.start()
    server = None
    try:
        common.PGHOST = "127.0.0.1"
        os.environ["PGPORT"] = str(PG_PORT)
        sh("psql", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", "-c", "CREATE DATABASE cc_faults")
        database_url = f"postgresql://postgres@127.0.0.1:{PG_PORT}/cc_faults"
        env = service_env(database_url, f"redis://127.0.0.1:{REDIS_PORT}/0", HOLD_TTL_MINUTES=60)
        flask(env, "db", "upgrade")
        flask(env, "seed")
        merchant = parse_kv(flask(env, "create-partner", "--name", "Faults Cafe", "--kind", "merchant"))
        flask(env, "create-user", "--email", "staff@faults.test", "--password", PASSWORD, "--role",
              "merchant", "--partner", merchant["partner_id"])
        server = Server(env, args.port, 4, ROOT / "bench" / "results" / "faults-gunicorn.log")
        port = args.port

        citizens = []
        for i in range(args.citizens):
            request("POST", "/api/v1/auth/register", port=port,
                    body={"email": f"c{i}@faults.test", "password": PASSWORD, "display_name": f"C{i}"})
        common.mark_verified("cc_faults", "faults.test")
        for i in range(args.citizens):
            email = f"c{i}@faults.test"
            _, tokens = request("POST", "/api/v1/auth/login", port=port,
                                body={"identifier": email, "password": PASSWORD})
            citizens.append({"headers": {"Authorization": f"Bearer {tokens['access_token']}"}, "i": i})
        _, tokens = request("POST", "/api/v1/auth/login", port=port,
                            body={"identifier": "staff@faults.test", "password": PASSWORD})
        staff = {"Authorization": f"Bearer {tokens['access_token']}"}
        stock = 20
        _, reward = request("POST", "/api/v1/merchant/rewards", port=port, headers=staff, body={
            "title": "Fault-proof coffee", "description": "One coffee", "points_cost": 50,
            "stock": stock, "per_citizen_limit": 1,
            "valid_from": (dt.datetime.now(UTC) - dt.timedelta(hours=1)).isoformat(),
            "valid_until": (dt.datetime.now(UTC) + dt.timedelta(days=30)).isoformat()})

        history = History()
        deadline = time.monotonic() + args.seconds
        now = dt.datetime.now(UTC).replace(microsecond=0)

        def client(t):
            mine = citizens[t::args.clients]
            slot = 0
            rng = random.Random(t)
            while time.monotonic() < deadline:
                citizen = mine[slot % len(mine)]
                start = now - dt.timedelta(hours=1) - dt.timedelta(minutes=75 * (slot // len(mine)))
                if slot > 3 * len(mine) and rng.random() < 0.08:
                    call_with_retries(port, "POST", "/api/v1/redemptions", {"reward_id": reward["id"]},
                                      citizen["headers"], history, "redeem", {"citizen": citizen["i"]})
                else:
                    body = {"action_type": "transit", "mode": "walk",  # occurred_at: its end
                            "started_at": start.isoformat(),
                            "ended_at": (start + dt.timedelta(minutes=6)).isoformat(), "distance_km": 0.5}
                    call_with_retries(port, "POST", "/api/v1/actions", body, citizen["headers"], history,
                                      "credit", {"citizen": citizen["i"], "started_at": start.isoformat()})
                slot += 1

        def kill_worker():
            pids = server.worker_pids()
            if pids:
                os.kill(random.choice(pids), 9)

        def faults():
            step = args.seconds / 7
            time.sleep(step)
            history.fault("kill -9 worker", kill_worker, 1.0)
            time.sleep(step)
            history.fault("kill -9 worker", kill_worker, 1.0)
            time.sleep(step)
            history.fault("redis down", services.redis_stop, step)
            history.fault("redis up", services.redis_start, 1.0)
            time.sleep(step)
            history.fault("postgres restart", lambda: services.pg("restart"), 2.0)
            time.sleep(step / 2)
            history.fault("kill -9 worker", kill_worker, 1.0)

        threads = [threading.Thread(target=client, args=(t,)) for t in range(args.clients)]
        fault_thread = threading.Thread(target=faults)
        for t in threads + [fault_thread]:
            t.start()
        for t in threads + [fault_thread]:
            t.join()

        report = check(history, env, database_url, reward, stock)
        out = ROOT / "bench" / "results" / "faults.json"
        out.write_text(json.dumps(report, indent=2, default=str))
        print(json.dumps({k: v for k, v in report.items() if k != "problems"}, indent=2, default=str))
        print("problems:", report["problems"] or "none")
        raise SystemExit(1 if report["problems"] else 0)
    finally:
        if server:
            server.stop()
        services.stop()


def check(history: History, env: dict, database_url: str, reward: dict, stock: int) -> dict:
    def q(sql):
        # On stdin: the acknowledged-credit check is one statement with thousands of ids.
        return sh("psql", database_url.replace("+psycopg", ""), "-qAtX", "-v", "ON_ERROR_STOP=1",
                  "-f", "-", stdin=sql).stdout.strip()

    problems = []
    outcomes: dict[str, int] = {}
    retried = retried_landed = 0
    for e in history.entries:
        for a in e["attempts"]:
            outcomes[str(a["outcome"])] = outcomes.get(str(a["outcome"]), 0) + 1
            if a["outcome"] == 500 or (isinstance(a["outcome"], int) and a["outcome"] > 503):
                problems.append(f"{a['outcome']} for {e['kind']} key {e['key']}")
            if a["outcome"] == 503 and not history.overlaps_window(a["at"], a["ended"]):
                problems.append(f"503 outside a fault window for key {e['key']}")
        if len(e["attempts"]) > 1:
            retried += 1
    acknowledged = [e for e in history.entries if e["kind"] == "credit" and e["final"] == 201]
    retried_landed = sum(1 for e in acknowledged if len(e["attempts"]) > 1)
    if acknowledged:
        # Every acknowledged credit: exactly one action row, and one earn when it had points.
        expected = ",".join(f"('{uuid.UUID(e['body']['id'])}'::uuid, {1 if e['body']['points'] > 0 else 0})"
                            for e in acknowledged)
        mismatches = q(f"""WITH ack(id, earns) AS (VALUES {expected})
            SELECT ack.id, (SELECT count(*) FROM actions a WHERE a.id = ack.id) AS found,
                   (SELECT count(*) FROM ledger_transfers t
                     WHERE t.external_ref = 'action:' || ack.id::text) AS posted, ack.earns
            FROM ack""")
        lines = mismatches.splitlines()
        if len(lines) != len(acknowledged):
            problems.append(f"checked {len(lines)} of {len(acknowledged)} acknowledged credits")
        for line in lines:
            action_id, found, posted, want = line.split("|")
            if int(found) != 1 or int(posted) != int(want):
                problems.append(f"acknowledged credit {action_id}: {found} actions, {posted} earns")
    doubled = q("""SELECT count(*) FROM (SELECT user_id, started_at FROM actions
                   GROUP BY user_id, started_at HAVING count(*) > 1) d""")
    if int(doubled):
        problems.append(f"{doubled} claims executed more than once")
    never_acknowledged = [e for e in history.entries if e["kind"] == "credit" and e["final"] != 201]
    negative = int(q("SELECT count(*) FROM ledger_accounts WHERE balance < 0 OR reserved < 0"))
    if negative:
        problems.append(f"{negative} negative balances")
    stock_left = int(q(f"SELECT stock FROM rewards WHERE id = '{reward['id']}'"))
    taken = int(q(f"SELECT count(*) FROM redemptions WHERE reward_id = '{reward['id']}' "
                  "AND status IN ('reserved', 'redeemed')"))
    if stock_left < 0 or taken + stock_left != stock:
        problems.append(f"stock: {stock_left} left, {taken} taken of {stock}")
    verify = subprocess.run([str(common.BIN / "flask"), "--app", "wsgi", "ledger", "verify"], cwd=ROOT,
                            env=env, capture_output=True, text=True)
    if verify.returncode != 0:
        problems.append("ledger verify: " + verify.stdout[-2000:] + verify.stderr[-2000:])
    return {"requests": len(history.entries), "attempt_outcomes": outcomes,
            "fault_windows": [[round(s, 1), round(e, 1), n] for s, e, n in history.windows],
            "acknowledged_credits": len(acknowledged), "retried_requests": retried,
            "retried_and_acknowledged_exactly_once": retried_landed,
            "credits_never_acknowledged": len(never_acknowledged),
            "redemptions_taken": taken, "stock_left": stock_left,
            "ledger_verify": verify.stdout.strip().splitlines()[-1:] if verify.stdout else [],
            "problems": problems}


if __name__ == "__main__":
    main()
