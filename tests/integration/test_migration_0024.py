"""Migration 0024 (merchant desk) down and up again: the reward's category and image URL and the
user's `merchant_lead` go and come back with their CHECKs; rewards and users made before keep
their rows (category `other`, no image, nobody a lead); no trigger of theirs is touched."""
from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from models import db
from tests.integration.test_migration_0016 import _trigger_names
from tests.rewards_support import create_reward, merchant


def _columns(table: str) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns(table)}


def _refused(statement: str) -> None:
    with pytest.raises(IntegrityError):
        with db.engine.begin() as conn:
            conn.execute(text(statement))


def test_down_and_up_again_keeps_rewards_and_staff(app, client, actors):
    directory = app.extensions["migrate"].directory
    _, staff = merchant(actors)
    actors.user("citizen")  # no merchant: cannot lead
    reward = create_reward(client, staff, category="culture",
                           image_url="https://cdn.example.com/a.png")
    with app.app_context():
        triggers_before = _trigger_names()
        downgrade(directory=directory, revision="0023")
        db.session.remove()
        try:
            assert not {"category", "image_url"} & _columns("rewards")
            assert "merchant_lead" not in _columns("users")
            triggers_down = _trigger_names()
        finally:
            upgrade(directory=directory)
        db.session.remove()
        assert {"category", "image_url"} <= _columns("rewards")
        with db.engine.connect() as conn:
            row = conn.execute(text("SELECT category, image_url FROM rewards WHERE title = "
                                    "'Oat latte'")).one()
            leads = conn.execute(text("SELECT count(*) FROM users WHERE merchant_lead")).scalar()
        assert tuple(row) == ("other", None) and leads == 0
        _refused("UPDATE rewards SET category = 'weapons'")
        _refused("UPDATE rewards SET image_url = 'http://cdn.example.com/a.png'")
        _refused("UPDATE users SET merchant_lead = true WHERE partner_id IS NULL")
        triggers_after = _trigger_names()
        db.session.remove()
    assert triggers_after == triggers_before
    # Only later revisions' triggers go with them (0025 and on); none of the tables 0024 alters.
    lost = triggers_before - triggers_down
    assert not {t for t in lost if t.startswith(("rewards", "users", "redemptions"))}
    r = client.get(f"/api/v1/rewards/{reward['id']}")
    assert r.status_code == 200 and r.json["category"] == "other"
