"""A real PostgreSQL primary and streaming standby for the read-replica tests.

`StandbyPair` starts a throw-away primary (initdb) and a standby made from it with
`pg_basebackup -R` (streaming replication), each on a free port under one temporary directory,
and stops both and removes the directory in `close()`, whatever happened. As root the servers
run as the `postgres` OS user (PostgreSQL refuses to run as root).

`python -m tests.integration.replica_support '<json>'` is the scenario the tests assert on: an
app of its own (a second app in the test process would rebind the shared extensions) on that
primary with the standby as `DATABASE_REPLICA_URL`, printing what it observed as one JSON line.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATABASE = "cc_replica"
WAIT_SECONDS = 30


def postgres_bindir() -> Path | None:
    """The newest installed PostgreSQL server binaries, or None."""
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
                         reverse=True)
    for candidate in candidates:
        path = Path(candidate)
        if all((path / tool).is_file() for tool in ("initdb", "pg_ctl", "pg_basebackup", "postgres")):
            return path
    return None


def why_not_runnable() -> str | None:
    """The reason the pair cannot be started here, or None."""
    if postgres_bindir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) are not installed"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root without runuser to start PostgreSQL as another user"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` OS user to run PostgreSQL as"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StandbyPair:
    """A primary and its streaming standby on 127.0.0.1; `close()` always cleans up."""

    def __init__(self):
        self.bindir = postgres_bindir()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.root = Path(tempfile.mkdtemp(prefix="cc-replica-"))
        self.started: list[Path] = []
        self.primary_port = self.standby_port = _free_port()
        while self.standby_port == self.primary_port:
            self.standby_port = _free_port()

    def url(self, port: int) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}"

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self.as_postgres, str(self.bindir / tool), *args], check=False,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{tool} failed:\n{done.stdout}{done.stderr}\n{self.logs()}"

    def _start(self, name: str, port: int) -> None:
        data = self.root / name
        options = (f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
                   " -c fsync=off -c full_page_writes=off -c max_connections=40")
        self.started.append(data)
        self._run("pg_ctl", "-D", str(data), "-l", str(self.root / f"{name}.log"), "-w", "-t", "60",
                  "-o", options, "start")

    def start(self) -> "StandbyPair":
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.root / "primary"), "-U", "postgres", "-A", "trust", "-N")
        self._start("primary", self.primary_port)
        import psycopg
        with psycopg.connect(f"host=127.0.0.1 port={self.primary_port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
                  "-D", str(self.root / "standby"), "-R", "-X", "stream", "-c", "fast")
        self._start("standby", self.standby_port)
        return self

    def stop_standby_command(self) -> list[str]:
        return [*self.as_postgres, str(self.bindir / "pg_ctl"), "-D", str(self.root / "standby"),
                "-m", "immediate", "-w", "stop"]

    def logs(self) -> str:
        parts = []
        for log in sorted(self.root.glob("*.log")):
            parts.append(f"--- {log.name}\n" + log.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    def close(self) -> None:
        for data in reversed(self.started):
            if (data / "postmaster.pid").exists():
                subprocess.run([*self.as_postgres, str(self.bindir / "pg_ctl"), "-D", str(data),
                                "-m", "immediate", "-w", "stop"], capture_output=True, check=False,
                               timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    def run_scenario(self) -> dict:
        """Run the scenario in a process of its own; its observations as a dict."""
        from carbon_credits.config import PROJECT_ROOT
        argument = json.dumps({"primary": self.url(self.primary_port),
                               "standby": self.url(self.standby_port),
                               "stop_standby": self.stop_standby_command()})
        done = subprocess.run([sys.executable, "-m", "tests.integration.replica_support", argument],
                              capture_output=True, text=True, timeout=240, check=False,
                              cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
        assert done.returncode == 0, f"{done.stderr[-6000:]}\n{self.logs()}"
        return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# The scenario (runs in the child process)


class Recorder:
    """Which engine, primary or replica, ran each SQL statement."""

    def __init__(self, engines: dict):
        from sqlalchemy import event
        self.calls: list[tuple[str, str]] = []
        for source, engine in engines.items():
            event.listen(engine, "before_cursor_execute", self._listener(source))

    def _listener(self, source: str):
        def record(_conn, _cursor, statement, *_args):
            self.calls.append((source, statement))
        return record

    @contextlib.contextmanager
    def block(self):
        start = len(self.calls)
        seen: list[tuple[str, str]] = []
        yield seen
        seen.extend(self.calls[start:])


def _sources(calls, fragment: str = "") -> list[str]:
    """The engines that ran a statement containing `fragment` (the replica's lag check aside)."""
    return sorted({source for source, sql in calls
                   if fragment in sql and "pg_is_in_recovery" not in sql})


def _scalar(app, bind: str | None, sql: str, **params):
    from sqlalchemy import text
    from models import db
    with app.app_context():
        engine = db.engines[bind] if bind else db.engine
        with engine.connect() as conn:
            value = conn.execute(text(sql), params).scalar()
            conn.commit()
    return value


def _wait_for(app, sql: str, **params) -> None:
    """Until the standby answers true to `sql`, with the primary's current WAL position as :lsn."""
    params["lsn"] = _scalar(app, None, "SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + WAIT_SECONDS
    while not _scalar(app, "replica", sql, **params):
        assert time.monotonic() < deadline, f"the standby never satisfied: {sql}"
        time.sleep(0.05)


def _caught_up(app) -> None:
    _wait_for(app, "SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)")


def _observe(client, recorder, citizen) -> dict:
    """The citizen's statement and balance over HTTP, and which engine served each."""
    with recorder.block() as statement_calls:
        statement = client.get("/api/v1/me/ledger", headers=citizen.headers)
    with recorder.block() as balance_calls:
        balance = client.get("/api/v1/me/balance", headers=citizen.headers)
    assert statement.status_code == 200 and balance.status_code == 200
    return {"statement": [item["amount"] for item in statement.get_json()["items"]],
            "statement_from": _sources(statement_calls, "ledger_transfers"),
            "balance": balance.get_json()["available"],
            "balance_from": _sources(balance_calls)}


def _read_only_services(app, recorder, citizen) -> dict:
    """Which engine served each routed read-only service, called as its endpoint or job does."""
    from carbon_credits.services import business_metrics, impact, leaderboards, ledger, reports
    from carbon_credits.services.uow import unit_of_work
    today = dt.date.today()
    calls = {
        "report": lambda: reports.get_reductions_report(date_from=today, date_to=today,
                                                        group_by="action_type"),
        "leaderboard_rebuild": lambda: leaderboards.rebuild(period="day", start=today),
        "leaderboard_from_sql": lambda: leaderboards.get_leaderboard(period="week"),
        "impact": lambda: impact.get_impact(user_id=citizen.id),
        "business_figures": business_metrics.read_business_figures,
        "balance": lambda: ledger.get_balance(user_id=citizen.id),
    }
    served = {}
    for name, call in calls.items():
        with app.app_context(), recorder.block() as seen:
            call()
        served[name] = _sources(seen)

    def statement_in_a_unit_of_work():
        with unit_of_work():
            ledger.list_statement(user_id=citizen.id)

    with app.app_context(), recorder.block() as seen:
        statement_in_a_unit_of_work()
    served["statement_in_a_unit_of_work"] = _sources(seen, "ledger_transfers")
    return served


def scenario(primary: str, standby: str, stop_standby: list[str]) -> dict:
    import warnings
    warnings.simplefilter("ignore")
    from flask_migrate import upgrade

    from api import create_app
    from models import db
    from tests.conftest import TEST_SECRET, Actors
    from tests.rewards_support import give_points

    app = create_app({"DATABASE_URL": primary, "DATABASE_REPLICA_URL": standby,
                      "DATABASE_REPLICA_MAX_LAG_SECONDS": "0", "REDIS_URL": "",
                      "SECRET_KEY": TEST_SECRET, "CARBON_ENV": "test", "TESTING": True})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        db.session.remove()
        recorder = Recorder({"primary": db.engine, "replica": db.engines["replica"]})
    client = app.test_client()
    citizen = Actors(app, client).user("citizen")
    give_points(app, [citizen.id], 100)
    _caught_up(app)
    seen = {"standby_in_recovery": _scalar(app, "replica", "SELECT pg_is_in_recovery()"),
            "caught_up": _observe(client, recorder, citizen),
            "services": _read_only_services(app, recorder, citizen)}

    # Replay paused: the standby receives the next credit but does not apply it.
    _scalar(app, "replica", "SELECT pg_wal_replay_pause()::text")
    _wait_for(app, "SELECT pg_get_wal_replay_pause_state() = 'paused'")
    give_points(app, [citizen.id], 20)
    _wait_for(app, "SELECT pg_last_wal_receive_lsn() >= CAST(:lsn AS pg_lsn)")
    count = "SELECT count(*) FROM ledger_transfers"
    seen["paused"] = {**_observe(client, recorder, citizen),
                      "transfers_on_standby": _scalar(app, "replica", count),
                      "transfers_on_primary": _scalar(app, None, count)}

    _scalar(app, "replica", "SELECT pg_wal_replay_resume()::text")
    _caught_up(app)
    seen["resumed"] = _observe(client, recorder, citizen)

    subprocess.run(stop_standby, check=True, capture_output=True, timeout=60)
    seen["standby_stopped"] = [_observe(client, recorder, citizen) for _ in range(2)]
    return seen


if __name__ == "__main__":
    print(json.dumps(scenario(**json.loads(sys.argv[1])), default=str))
