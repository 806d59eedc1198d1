"""Meter readings racing on real PostgreSQL: a month of an account is credited once, whether the
same record or the same month under other record ids arrives on several connections at once."""
from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from models import Action, MeterReading, db
from tests.concurrency.support import race
from tests.households_support import (READINGS, balance, long_claim_window, make_home, month,
                                      reading)  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("long_claim_window")]


@pytest.fixture
def home(app, client, actors):
    Home = make_home(client, app, actors)
    body = json.dumps({"readings": [reading("base", month(-12), 230)]}).encode()
    assert client.post(READINGS, data=body, headers=Home.utility.signed(body)).status_code == 200
    return Home


def post(app, utility, readings, timestamp):
    body = json.dumps({"readings": readings}).encode()
    r = app.test_client().post(READINGS, data=body, headers=utility.signed(body, timestamp=timestamp))
    return r.status_code, [x["status"] for x in r.get_json()["results"]]


def counts(app) -> tuple[int, int]:
    with app.app_context():
        found = (db.session.scalar(select(func.count()).select_from(MeterReading)),
                 db.session.scalar(select(func.count()).select_from(Action)))
        db.session.remove()
    return found


@pytest.mark.parametrize("same_record", [True, False])
def test_one_month_reported_at_once_on_four_connections_is_credited_once(app, home, same_record):
    now = int(time.time())
    results = race(4, lambda i: post(app, home.utility, [reading(
        "now" if same_record else f"now-{i}", month(0), 200)], now - i))
    statuses = sorted(status for _, (status,) in results)
    assert statuses == ["credited", "duplicate", "duplicate", "duplicate"], results
    assert counts(app) == (2, 2)  # the baseline and the month; one action per member
    assert balance(app, home.holder.id) == balance(app, home.member.id) == 8250
