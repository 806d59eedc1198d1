"""Migration 0027 (bonus reversals) down and up again: with a paid bonus but no reversal the two
claim columns go and come back (the claim keeps its points), the `bonus_reversal` kind is refused
again below it, and the ledger's triggers stay; once a `bonus_reversal` transfer exists the
downgrade is refused before anything changes."""
from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from models import db
from tests.api.test_actions import seeded  # noqa: F401
from tests.api.test_engagement import CHECK_INS, MINE, create_campaign
from tests.api.test_insights import walk
from tests.integration.test_migration_0016 import _trigger_names

COLUMNS = {"clawed_back_points", "shortfall_points"}


def _claim_columns() -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("campaign_claims")}


def _check_ins_bonus(app, client, actors) -> None:
    campaign = create_campaign(client, app, actors.user("admin"),
                               kind="check_in_streak", action_type=None, mode=None, target=1)
    citizen = actors.user("citizen")
    client.post(CHECK_INS, headers=citizen.headers)
    assert client.post(f"{MINE}/{campaign['id']}/claim", headers=citizen.headers).status_code == 201


def test_down_and_up_again_without_bonus_reversals(app, client, actors):
    directory = app.extensions["migrate"].directory
    _check_ins_bonus(app, client, actors)
    with app.app_context():
        triggers_before = _trigger_names()
        assert COLUMNS <= _claim_columns()
        downgrade(directory=directory, revision="0026")
        db.session.remove()
        try:
            assert not COLUMNS & _claim_columns()
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT points FROM campaign_claims")).scalar() == 50
                bonuses = conn.execute(text(
                    "SELECT count(*) FROM ledger_transfers WHERE kind = 'bonus'")).scalar()
            assert bonuses == 1
            triggers_down = _trigger_names()
        finally:
            upgrade(directory=directory)
        db.session.remove()
        assert COLUMNS <= _claim_columns()
        with db.engine.connect() as conn:
            assert conn.execute(text(
                "SELECT clawed_back_points + shortfall_points FROM campaign_claims")).scalar() == 0
        triggers_after = _trigger_names()
        db.session.remove()
    assert triggers_down == triggers_before == triggers_after


def test_downgrade_is_refused_once_a_bonus_was_reversed(app, client, actors, seeded):  # noqa: F811
    directory = app.extensions["migrate"].directory
    admin, citizen = actors.user("admin"), actors.user("citizen")
    campaign = create_campaign(client, app, admin, target=1)
    done = walk(client, citizen, 2)
    assert client.post(f"{MINE}/{campaign['id']}/claim", headers=citizen.headers).status_code == 201
    r = client.post(f"/api/v1/admin/actions/{done['id']}/reverse", json={"reason": "fake"},
                    headers=actors.user("auditor").headers)
    assert r.status_code == 200, r.json
    with app.app_context():
        with pytest.raises(SystemExit):  # flask-migrate logs the RuntimeError and exits 1
            downgrade(directory=directory, revision="0026")
        db.session.remove()
        assert COLUMNS <= _claim_columns()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT clawed_back_points FROM campaign_claims")).scalar() == 50
        db.session.remove()
