"""Shared pieces of the benchmark and fault scripts: a fresh database, a gunicorn server on
127.0.0.1 (on a free port), a tiny keep-alive-free HTTP client, the walk an app credit reports,
and percentile maths. Standard library only."""
from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PGHOST = os.environ.get("PGHOST", "127.0.0.1")
PGUSER = os.environ.get("PGUSER", "postgres")


def psql(sql: str, db: str = "postgres") -> str:
    out = subprocess.run(["psql", "-h", PGHOST, "-U", PGUSER, "-d", db, "-qAtX", "-v", "ON_ERROR_STOP=1",
                          "-c", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def free_port() -> int:
    """A port nothing listens on now (the kernel's pick), so the bench can run beside another
    server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_database(name: str) -> str:
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name}")
    return f"postgresql://{PGUSER}@{PGHOST}/{name}"


def mark_verified(db: str, email_domain: str) -> None:
    """Stand in for the verification mail the bench cannot read: the accounts it registered
    over HTTP become verified, as a citizen entering the code would make them."""
    psql(f"UPDATE users SET verified_at = now() WHERE email LIKE '%@{email_domain}'", db)


def service_env(database_url: str, redis_url: str, **extra) -> dict:
    env = dict(os.environ)
    env.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "CARBON_ENV": "production",
                "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
                "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
                "LOGIN_RATE_LIMIT": "100000 per minute", "THROTTLE_ADDRESS_LIMIT": "100000 per minute",
                "THROTTLE_MESSAGE_LIMIT": "100000 per hour", "PYTHONUNBUFFERED": "1"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def flask(env: dict, *args: str) -> str:
    out = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                         check=True, capture_output=True, text=True)
    return out.stdout


class Server:
    """gunicorn serving the app on 127.0.0.1:`port` until `stop()`."""

    def __init__(self, env: dict, port: int, workers: int, log_path: Path):
        self.port = port
        self.log = open(log_path, "w")
        env = {**env, "WEB_CONCURRENCY": str(workers)}
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
             "--access-logfile", "/dev/null", "wsgi:app"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                status, _ = request("GET", "/healthz", port=port, timeout=1)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"gunicorn did not start; see {log_path}")

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def peak_rss_mib(self) -> dict:
        peaks = {}
        for pid in [self.proc.pid, *self.worker_pids()]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks[pid] = round(int(line.split()[1]) / 1024, 1)
            except OSError:
                pass
        return peaks

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


def request(method: str, path: str, *, port: int, body=None, headers: dict | None = None,
            raw: bytes | None = None, timeout: float = 30):
    """One HTTP request on a new connection; returns (status, parsed JSON or bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        hdrs = dict(headers or {})
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        response = conn.getresponse()
        payload = response.read()
        ctype = response.getheader("Content-Type", "")
        if "json" in ctype and payload:
            return response.status, json.loads(payload)
        return response.status, payload
    finally:
        conn.close()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[k]


def sign(secret: str, body: bytes) -> dict:
    import hashlib
    import hmac
    ts = str(int(time.time()))
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Timestamp": ts, "X-Signature": f"sha256={mac}"}


def walk(start: dt.datetime) -> dict:
    """A citizen's self-reported 0.5 km walk of 6 minutes from `start` (an app credit)."""
    end = (start + dt.timedelta(minutes=6)).isoformat()
    return {"action_type": "transit", "mode": "walk", "occurred_at": end,
            "started_at": start.isoformat(), "ended_at": end, "distance_km": 0.5}


def parse_kv(output: str) -> dict:
    return dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)
