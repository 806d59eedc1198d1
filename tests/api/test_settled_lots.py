"""Certified lots only from settled scheme days (issue #12, item 5): a lot covers only days that
have closed and whose review period (LOT_REVIEW_PERIOD_DAYS, default 7) has passed, so credits
still under review never become irreversible certificates."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import text

from carbon_credits.config import ConfigError, load_settings
from models import db
from tests.api.test_actions import seeded, trip  # noqa: F401
from tests.conftest import all_table_counts, assert_problem

LOTS = "/api/v1/admin/certificates/lots"
ACTIONS = "/api/v1/actions"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def scheme_today() -> dt.date:
    return dt.datetime.now(SHANGHAI).date()


def issue(client, who, first: dt.date, last: dt.date, code="BJ-WALK"):
    return client.post(LOTS, json={"methodology_code": code, "version": 1,
                                   "period_from": first.isoformat(), "period_to": last.isoformat()},
                       headers=who.headers)


def review_period(monkeypatch, days: int):
    from carbon_credits import config
    monkeypatch.setattr(config, "_current", dataclasses.replace(config.get_settings(),
                                                                lot_review_period_days=days))


def test_a_lot_covering_todays_open_day_is_refused(client, app, seeded, actors):  # noqa: F811
    walker, auditor = actors.user("citizen"), actors.user("auditor")
    # A 10 km walk that ended minutes ago: 1040 g, enough for one certified unit.
    start = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=125)).replace(microsecond=0)
    r = client.post(ACTIONS, json=trip(start, minutes=120, km=10, mode="walk"), headers=walker.headers)
    assert r.status_code == 201 and r.json["status"] == "credited", r.json
    today = scheme_today()
    before = all_table_counts(app)
    body = assert_problem(issue(client, auditor, today.replace(day=1) if today.day > 1 else today,
                                today), 422, "period_not_settled")
    assert "period_to" in body["errors"]
    assert all_table_counts(app) == before


def test_days_inside_the_review_period_are_refused(client, app, seeded, actors, monkeypatch):  # noqa: F811
    auditor = actors.user("auditor")
    review_period(monkeypatch, 7)
    last_settled = scheme_today() - dt.timedelta(days=8)
    before = all_table_counts(app)
    unsettled = last_settled + dt.timedelta(days=1)
    assert_problem(issue(client, auditor, unsettled, unsettled), 422, "period_not_settled")
    assert all_table_counts(app) == before
    # The last settled day passes the rule (and there is simply nothing to certify).
    assert_problem(issue(client, auditor, last_settled, last_settled), 409, "nothing_to_issue")


def _certified_walk_yesterday(client, seeded_, actors, monkeypatch):
    review_period(monkeypatch, 0)
    walker, auditor = actors.user("citizen"), actors.user("auditor")
    yesterday = scheme_today() - dt.timedelta(days=1)
    start = dt.datetime.combine(yesterday, dt.time(9), SHANGHAI)
    r = client.post(ACTIONS, json=trip(start, minutes=120, km=10, mode="walk"), headers=walker.headers)
    assert r.status_code == 201 and r.json["status"] == "credited", r.json  # 1040 g
    r = issue(client, auditor, yesterday, yesterday)
    assert r.status_code == 201, r.json
    assert r.json["review_period_days"] == 0
    return r.json


def test_a_lot_records_the_review_period_it_was_issued_under(client, app, seeded, actors,  # noqa: F811
                                                             monkeypatch):
    lot = _certified_walk_yesterday(client, seeded, actors, monkeypatch)
    assert lot["quantity"] == 1


@pytest.mark.no_verify
@pytest.mark.parametrize("corruption", [
    "UPDATE certificate_lots SET review_period_days = 3",
    "UPDATE certificate_lots SET issued_at = :early",
], ids=["review_period_raised", "issued_earlier"])
def test_verify_reports_a_lot_covering_an_unsettled_day(client, app, seeded, actors,  # noqa: F811
                                                        monkeypatch, corruption):
    from carbon_credits.services.verify import verify_all
    from models.base import UTCDateTime
    _certified_walk_yesterday(client, seeded, actors, monkeypatch)
    with app.app_context():
        assert verify_all() == []
        statement = text(corruption)
        if ":early" in corruption:  # issued three days ago: yesterday was still open then
            early = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3)
            statement = statement.bindparams(db.bindparam("early", early, type_=UTCDateTime()))
        db.session.execute(statement)
        db.session.commit()
        problems = verify_all()
        db.session.remove()
    assert any("not settled when it was issued" in p for p in problems), problems


@pytest.mark.parametrize("raw, ok", [("0", True), ("365", True), ("-1", False), ("366", False),
                                     ("week", False)])
def test_lot_review_period_setting_is_validated(raw, ok):
    env = {"SECRET_KEY": "k" * 40, "LOT_REVIEW_PERIOD_DAYS": raw}
    if ok:
        assert load_settings(env).lot_review_period_days == int(raw)
    else:
        with pytest.raises(ConfigError, match="LOT_REVIEW_PERIOD_DAYS"):
            load_settings(env)
    assert load_settings({"SECRET_KEY": "k" * 40}).lot_review_period_days == 7
