"""My rank (GET /leaderboard/me): the citizen's place as the board orders it, on both read paths
of the board (sorted sets and SQL); a hidden citizen still sees where they stand; no Redis is
needed for it."""
from __future__ import annotations

import pytest

from tests.api.test_actions import seeded  # noqa: F401
from tests.api.test_insights import walk
from tests.api.test_leaderboard_visibility import (backend, board, four_walkers,  # noqa: F401
                                                   names, set_visibility)
from tests.conftest import assert_problem

MY_RANK = "/api/v1/leaderboard/me"


def my_rank(client, user, period="month") -> dict:
    r = client.get(MY_RANK, query_string={"period": period}, headers=user.headers)
    assert r.status_code == 200, r.json
    return r.json


def test_my_rank_agrees_with_the_board(client, app, backend, four_walkers):  # noqa: F811
    shown = board(client, app, four_walkers[0], backend)
    assert names(shown) == ["Dee", "Cy", "Bo", "Ada"]
    for person, name in zip(four_walkers, ("Ada", "Bo", "Cy", "Dee")):
        mine = my_rank(client, person)
        item = next(i for i in shown["items"] if i["display_name"] == name)
        assert (mine["rank"], mine["reduction_g"], mine["board_size"], mine["listed"]) == \
            (item["rank"], item["reduction_g"], 4, True)
        assert (mine["from"], mine["to"]) == (shown["from"], shown["to"])


def test_ties_are_ranked_as_the_board_ranks_them(client, app, backend, seeded, actors):  # noqa: F811
    twins = [actors.user("citizen", display_name=n) for n in ("Twin A", "Twin B")]
    for twin in twins:
        walk(client, twin, 2)
    shown = board(client, app, twins[0], backend)
    ranks = {i["display_name"]: i["rank"] for i in shown["items"]}
    assert sorted(ranks.values()) == [1, 2]
    for twin, name in zip(twins, ("Twin A", "Twin B")):
        assert my_rank(client, twin)["rank"] == ranks[name]


def test_a_hidden_citizen_still_sees_their_rank(client, app, backend, four_walkers):  # noqa: F811
    ada, bo, cy, dee = four_walkers
    set_visibility(client, cy, "hidden")
    assert names(board(client, app, ada, backend)) == ["Dee", "Bo", "Ada"]
    mine = my_rank(client, cy)
    assert (mine["rank"], mine["listed"], mine["board_size"]) == (2, False, 3)
    assert my_rank(client, bo)["rank"] == 2 and my_rank(client, ada)["rank"] == 3


def test_no_grams_no_rank(client, actors, seeded):  # noqa: F811
    idle = actors.user("citizen")
    mine = my_rank(client, idle, "day")
    assert (mine["rank"], mine["reduction_g"], mine["board_size"]) == (None, "0.000", 0)


@pytest.mark.parametrize("query", [{"period": "year"}, {"period": ""}, {"limit": 5}])
def test_bad_rank_query_is_422(client, actors, query):
    assert_problem(client.get(MY_RANK, query_string=query,
                              headers=actors.user("citizen").headers), 422)
