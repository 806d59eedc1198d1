"""Webhook dispatchers racing on PostgreSQL (real connections, one per thread): each due delivery
is posted by one of them only, each new event fanned out once, and an outcome is recorded only
by the holder of the lease."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from models import WebhookDelivery, WebhookDeliveryAttempt, db
from tests.concurrency.support import race
from tests.webhooks_support import admin, emit, receiver, subscribe  # noqa: F401

pytestmark = pytest.mark.postgres


def _dispatch(app, now):
    from carbon_credits.services.webhooks.dispatch import dispatch_due
    with app.app_context():
        try:
            return dispatch_due(now=now)
        finally:
            db.session.remove()


def test_four_dispatchers_post_each_due_delivery_once(app, client, admin, receiver):
    hooks = [subscribe(client, admin, receiver.url_for("/hook"), ["*"]) for _ in range(2)]
    for i in range(30):
        emit(app, "action.credited", {"action_id": str(i)})
    now = dt.datetime.now(dt.timezone.utc)
    attempts = race(4, lambda i: _dispatch(app, now))
    assert all(isinstance(n, int) for n in attempts), attempts
    assert sum(attempts) == 60
    posted = [(r.headers["X-Webhook-Id"], r.headers["X-Event-Id"]) for r, _ in receiver.log]
    assert len(posted) == len(set(posted)) == 60
    assert {hook_id for hook_id, _ in posted} == {h["id"] for h in hooks}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 60
        assert db.session.scalar(select(func.count()).select_from(WebhookDeliveryAttempt)) == 60
        assert set(db.session.scalars(select(WebhookDelivery.status))) == {"delivered"}
        db.session.remove()


def test_a_dispatcher_that_lost_its_lease_records_nothing(app, client, admin, receiver):
    from carbon_credits.config import get_settings
    from carbon_credits.domain.webhooks import LEASE
    from carbon_credits.services.webhooks import dispatch
    subscribe(client, admin, receiver.url_for("/hook"), ["*"])
    emit(app, "lot.issued", {"lot_id": "L"})
    t0 = dt.datetime.now(dt.timezone.utc)
    with app.app_context():
        dispatch.fan_out(now=t0)
        [slow] = dispatch.claim_due(now=t0, limit=10)
        # The slow dispatcher's lease runs out; another claims the delivery and posts it.
        later = t0 + LEASE + dt.timedelta(seconds=1)
        [fast] = dispatch.claim_due(now=later, limit=10)
        assert (slow.delivery_id, slow.attempt_no + 1) == (fast.delivery_id, fast.attempt_no)
        settings = get_settings()
        outcomes = race(2, lambda i: _record(app, (slow, fast)[i], later, settings))
        assert outcomes == [False, True]
        row = db.session.get(WebhookDelivery, fast.delivery_id)
        assert row.status == "delivered" and row.lease_token is None
        assert [a.attempt_no for a in row.attempt_rows] == [2]
        db.session.remove()


def _record(app, claimed, now, settings):
    from carbon_credits.services.webhooks import dispatch
    with app.app_context():
        try:
            return dispatch.record_outcome(claimed, dispatch.post(claimed, settings=settings),
                                           now=now, settings=settings)
        finally:
            db.session.remove()
