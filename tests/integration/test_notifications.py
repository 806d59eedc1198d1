"""The reminder job (services/notifications.notify_expiring): points lapsing within the window
and vouchers expiring within the hour each become one notification and one webhook event;
nothing outside, nothing twice; `notify` for other services; the retention of read ones."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import func, select

from carbon_credits.domain.ledger import add_months
from carbon_credits.domain.notifications import points_expiring_key, voucher_expiring_key
from carbon_credits.services import notifications as service
from models import Notification, db
from tests.notifications_support import (BASE, LAPSE, earn, emitted, job_now,  # noqa: F401
                                         notification_rows, run_job)
from tests.rewards_support import (CONFIRM, REDEMPTIONS, create_reward, give_points, merchant,
                                   now)

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def lapse_day(days_after_base: float = 0) -> dt.date:
    return add_months(BASE + dt.timedelta(days=days_after_base), 24).astimezone(SHANGHAI).date()


def test_points_lapsing_within_the_window_are_announced_per_citizen_and_day(app, actors,
                                                                            emitted):  # noqa: F811
    ana, bo = actors.user("citizen"), actors.user("citizen")
    earn(app, ana.id, 100)                        # lapses in 10 days
    earn(app, ana.id, 20, days_after_base=1 / 24)  # the same day, an hour later
    earn(app, ana.id, 7, days_after_base=5)       # in 15 days
    earn(app, ana.id, 50, days_after_base=45)     # in 55 days: outside the 30-day window
    earn(app, ana.id, 9, days_after_base=-20)     # lapsed 10 days ago (not yet swept): not news
    earn(app, bo.id, 30)
    assert run_job(app, job_now(10)) == 3
    ana_rows = notification_rows(app, ana.id)
    assert [(r["kind"], r["dedupe_key"], r["data"]["points"], r["data"]["lots"])
            for r in ana_rows] == [
        ("points_expiring", points_expiring_key(lapse_day()), 120, 2),
        ("points_expiring", points_expiring_key(lapse_day(5)), 7, 1)]
    first = ana_rows[0]["data"]
    assert first["expires_on"] == lapse_day().isoformat()
    assert dt.datetime.fromisoformat(first["first_expires_at"]) == LAPSE
    assert all(r["read_at"] is None for r in ana_rows)
    [bo_row] = notification_rows(app, bo.id)
    assert bo_row["data"]["points"] == 30
    events = sorted((e[0], e[1]["user_id"], e[1]["points"], e[2]["user_id"]) for e in emitted)
    assert events == sorted([("points.expiring", str(ana.id), 120, ana.id),
                             ("points.expiring", str(ana.id), 7, ana.id),
                             ("points.expiring", str(bo.id), 30, bo.id)])
    assert {e[1]["notification_id"] for e in emitted} == \
        {str(r["id"]) for r in ana_rows + [bo_row]}


def test_a_rerun_writes_and_emits_nothing_new(app, actors, emitted):  # noqa: F811
    citizen = actors.user("citizen")
    earn(app, citizen.id, 100)
    assert run_job(app, job_now(10)) == 1
    assert run_job(app, job_now(10)) == 0
    assert run_job(app, job_now(9)) == 0  # a day later: the same lapse day, already told
    assert len(notification_rows(app)) == 1 and len(emitted) == 1


def test_points_outside_the_window_wait_until_it_reaches_them(app, actors):
    citizen = actors.user("citizen")
    earn(app, citizen.id, 100)
    assert run_job(app, job_now(31.5)) == 0
    assert run_job(app, job_now(29.5)) == 1


def test_the_window_is_a_setting(app, actors, monkeypatch):
    citizen = actors.user("citizen")
    earn(app, citizen.id, 100)
    with app.app_context():
        wider = dataclasses.replace(service.get_settings(), notify_points_expiring_days=60)
    monkeypatch.setattr(service, "get_settings", lambda: wider)
    assert run_job(app, job_now(50)) == 1


def test_spent_and_erased_points_are_not_announced(app, actors, client):
    spender, leaver = actors.user("citizen"), actors.user("citizen")
    earn(app, spender.id, 100)
    earn(app, leaver.id, 100)
    from carbon_credits.services import ledger
    with app.app_context():
        ledger.forfeit_balance(user_id=spender.id)  # the lot is emptied (remaining 0)
        db.session.remove()
    r = client.delete("/api/v1/me", json={"password": leaver.password}, headers=leaver.headers)
    assert r.status_code == 200, r.json
    assert run_job(app, job_now(10)) == 0


def test_each_run_writes_at_most_a_batch_soonest_first(app, actors):
    citizens = [actors.user("citizen") for _ in range(3)]
    for i, citizen in enumerate(citizens):
        earn(app, citizen.id, 10, days_after_base=2 - i)  # the last lapses first
    assert run_job(app, job_now(10), batch=2) == 2
    told = {r["user_id"] for r in notification_rows(app)}
    assert told == {citizens[2].id, citizens[1].id}
    assert run_job(app, job_now(10), batch=2) == 1
    assert run_job(app, job_now(10), batch=2) == 0


def _reserve(client, actors, app):
    _, staff = merchant(actors)
    reward = create_reward(client, staff)
    citizen = actors.user("citizen")
    give_points(app, [citizen.id], 1000)
    r = client.post(REDEMPTIONS, json={"reward_id": reward["id"]}, headers=citizen.headers)
    assert r.status_code == 201, r.json
    return citizen, staff, reward, r.json


def test_a_voucher_expiring_within_the_hour_is_announced_once(app, actors, client,
                                                               emitted):  # noqa: F811
    citizen, staff, reward, voucher = _reserve(client, actors, app)  # 30 minutes to live
    assert run_job(app, now() - dt.timedelta(minutes=45)) == 0  # 75 minutes from then: not yet
    assert run_job(app, now()) == 1
    assert run_job(app, now()) == 0
    [row] = notification_rows(app, citizen.id)
    assert row["kind"] == "voucher_expiring"
    assert row["dedupe_key"] == voucher_expiring_key(voucher["id"])
    assert row["data"]["redemption_id"] == voucher["id"]
    assert row["data"]["reward_title"] == reward["title"] and row["data"]["points"] == 100
    [(event_type, data, kwargs)] = emitted
    assert event_type == "voucher.expiring" and data["redemption_id"] == voucher["id"]
    assert kwargs["user_id"] == citizen.id
    assert str(kwargs["partner_id"]) == reward["partner_id"]


def test_a_redeemed_cancelled_or_lapsed_voucher_is_not_announced(app, actors, client):
    citizen, staff, _, used = _reserve(client, actors, app)
    r = client.post(CONFIRM, json={"voucher_code": used["voucher_code"]}, headers=staff.headers)
    assert r.status_code == 200, r.json
    other, _, _, dropped = _reserve(client, actors, app)
    r = client.post(f"{REDEMPTIONS}/{dropped['id']}/cancel", headers=other.headers)
    assert r.status_code == 200, r.json
    assert run_job(app, now()) == 0
    _reserve(client, actors, app)
    assert run_job(app, now() + dt.timedelta(hours=2)) == 0  # past its end: expired, not news
    assert notification_rows(app) == []


def test_notify_writes_once_per_dedupe_key_for_other_services(app, actors):
    citizen = actors.user("citizen")
    with app.app_context():
        first = service.notify(user_id=citizen.id, kind="review_decided",
                               data={"action_id": "a", "decision": "approved"},
                               dedupe_key="review_decided:a")
        again = service.notify(user_id=citizen.id, kind="review_decided",
                               data={"action_id": "a", "decision": "approved"},
                               dedupe_key="review_decided:a")
        with pytest.raises(ValueError):
            service.notify(user_id=citizen.id, kind="made_up", data={}, dedupe_key="x")
        with pytest.raises(ValueError):
            service.notify(user_id=citizen.id, kind="review_decided", data={}, dedupe_key="")
        db.session.remove()
    assert first is not None and again is None
    assert [r["id"] for r in notification_rows(app)] == [first]


def test_read_notifications_are_purged_after_their_retention(app, actors):
    from carbon_credits.services import privacy
    citizen = actors.user("citizen")
    earn(app, citizen.id, 1)
    earn(app, citizen.id, 1, days_after_base=3)
    earn(app, citizen.id, 1, days_after_base=6)
    assert run_job(app, job_now(10)) == 3
    with app.app_context():
        rows = list(db.session.scalars(select(Notification).order_by(Notification.dedupe_key)))
        rows[0].read_at = job_now(45)  # read 35 days before `now` below: purged
        rows[1].read_at = job_now(20)  # read 10 days before: kept
        db.session.commit()
        kept = {rows[1].id, rows[2].id}
        assert privacy.purge_expired_personal_data(now=job_now(10)) >= 1
        assert set(db.session.scalars(select(Notification.id))) == kept
        # Unread, but 180 days old: purged too.
        service.purge_notifications(now=job_now(10) + dt.timedelta(days=181))
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 0
        db.session.remove()
