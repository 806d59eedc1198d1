"""Migration 0025 (engagement) down and up again: with a campaign and check-ins but no bonus the
tables go and come back, the incentive account and the `bonus` kind are refused again, and the
ledger's triggers stay; once a `bonus` transfer exists the downgrade is refused before anything
is dropped."""
from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from models import db
from tests.api.test_engagement import CHECK_INS, MINE, create_campaign
from tests.integration.test_migration_0016 import _trigger_names

TABLES = {"campaigns", "campaign_claims", "check_ins"}


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def test_down_and_up_again_without_bonuses(app, client, actors):
    directory = app.extensions["migrate"].directory
    create_campaign(client, app, actors.user("admin"))
    assert client.post(CHECK_INS, headers=actors.user("citizen").headers).status_code == 201
    with app.app_context():
        triggers_before = _trigger_names()
        downgrade(directory=directory, revision="0024")
        db.session.remove()
        try:
            assert not TABLES & _tables()
            for sql in ("INSERT INTO ledger_accounts (kind, system_code, balance, reserved, "
                        "created_at) VALUES ('incentive', 'incentive', 0, 0, CURRENT_TIMESTAMP)",):
                with pytest.raises(IntegrityError):  # the narrowed CHECK is back
                    with db.engine.begin() as conn:
                        conn.execute(text(sql))
            triggers_down = _trigger_names()
        finally:
            upgrade(directory=directory)
        db.session.remove()
        assert TABLES <= _tables()
        triggers_after = _trigger_names()
        db.session.remove()
    assert triggers_down == triggers_before == triggers_after


def test_downgrade_is_refused_once_a_bonus_was_paid(app, client, actors):
    directory = app.extensions["migrate"].directory
    campaign = create_campaign(client, app, actors.user("admin"), kind="check_in_streak",
                               action_type=None, mode=None, target=1)
    citizen = actors.user("citizen")
    client.post(CHECK_INS, headers=citizen.headers)
    assert client.post(f"{MINE}/{campaign['id']}/claim", headers=citizen.headers).status_code == 201
    with app.app_context():
        with pytest.raises(SystemExit):  # flask-migrate logs the RuntimeError and exits 1
            downgrade(directory=directory, revision="0024")
        db.session.remove()
        upgrade(directory=directory)  # later revisions that went down before the refusal
        db.session.remove()
        assert TABLES <= _tables()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT spent_points FROM campaigns")).scalar() == 50
        db.session.remove()
