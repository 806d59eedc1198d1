"""Migration 0020 (donations) down and up again: with projects but no gift the tables go and come
back and the ledger's triggers stay; once a `donate` transfer exists the downgrade is refused
before anything is dropped."""
from __future__ import annotations

import importlib.util
import pathlib

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from models import db
from tests.donations_support import create_project
from tests.integration.test_migration_0016 import _trigger_names
from tests.integration.test_migration_0017 import VERIFIABILITY_TABLES
from tests.rewards_support import citizen_with_points

_SCRIPT = pathlib.Path(__file__).parents[2] / "migrations" / "versions" / "0020_donations.py"


def _previous_revision() -> str:
    spec = importlib.util.spec_from_file_location("migration_0020", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.down_revision


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def test_down_and_up_again_without_gifts(app, client, actors):
    directory = app.extensions["migrate"].directory
    create_project(client, actors.user("admin"))
    with app.app_context():
        triggers_before = _trigger_names()
        downgrade(directory=directory, revision=_previous_revision())
        db.session.remove()
        try:
            assert not {"public_projects", "donations"} & _tables()
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM ledger_accounts "
                                         "WHERE kind = 'project'")).scalar() == 0
            with pytest.raises(IntegrityError):  # the narrowed CHECK is back
                with db.engine.begin() as conn:
                    conn.execute(text("INSERT INTO ledger_accounts (kind, balance, reserved, "
                                      "created_at) VALUES ('project', 0, 0, CURRENT_TIMESTAMP)"))
            triggers_down = _trigger_names()
        finally:
            upgrade(directory=directory)
        db.session.remove()
        assert {"public_projects", "donations"} <= _tables()
        triggers_after = _trigger_names()
        db.session.remove()
    later = {t for t in triggers_before if t.startswith(VERIFIABILITY_TABLES)}  # 0021's
    assert triggers_down == triggers_before - later
    assert triggers_after == triggers_before


def test_downgrade_is_refused_once_points_were_given(app, client, actors):
    directory = app.extensions["migrate"].directory
    project = create_project(client, actors.user("admin"))
    citizen = citizen_with_points(actors, app, 100)
    r = client.post("/api/v1/me/donations", json={"project_id": project["id"], "points": 40},
                    headers=citizen.headers)
    assert r.status_code == 201
    with app.app_context():
        with pytest.raises(SystemExit):  # flask-migrate logs the RuntimeError and exits 1
            downgrade(directory=directory, revision=_previous_revision())
        db.session.remove()
        upgrade(directory=directory)  # later revisions that went down before the refusal
        db.session.remove()
        assert {"public_projects", "donations"} <= _tables()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT donated_points FROM public_projects")).scalar() == 40
        db.session.remove()
