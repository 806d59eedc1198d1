"""Leaderboard visibility (PIPL art. 44): named, pseudonym, hidden; suspended and erased
accounts never listed; `limit` still fills past hidden entries. Each rule on both read paths:
the sorted sets (real Redis when REDIS_URL is set, else the local store) and SQL."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import update

from carbon_credits.services import leaderboards
from models import User, db
from tests.api.test_actions import seeded  # noqa: F401
from tests.api.test_insights import walk

BOARD = "/api/v1/leaderboard"
ME = "/api/v1/me"


@pytest.fixture(params=["sorted_sets", "sql"])
def backend(request, app, monkeypatch):
    monkeypatch.setattr(leaderboards, "sorted_sets_enabled", lambda: request.param == "sorted_sets")
    return request.param


@pytest.fixture
def four_walkers(client, actors, seeded):  # noqa: F811
    """Dee > Cy > Bo > Ada by credited reduction."""
    people = [actors.user("citizen", display_name=name) for name in ("Ada", "Bo", "Cy", "Dee")]
    for count, person in enumerate(people, start=1):
        for i in range(count):
            walk(client, person, 2 + i)
    return people


def board(client, app, user, backend, **query) -> dict:
    if backend == "sorted_sets":
        with app.app_context():
            leaderboards.rebuild_current()
            db.session.remove()
    r = client.get(BOARD, query_string={"period": "month", **query}, headers=user.headers)
    assert r.status_code == 200, r.json
    assert r.json["source"] == ("redis" if backend == "sorted_sets" else "database")
    return r.json


def names(body) -> list[str]:
    return [item["display_name"] for item in body["items"]]


def set_visibility(client, user, visibility):
    r = client.patch(ME, json={"leaderboard_visibility": visibility}, headers=user.headers)
    assert r.status_code == 200, r.json


def test_pseudonym_is_stable_and_reveals_neither_name_nor_id(client, app, backend, four_walkers):
    ada, bo, cy, dee = four_walkers
    set_visibility(client, cy, "pseudonym")
    first = board(client, app, ada, backend)
    shown = names(first)
    assert shown[0] == "Dee" and shown[2:] == ["Bo", "Ada"]
    assert re.fullmatch(r"Citizen [0-9a-f]{8}", shown[1])
    assert names(board(client, app, ada, backend))[1] == shown[1]  # stable
    raw = json.dumps(first)
    assert "Cy" not in raw.replace("Citizen", "") and str(cy.id) not in raw
    assert [i["rank"] for i in first["items"]] == [1, 2, 3, 4]
    set_visibility(client, cy, "named")
    assert names(board(client, app, ada, backend)) == ["Dee", "Cy", "Bo", "Ada"]


def test_hidden_citizens_are_not_listed_and_limit_still_fills(client, app, backend, four_walkers):
    ada, bo, cy, dee = four_walkers
    set_visibility(client, dee, "hidden")
    set_visibility(client, cy, "hidden")
    body = board(client, app, ada, backend, limit=2)
    assert names(body) == ["Bo", "Ada"] and [i["rank"] for i in body["items"]] == [1, 2]
    assert names(board(client, app, ada, backend)) == ["Bo", "Ada"]


def test_suspended_and_erased_accounts_are_never_listed(client, app, backend, four_walkers):
    ada, bo, cy, dee = four_walkers
    with app.app_context():
        now = dt.datetime.now(dt.timezone.utc)
        db.session.execute(update(User).where(User.id == dee.id).values(suspended_at=now))
        db.session.commit()
        db.session.remove()
    r = client.delete(ME, json={"password": cy.password}, headers=cy.headers)
    assert r.status_code == 200, r.json
    assert names(board(client, app, ada, backend, limit=2)) == ["Bo", "Ada"]


def test_a_board_of_only_hidden_citizens_is_empty(client, app, backend, four_walkers):
    for person in four_walkers:
        set_visibility(client, person, "hidden")
    assert board(client, app, four_walkers[0], backend)["items"] == []


def test_past_many_hidden_entries_the_sorted_set_is_read_further(client, app, monkeypatch,
                                                                  four_walkers):
    """More hidden citizens than one read of the sorted set: later chunks are read."""
    monkeypatch.setattr(leaderboards, "sorted_sets_enabled", lambda: True)
    monkeypatch.setattr(leaderboards, "READ_CHUNK", 1)  # two members per read
    ada, bo, cy, dee = four_walkers
    with app.app_context():
        db.session.execute(update(User).where(User.id.in_([bo.id, cy.id, dee.id]))
                           .values(leaderboard_visibility="hidden"))
        db.session.commit()
        leaderboards.rebuild_current()
        start, _ = leaderboards.period_bounds("month", leaderboards.scheme_today())
        top = leaderboards._top_from_store("month", start, 1)
        db.session.remove()
    assert [name for _, name, _ in top] == ["Ada"]
