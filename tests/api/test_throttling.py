"""Throttling holds across workers: counted in Redis when configured, else in the database,
never per process; per address, per identifier across addresses, and a global ceiling."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import func, select

from carbon_credits import config, kvstore
from carbon_credits.services import throttle
from models import ThrottleCounter, db
from tests.conftest import REDIS_URL, TEST_SECRET, assert_problem

LOGIN = "/api/v1/auth/login"
REGISTER = "/api/v1/auth/register"
VERIFY = "/api/v1/auth/verify"
RESET = "/api/v1/auth/password-reset"


def limits(monkeypatch, **values):
    monkeypatch.setattr(config, "_current", dataclasses.replace(config.get_settings(), **values))


def attempt(client, identifier, address="198.51.100.1", password="wrong password", **kw):
    return client.post(LOGIN, json={"identifier": identifier, "password": password},
                       environ_base={"REMOTE_ADDR": address}, **kw)


def counters(app) -> int:
    if kvstore.is_redis():
        return sum(1 for _ in kvstore.get_store().scan_iter(f"{throttle.REDIS_PREFIX}*"))
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(ThrottleCounter))
        db.session.remove()
    return n


_WORKER = textwrap.dedent("""
    import json, sys, warnings
    warnings.simplefilter("ignore")
    from api import create_app
    app = create_app(json.loads(sys.argv[1]))
    client = app.test_client()
    statuses = [client.post("/api/v1/auth/login", json={"identifier": sys.argv[2],
                            "password": "wrong password"},
                            environ_base={"REMOTE_ADDR": "198.51.100.1"}).status_code
                for _ in range(int(sys.argv[3]))]
    print(json.dumps(statuses))
""")


def other_worker(app, identifier: str, attempts: int, **env) -> list[int]:
    """A second worker: another process with its own app, on the same database and Redis."""
    settings = {"DATABASE_URL": app._test_database["url"], "REDIS_URL": REDIS_URL or "",
                "SECRET_KEY": TEST_SECRET, "CARBON_ENV": "test", **env}
    out = subprocess.run([sys.executable, "-c", _WORKER, json.dumps(settings), identifier,
                          str(attempts)], capture_output=True, text=True, timeout=120,
                         cwd=os.getcwd(), check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_two_workers_share_one_count(client, app, actors, monkeypatch):
    """Two processes, alternating: the 429 comes at the limit, not at twice the limit.

    Counts are per fixed window; an hourly one (entered with a minute to spare) keeps the
    seconds the second process takes to start from straddling a window boundary."""
    _away_from_a_window_boundary(3600, margin=60)
    limits(monkeypatch, login_rate_limit="6 per hour")
    ana = actors.user("citizen")
    mine = [attempt(client, ana.email).status_code for _ in range(2)]
    theirs = other_worker(app, ana.email, 2, LOGIN_RATE_LIMIT="6 per hour")
    mine += [attempt(client, ana.email).status_code for _ in range(1)]
    assert mine + theirs == [401] * 5  # the login in actors.user was the first attempt
    r = attempt(client, ana.email)
    assert_problem(r, 429, "rate_limited")
    assert 1 <= int(r.headers["Retry-After"]) <= 3600
    assert other_worker(app, ana.email, 1, LOGIN_RATE_LIMIT="6 per hour") == [429]


def _away_from_a_window_boundary(window_seconds: int, *, margin: int) -> None:
    left = window_seconds - time.time() % window_seconds
    if left < margin:
        time.sleep(left + 1)


@pytest.mark.usefixtures("steady_throttle_clock")
def test_spraying_one_password_over_many_identifiers_from_one_address_is_throttled(
        client, monkeypatch):
    limits(monkeypatch, throttle_address_limit="5 per minute")
    statuses = [attempt(client, f"user{i}@example.test").status_code for i in range(6)]
    assert statuses == [401] * 5 + [429]


@pytest.mark.usefixtures("steady_throttle_clock")
def test_forwarded_for_headers_do_not_buy_new_addresses(client, monkeypatch):
    limits(monkeypatch, throttle_address_limit="3 per minute")
    statuses = [attempt(client, f"user{i}@example.test",
                        headers={"X-Forwarded-For": f"10.9.8.{i}"}).status_code for i in range(4)]
    assert statuses == [401] * 3 + [429]


@pytest.mark.usefixtures("steady_throttle_clock")
def test_one_identifier_from_many_addresses_is_throttled(client, actors, monkeypatch):
    ana = actors.user("citizen")
    limits(monkeypatch, login_rate_limit="4 per minute")
    statuses = [attempt(client, ana.email, address=f"10.0.0.{i}").status_code for i in range(4)]
    assert statuses == [401] * 3 + [429]
    # Other spellings of the identifier are the same identifier.
    assert_problem(attempt(client, ana.email.upper(), address="10.0.1.1"), 429, "rate_limited")


@pytest.mark.usefixtures("steady_throttle_clock")
def test_a_global_ceiling_on_failed_logins(client, actors, monkeypatch):
    ana = actors.user("citizen")
    limits(monkeypatch, throttle_failed_login_limit="3 per minute")
    for i in range(3):
        assert attempt(client, f"u{i}@example.test", address=f"10.1.0.{i}").status_code == 401
    assert_problem(attempt(client, ana.email, address="10.2.0.1", password=ana.password),
                   429, "rate_limited")


@pytest.mark.usefixtures("steady_throttle_clock")
def test_a_failed_login_still_counts_although_its_transaction_rolled_back(client, app):
    assert attempt(client, "nobody@example.test").status_code == 401
    with app.app_context():
        start, _ = throttle._window(throttle.failed_login_rule(), throttle.time.time())
        assert throttle._count(throttle.failed_login_rule(), start, increment=False) == 1
        db.session.remove()


@pytest.mark.usefixtures("steady_throttle_clock")
def test_register_verify_and_reset_are_throttled_per_address(client, monkeypatch, sent_messages):
    limits(monkeypatch, throttle_address_limit="2 per minute")
    for path, body in ((REGISTER, lambda i: {"email": f"n{i}@example.test",
                                             "password": "long enough pw", "display_name": "N"}),
                       (VERIFY, lambda i: {"identifier": f"n{i}@example.test", "code": "12345678"}),
                       (RESET, lambda i: {"identifier": f"n{i}@example.test"})):
        statuses = [client.post(path, json=body(i)).status_code for i in range(3)]
        assert statuses[2] == 429 and 429 not in statuses[:2], (path, statuses)


@pytest.mark.usefixtures("steady_throttle_clock")
def test_messages_to_one_identifier_are_throttled(client, monkeypatch, sent_messages):
    limits(monkeypatch, throttle_message_limit="2 per hour")
    statuses = [client.post(RESET, json={"identifier": "ana@example.test"},
                            environ_base={"REMOTE_ADDR": f"10.3.0.{i}"}).status_code
                for i in range(3)]
    assert statuses == [202, 202, 429]


@pytest.mark.usefixtures("steady_throttle_clock")
def test_code_guessing_is_throttled_per_identifier_across_addresses(client, monkeypatch,
                                                                     sent_messages):
    limits(monkeypatch, throttle_code_limit="3 per 15 minutes")
    client.post(REGISTER, json={"email": "ana@example.test", "password": "long enough pw",
                                "display_name": "Ana"})
    statuses = [client.post(VERIFY, json={"identifier": "ana@example.test", "code": f"{i:08d}"},
                            environ_base={"REMOTE_ADDR": f"10.4.0.{i}"}).status_code
                for i in range(4)]
    assert statuses[3] == 429 and 429 not in statuses[:3]


@pytest.mark.parametrize("path, body", [
    (LOGIN, {"identifier": "ana@example.test"}),
    (LOGIN, {"identifier": "ana@example.test", "password": "x", "extra": 1}),
    (REGISTER, {"email": "ana@example.test", "password": "short", "display_name": "A"}),
    (VERIFY, {"identifier": "ana@example.test"}),
    (RESET, {}),
])
def test_bad_input_creates_no_counter(client, app, path, body):
    r = client.post(path, json=body)
    assert_problem(r, 422, "validation")
    assert counters(app) == 0


def test_login_rate_limit_setting_is_parsed_and_refused_when_malformed():
    from carbon_credits.config import ConfigError, load_settings
    settings = load_settings({"SECRET_KEY": "k" * 40, "LOGIN_RATE_LIMIT": "3 per 5 minutes"})
    assert config.parse_rate(settings.login_rate_limit) == (3, 300)
    with pytest.raises(ConfigError, match="THROTTLE_ADDRESS_LIMIT"):
        load_settings({"SECRET_KEY": "k" * 40, "THROTTLE_ADDRESS_LIMIT": "lots"})
