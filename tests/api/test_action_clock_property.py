"""Property: whatever `occurred_at` values a citizen or an operator sends, no citizen is credited
more than a scope's daily cap for a real scheme day (the Asia/Shanghai date of when the action
ended), nor anything for an action that ended outside the claim window.

One example = one fresh citizen with a freshly bound card, so examples share the database but
never a citizen, a card or a daily cap."""
from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from carbon_credits.config import get_settings
from models import Action, db
from tests.api.test_actions import operator, seeded, send_batch  # noqa: F401

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
CAP_MG = {"transit:walk": 1_040_000, "transit:metro": 5_000_000}
SPEED_KMH = {"walk": (2.5, 7.5), "metro": (15, 60)}
TOLERANCE_S = 300

claims = st.fixed_dictionaries({
    "channel": st.sampled_from(["app", "partner"]),
    "mode": st.sampled_from(["walk", "metro"]),
    "days_ago": st.integers(0, 9),  # the claim window is 7 days: some end outside it
    "hour": st.integers(0, 23),
    "minute": st.sampled_from([0, 1, 2, 3, 30, 55, 57, 58, 59]),  # midnight is the edge
    "minutes": st.integers(10, 180),
    "speed": st.floats(0, 1),  # where in the mode's plausible speed range
    # occurred_at: omitted, agreeing (|offset| <= 5 min) or disagreeing (anything further)
    "clock": st.one_of(
        st.none(),
        st.integers(-TOLERANCE_S, TOLERANCE_S).map(lambda s: ("agree", s)),
        st.integers(TOLERANCE_S + 1, 10 * 86400).flatmap(
            lambda s: st.sampled_from([("disagree", s), ("disagree", -s)]))),
})


def _build(claim: dict, now: dt.datetime, n: int) -> dict:
    day = now.astimezone(SHANGHAI).date() - dt.timedelta(days=claim["days_ago"])
    ended = dt.datetime.combine(day, dt.time(claim["hour"], claim["minute"]), SHANGHAI)
    if ended > now - dt.timedelta(minutes=2):
        ended -= dt.timedelta(days=1)
    started = ended - dt.timedelta(minutes=claim["minutes"])
    low, high = SPEED_KMH[claim["mode"]]
    km = round((low + (high - low) * claim["speed"]) * claim["minutes"] / 60, 1)
    body = {"action_type": "transit", "mode": claim["mode"], "started_at": started.isoformat(),
            "ended_at": ended.isoformat(), "distance_km": max(km, 0.6)}
    if claim["clock"] is not None:
        body["occurred_at"] = (ended + dt.timedelta(seconds=claim["clock"][1])).isoformat()
    if claim["channel"] == "partner":
        body.update(external_id=f"P-{uuid.uuid4().hex[:12]}-{n}")
    return body


@pytest.mark.timeout(300)
def test_no_citizen_is_credited_beyond_the_cap_of_a_real_day_or_outside_the_window(
        app, client, seeded, operator, actors):  # noqa: F811
    window = dt.timedelta(days=get_settings().claim_window_days)

    @settings(max_examples=30, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.lists(claims, min_size=1, max_size=8))
    def run(sequence):
        citizen = actors.user("citizen")
        card = f"CARD-{uuid.uuid4().hex[:10]}"
        actors.bind(citizen, operator, card)
        started = dt.datetime.now(dt.timezone.utc)
        batch: list[tuple[dict, dict]] = []

        def flush():
            if batch:
                results = send_batch(client, operator,
                                     [{**b, "external_ref": card} for b, _ in batch]).json["results"]
                for (body, claim), result in zip(batch, results):
                    if claim["clock"] and claim["clock"][0] == "disagree":
                        assert result["status"] == "rejected"
                        assert "occurred_at" in result["reasons"][0]["errors"], result
                    else:
                        assert [r["code"] for r in result["reasons"]][:1] != ["validation"], result
                batch.clear()

        for n, claim in enumerate(sequence):
            body = _build(claim, started, n)
            if claim["channel"] == "partner":
                batch.append((body, claim))
                continue
            flush()
            r = client.post("/api/v1/actions", json=body, headers=citizen.headers)
            if claim["clock"] and claim["clock"][0] == "disagree":
                assert r.status_code == 422 and "occurred_at" in r.json["errors"], r.json
            else:
                assert r.status_code == 201, r.json
        flush()

        with app.app_context():
            stored = list(db.session.scalars(select(Action).where(Action.user_id == citizen.id)))
            db.session.remove()
        credited = defaultdict(int)
        for action in stored:
            assert action.occurred_at == action.ended_at  # one clock
            real_day = action.ended_at.astimezone(SHANGHAI).date()
            assert action.scheme_day == real_day
            if action.status == "credited" and action.credited_mg:
                assert action.ended_at >= started - window, "credited outside the claim window"
                credited[(action.scope_key, real_day)] += action.credited_mg
        for (scope, day), mg in credited.items():
            assert mg <= CAP_MG[scope], f"{scope} on {day}: {mg} mg credited"

    run()
