"""Migration 0022 (outbound webhooks) down and up again: its five tables go and come back (empty),
every trigger is as before, and webhooks work again afterwards."""
from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import func, inspect, select

from models import WebhookSubscription, db
from tests.integration.test_migration_0016 import _trigger_names
from tests.webhooks_support import admin, dispatch, emit, receiver, subscribe  # noqa: F401

TABLES = ("webhook_subscriptions", "webhook_subscription_events", "webhook_events",
          "webhook_deliveries", "webhook_delivery_attempts")


def test_down_and_up_again(app, client, admin, receiver):
    subscribe(client, admin, receiver.url_for("/hook"), ["*"])
    emit(app, "lot.issued", {"lot_id": "L"})
    assert dispatch(app) == 1
    directory = app.extensions["migrate"].directory
    with app.app_context():
        triggers_before = _trigger_names()
        downgrade(directory=directory, revision="0021")
        db.session.remove()
        try:
            assert not set(TABLES) & set(inspect(db.engine).get_table_names())
        finally:
            upgrade(directory=directory)
        db.session.remove()
        assert set(TABLES) <= set(inspect(db.engine).get_table_names())
        assert db.session.scalar(select(func.count()).select_from(WebhookSubscription)) == 0
        db.session.remove()  # SQLite: the trigger listing needs the write lock
        triggers_after = _trigger_names()
        db.session.remove()
    # Later revisions' triggers go and come back with them; 0022 itself adds none.
    assert triggers_after == triggers_before
    assert not {t for t in triggers_before if t.startswith("webhook_")}
    # Working again after the round trip.
    hook = subscribe(client, admin, receiver.url_for("/hook"), ["lot.issued"])
    emit(app, "lot.issued", {"lot_id": "M"})
    assert dispatch(app) == 1
    assert receiver.log[-1][0].headers["X-Webhook-Id"] == hook["id"]
