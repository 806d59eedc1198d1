"""Citizen impact and leaderboards: display names only, Redis boards updated after commit,
rebuilt from the database after a flush, and correct from SQL without Redis."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from carbon_credits import kvstore
from carbon_credits.services import leaderboards
from tests.api.test_actions import operator, recent, rider, seeded, send_batch, trip  # noqa: F401
from tests.conftest import all_table_counts, assert_problem, redis_key_count

IMPACT = "/api/v1/me/impact"
BOARD = "/api/v1/leaderboard"


@pytest.fixture
def sorted_sets(monkeypatch):
    """Exercise the Redis path: the real Redis when REDIS_URL is set, else the local store."""
    monkeypatch.setattr(leaderboards, "sorted_sets_enabled", lambda: True)
    return kvstore.get_store()


def walk(client, citizen, hours: int, km: str = "2"):
    r = client.post("/api/v1/actions", json=trip(recent(hours), minutes=30, km=km, mode="walk"),
                    headers=citizen.headers)
    assert r.status_code == 201 and r.json["status"] == "credited", r.json
    return r.json


# --- impact -----------------------------------------------------------------------------------

def test_impact_totals_by_type_with_sourced_equivalents(client, app, seeded, operator, rider):  # noqa: F811
    send_batch(client, operator, [{**trip(recent(4)), "external_id": "T-1",
                                   "external_ref": "CARD-0001"}])
    walk(client, rider, 2)
    client.post("/api/v1/actions", json=trip(recent(6)), headers=rider.headers)  # pending: not counted
    r = client.get(IMPACT, headers=rider.headers)
    assert r.status_code == 200, r.json
    body = r.json
    transit = next(t for t in body["by_action_type"] if t["action_type"] == "transit")
    walked = Decimal(transit["reduction_g"]) - Decimal("970.000")
    assert transit["actions"] == 2 and walked > 0
    assert {t["action_type"] for t in body["by_action_type"]} == {"transit", "ev_charging",
                                                                  "waste_sorting", "everyday",
                                                                  "household_energy"}
    assert body["total"]["reduction_g"] == transit["reduction_g"]
    assert body["total"]["points"] == transit["points"]
    assert Decimal(body["this_month"]["reduction_g"]) + Decimal(body["last_month"]["reduction_g"]) \
        == Decimal(body["total"]["reduction_g"])
    trees = next(e for e in body["equivalents"] if e["kind"] == "tree_days")
    assert "EPA" in trees["source"] and trees["figure"] and trees["reasoning"]
    assert Decimal(trees["value"]) == (Decimal(body["total"]["reduction_g"])
                                       / Decimal(trees["grams_per_unit"])).quantize(Decimal("0.1"))
    assert all(e["source"] and e["source_status"] for e in body["equivalents"])
    me = client.get("/api/v1/me", headers=rider.headers).json
    assert me["total_reduction_g"] == body["total"]["reduction_g"]


def test_impact_compares_this_month_with_last_in_the_scheme_time_zone(app, seeded, client, rider):  # noqa: F811
    from carbon_credits.services.impact import get_impact
    walk(client, rider, 2)
    now = dt.datetime.now(dt.timezone.utc)
    with app.app_context():
        current = get_impact(user_id=rider.id, now=now)
        next_month = get_impact(user_id=rider.id, now=now + dt.timedelta(days=40))
    assert current["this_month"]["reduction_g"] == current["total"]["reduction_g"] != Decimal(0)
    assert next_month["this_month"]["reduction_g"] == Decimal("0.000")
    if (now + dt.timedelta(days=40)).month - now.month in (1, -11):
        assert next_month["last_month"]["reduction_g"] == current["total"]["reduction_g"]
        assert next_month["change_g"] == -current["total"]["reduction_g"]


def test_impact_is_the_citizens_own_and_needs_a_citizen(client, actors, seeded):
    assert_problem(client.get(IMPACT), 401)
    assert_problem(client.get(IMPACT, headers=actors.user("admin").headers), 403)
    fresh = client.get(IMPACT, headers=actors.user("citizen").headers).json
    assert fresh["total"] == {"actions": 0, "reduction_g": "0.000", "points": 0}


# --- leaderboards -----------------------------------------------------------------------------

@pytest.fixture
def three_walkers(client, actors, seeded):
    """Three citizens with 1, 2 and 3 credited walks (different totals)."""
    people = [actors.user("citizen", display_name=name) for name in ("Ada", "Bo", "Cy")]
    for count, person in enumerate(people, start=1):
        for i in range(count):
            walk(client, person, 2 + i)
    return people


def _board(client, user, period="week", **query):
    r = client.get(BOARD, query_string={"period": period, **query}, headers=user.headers)
    assert r.status_code == 200, r.json
    return r.json


def test_leaderboard_ranks_by_credited_reduction_with_display_names_only(client, three_walkers):
    ada, bo, cy = three_walkers
    for period in ("week", "month"):  # (the walks, 2-4 h ago, may straddle a scheme day)
        body = _board(client, ada, period)
        assert [i["display_name"] for i in body["items"]] == ["Cy", "Bo", "Ada"]
    body = _board(client, ada, "week")
    assert [i["rank"] for i in body["items"]] == [1, 2, 3]
    assert set(body["items"][0]) == {"rank", "display_name", "reduction_g"}
    raw = json.dumps(body)
    for person in three_walkers:
        assert str(person.id) not in raw and person.email not in raw
    assert body["source"] == "database"  # no shared Redis: SQL is the truth
    assert _board(client, ada, "week", limit=2)["items"] == body["items"][:2]


def test_flushing_redis_and_rebuilding_restores_the_board_exactly(client, app, runner, sorted_sets,
                                                                  three_walkers):
    ada = three_walkers[0]
    assert runner.invoke(args=["jobs", "run-due"]).exit_code == 0
    boards = {p: _board(client, ada, p) for p in ("day", "week", "month")}
    assert {b["source"] for b in boards.values()} == {"redis"}
    from_sql = {p: b["items"] for p, b in boards.items()}
    sorted_sets.flushdb()
    after_flush = {p: _board(client, ada, p) for p in ("day", "week", "month")}
    assert {b["source"] for b in after_flush.values()} == {"database"}
    assert {p: b["items"] for p, b in after_flush.items()} == from_sql
    result = runner.invoke(args=["jobs", "run-due"])
    assert result.exit_code == 0 and "rebuild_leaderboards: " in result.output
    rebuilt = {p: _board(client, ada, p) for p in ("day", "week", "month")}
    assert {b["source"] for b in rebuilt.values()} == {"redis"}
    assert {p: b["items"] for p, b in rebuilt.items()} == from_sql


def test_credits_and_reversals_reach_the_board_after_commit(client, app, actors, sorted_sets,
                                                            three_walkers):
    ada, bo, cy = three_walkers
    with app.app_context():
        leaderboards.rebuild_current()
    extra = [walk(client, ada, 5 + i) for i in range(3)]  # Ada: 4 walks now, ahead of Cy's 3
    board = _board(client, ada)
    assert board["source"] == "redis" and board["items"][0]["display_name"] == "Ada"
    auditor = actors.user("auditor")
    for action in extra:
        r = client.post(f"/api/v1/admin/actions/{action['id']}/reverse", json={"reason": "fraud"},
                        headers=auditor.headers)
        assert r.status_code == 200, r.json
    after = _board(client, ada)
    assert [i["display_name"] for i in after["items"]] == ["Cy", "Bo", "Ada"]
    with app.app_context():  # the incremental board equals a fresh rebuild from the database
        leaderboards.rebuild_current()
    assert _board(client, ada)["items"] == after["items"]


def test_a_rolled_back_credit_never_reaches_the_board(app, sorted_sets, actors):
    from carbon_credits.services.uow import unit_of_work
    citizen = actors.user("citizen")
    before = redis_key_count()
    with app.app_context():
        with pytest.raises(RuntimeError):
            with unit_of_work():
                leaderboards.record_after_commit([(citizen.id, dt.date.today(), 5000)])
                raise RuntimeError("the transaction fails")
    assert redis_key_count() == before


def test_leaderboard_serves_from_the_database_when_redis_fails(client, app, monkeypatch, sorted_sets,
                                                               three_walkers):
    def broken(*args, **kwargs):
        raise kvstore.RedisError("down")
    monkeypatch.setattr(leaderboards, "_top_from_store", broken)
    body = _board(client, three_walkers[0])
    assert body["source"] == "database"
    assert [i["display_name"] for i in body["items"]] == ["Cy", "Bo", "Ada"]


@pytest.mark.parametrize("query", [{"period": "year"}, {"limit": 0}, {"limit": 101},
                                   {"limit": "ten"}, {"period": "week", "user": "x"}],
                         ids=["unknown_period", "limit_zero", "limit_over_max", "limit_not_int",
                              "unknown_parameter"])
def test_bad_leaderboard_queries_are_422_and_change_nothing(client, app, actors, query):
    citizen = actors.user("citizen")
    before, keys = all_table_counts(app), redis_key_count()
    assert_problem(client.get(BOARD, query_string=query, headers=citizen.headers), 422, "validation")
    assert all_table_counts(app) == before and redis_key_count() == keys


def test_leaderboard_needs_a_signed_in_user(client):
    assert_problem(client.get(BOARD), 401)
