"""One clock per action: a time-windowed action happens when it ends.

`occurred_at` of a trip or charging session may be left out (it is `ended_at`) or sent within
5 minutes of `ended_at`; anything else is 422. The claim window, the methodology version in
force, the scheme day of the daily cap and the overlap check all read that one instant, so a
citizen or an operator cannot move an old trip into the window or spread one day's trips over
several daily caps."""
from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

from models import Action
from tests.api.test_actions import operator, rider, seeded, send_batch  # noqa: F401
from tests.conftest import all_table_counts, assert_problem, table_counts

ACTIONS = "/api/v1/actions"
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def walk(start: dt.datetime, *, minutes: int = 30, km: int = 2, occurred_at=...) -> dict:
    """A walk; `occurred_at` omitted by default, or sent as given."""
    body = {"action_type": "transit", "mode": "walk", "started_at": start.isoformat(),
            "ended_at": (start + dt.timedelta(minutes=minutes)).isoformat(), "distance_km": km}
    if occurred_at is not ...:
        body["occurred_at"] = occurred_at.isoformat()
    return body


def metro(start: dt.datetime, *, minutes: int = 20, km: int = 10, occurred_at=..., **extra) -> dict:
    body = {"action_type": "transit", "mode": "metro", "started_at": start.isoformat(),
            "ended_at": (start + dt.timedelta(minutes=minutes)).isoformat(), "distance_km": km,
            **extra}
    if occurred_at is not ...:
        body["occurred_at"] = occurred_at.isoformat()
    return body


def scheme_day_at(days_ago: int, hour: int, minute: int = 0) -> dt.datetime:
    """A wall-clock time in Shanghai `days_ago` scheme days before today."""
    day = dt.datetime.now(SHANGHAI).date() - dt.timedelta(days=days_ago)
    return dt.datetime.combine(day, dt.time(hour, minute), SHANGHAI)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def balance(app, user_id) -> int:
    from carbon_credits.services import ledger
    with app.app_context():
        return ledger.get_balance(user_id=user_id).available


# --- the app channel ------------------------------------------------------------------------

def test_old_walk_reported_with_todays_occurred_at_is_refused(client, app, seeded, rider):  # noqa: F811
    """Exploit: a walk of 10 days ago sent with today's occurred_at was credited."""
    start = now() - dt.timedelta(days=10)
    before = all_table_counts(app)
    r = client.post(ACTIONS, json=walk(start, occurred_at=now()), headers=rider.headers)
    body = assert_problem(r, 422, "validation")
    assert "occurred_at" in body["errors"]
    assert all_table_counts(app) == before
    # Without occurred_at it is judged by when it ended: outside the claim window.
    r = client.post(ACTIONS, json=walk(start), headers=rider.headers)
    assert r.status_code == 201 and r.json["status"] == "rejected", r.json
    assert [x["code"] for x in r.json["reasons"]] == ["claim_window_expired"]
    assert balance(app, rider.id) == 0


def test_four_walks_of_one_day_share_one_daily_cap(client, app, seeded, rider):  # noqa: F811
    """Exploit: four 10 km walks made the same day, reported with four different occurred_at
    days, each got a full daily cap (1040 g)."""
    starts = [scheme_day_at(2, hour) for hour in (6, 9, 12, 15)]
    for i, start in enumerate(starts):
        moved = start + dt.timedelta(hours=2) - dt.timedelta(days=i + 1)
        r = client.post(ACTIONS, json=walk(start, minutes=120, km=10, occurred_at=moved),
                        headers=rider.headers)
        assert_problem(r, 422, "validation")
    assert table_counts(app, Action)["actions"] == 0
    points = [client.post(ACTIONS, json=walk(start, minutes=120, km=10), headers=rider.headers)
              .json["points"] for start in starts]
    assert points == [1040, 0, 0, 0]
    assert balance(app, rider.id) == 1040


def test_occurred_at_omitted_is_ended_at(client, app, seeded, rider):  # noqa: F811
    start = now() - dt.timedelta(hours=3)
    r = client.post(ACTIONS, json=walk(start), headers=rider.headers)
    assert r.status_code == 201 and r.json["status"] == "credited", r.json
    ended = start + dt.timedelta(minutes=30)
    assert dt.datetime.fromisoformat(r.json["occurred_at"]) == ended
    assert r.json["scheme_day"] == ended.astimezone(SHANGHAI).date().isoformat()


def test_occurred_at_within_five_minutes_of_the_end_is_accepted_and_stored_as_the_end(
        client, app, seeded, rider):  # noqa: F811
    start = now() - dt.timedelta(hours=3)
    ended = start + dt.timedelta(minutes=30)
    r = client.post(ACTIONS, json=walk(start, occurred_at=ended + dt.timedelta(minutes=5)),
                    headers=rider.headers)
    assert r.status_code == 201 and r.json["status"] == "credited", r.json
    assert dt.datetime.fromisoformat(r.json["occurred_at"]) == ended
    assert r.json["inputs"]["occurred_at"] == (ended + dt.timedelta(minutes=5)).isoformat()
    late = walk(start + dt.timedelta(hours=1), occurred_at=ended + dt.timedelta(hours=1, minutes=5,
                                                                                 seconds=1))
    assert "occurred_at" in assert_problem(client.post(ACTIONS, json=late, headers=rider.headers),
                                           422)["errors"]


def test_tolerance_cannot_move_a_walk_across_midnight(client, app, seeded, rider):  # noqa: F811
    """A walk ending at 23:58 sent with occurred_at 00:02 counts on the day it ended."""
    late = scheme_day_at(2, 21, 58)
    r = client.post(ACTIONS, json=walk(late, minutes=120, km=10,
                                       occurred_at=late + dt.timedelta(minutes=124)),
                    headers=rider.headers)
    assert r.status_code == 201 and r.json["points"] == 1040, r.json
    assert r.json["scheme_day"] == late.date().isoformat()
    same_day = client.post(ACTIONS, json=walk(scheme_day_at(2, 15), minutes=120, km=10),
                           headers=rider.headers).json
    assert same_day["status"] == "credited" and same_day["points"] == 0
    assert balance(app, rider.id) == 1040


def test_actions_without_a_window_need_occurred_at(client, app, seeded, rider):  # noqa: F811
    before = all_table_counts(app)
    waste = {"action_type": "waste_sorting", "category": "paper", "weight_kg": 2,
             "station_id": "B1"}
    body = assert_problem(client.post(ACTIONS, json=waste, headers=rider.headers), 422)
    assert "occurred_at" in body["errors"]
    tap = {"action_type": "transit", "mode": "bus", "boardings": 1}
    body = assert_problem(client.post(ACTIONS, json=tap, headers=rider.headers), 422)
    assert "occurred_at" in body["errors"]
    half = walk(now() - dt.timedelta(hours=2))
    del half["ended_at"]
    assert "ended_at" in assert_problem(client.post(ACTIONS, json=half, headers=rider.headers),
                                        422)["errors"]
    assert all_table_counts(app) == before


def test_approval_credits_on_the_day_the_action_ended(client, app, seeded, rider, actors):  # noqa: F811
    """A pending claim stored before the rule (occurred_at far from ended_at) is approved with
    the instant and the scheme day of its end."""
    from models import db
    start = scheme_day_at(2, 8)
    first = client.post(ACTIONS, json=metro(start, km=40, minutes=60), headers=rider.headers).json
    legacy = client.post(ACTIONS, json=metro(start + dt.timedelta(hours=3), km=40, minutes=60),
                         headers=rider.headers).json
    assert first["status"] == legacy["status"] == "pending_review"
    with app.app_context():
        row = db.session.get(Action, uuid.UUID(legacy["id"]))
        row.occurred_at = row.occurred_at - dt.timedelta(days=1)
        row.scheme_day = row.scheme_day - dt.timedelta(days=1)
        db.session.commit()
    auditor = actors.user("auditor")
    approve = "/api/v1/admin/actions/{}/approve"
    a = client.post(approve.format(first["id"]), json={}, headers=auditor.headers).json
    b = client.post(approve.format(legacy["id"]), json={}, headers=auditor.headers).json
    assert a["points"] == 3880 and b["points"] == 5000 - 3880  # one real day, one cap
    assert b["scheme_day"] == start.date().isoformat()
    assert dt.datetime.fromisoformat(b["occurred_at"]) == dt.datetime.fromisoformat(b["ended_at"])


# --- the partner channel --------------------------------------------------------------------

def test_operator_cannot_move_an_old_trip_into_the_claim_window(client, app, seeded, operator,  # noqa: F811
                                                               rider):  # noqa: F811
    start = now() - dt.timedelta(days=10)
    results = send_batch(client, operator, [
        metro(start, occurred_at=now(), external_id="OLD-1", external_ref="CARD-0001"),
        metro(start + dt.timedelta(hours=1), external_id="OLD-2", external_ref="CARD-0001"),
    ]).json["results"]
    assert results[0]["status"] == "rejected"
    assert results[0]["reasons"][0]["code"] == "validation"
    assert "occurred_at" in results[0]["reasons"][0]["errors"]
    assert results[1]["status"] == "rejected"
    assert [x["code"] for x in results[1]["reasons"]] == ["claim_window_expired"]
    assert table_counts(app, Action)["actions"] == 1  # the well-formed record, kept for analytics
    assert balance(app, rider.id) == 0


def test_operator_cannot_spread_one_days_trips_over_several_caps(client, app, seeded, operator,  # noqa: F811
                                                                 rider):  # noqa: F811
    """Exploit: four 60 km metro trips of one day, each with another day's occurred_at, got
    four daily caps (20000 points instead of 5000)."""
    starts = [scheme_day_at(3, hour) for hour in (6, 9, 12, 15)]
    moved = [metro(s, minutes=60, km=60, external_id=f"M-{i}", external_ref="CARD-0001",
                   occurred_at=s + dt.timedelta(hours=1) - dt.timedelta(days=i))
             for i, s in enumerate(starts)]
    results = send_batch(client, operator, moved).json["results"]
    assert [r["status"] for r in results] == ["credited"] + ["rejected"] * 3  # i=0 agrees
    honest = [metro(s, minutes=60, km=60, external_id=f"H-{i}", external_ref="CARD-0001")
              for i, s in enumerate(starts[1:])]
    results = send_batch(client, operator, honest).json["results"]
    assert [r["points"] for r in results] == [0, 0, 0]
    assert balance(app, rider.id) == 5000
