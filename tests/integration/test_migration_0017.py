"""Migration 0017 (districts) down and up again on a database with citizens, actions and a
district auditor: no table is rebuilt (every trigger of `actions` and the key tables stays), the
region columns go and come back, and their CHECKs hold again."""
from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from models import db
from tests.integration.test_migration_0016 import _id, _trigger_names

REGION_TABLES = ("users", "partners", "actions", "report_exports", "user_roles", "role_grants")


def _columns(table: str) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns(table)}


def _count_users() -> int:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM users")).scalar()


# Created by later revisions: 0018 (the filing guard), 0019 (events, append-only; PostgreSQL
# names one trigger per table, SQLite two), 0021 (the verifiability tables, append-only).
VERIFIABILITY_TABLES = ("signed_chain_heads", "certificate_lot_manifests", "retirement_certificates",
                        "retirement_certificate_blocks")
LATER_TRIGGERS = {f"{table}_{suffix}" for table in VERIFIABILITY_TABLES
                  for suffix in ("append_only", "no_update", "no_delete")} | {"methodology_versions_filing",
                  "carbon_events_append_only", "carbon_events_no_update", "carbon_events_no_delete",
                  "carbon_event_retirements_append_only", "carbon_event_retirements_no_update",
                  "carbon_event_retirements_no_delete"}


def test_down_and_up_again_keeps_triggers_and_rows(app, actors):
    directory = app.extensions["migrate"].directory
    citizen = actors.user("citizen")
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE users SET region = '320505' WHERE id = :u"), {"u": _id(citizen.id)})
        triggers_before = _trigger_names()
        users_before = _count_users()
        downgrade(directory=directory, revision="0016")
        db.session.remove()
        try:
            names = inspect(db.engine).get_table_names()
            assert "user_regions" not in names and "partner_stations" not in names
            assert all("region" not in _columns(t) for t in REGION_TABLES)
            assert "region_since" not in _columns("users")
            triggers_down = _trigger_names()
        finally:
            upgrade(directory=directory)
        db.session.remove()
        assert all("region" in _columns(t) for t in REGION_TABLES)
        with pytest.raises(IntegrityError):  # the registry's CHECK is back
            with db.engine.begin() as conn:
                conn.execute(text("UPDATE users SET region = '999999' WHERE id = :u"),
                             {"u": _id(citizen.id)})
        with pytest.raises(IntegrityError):  # only admins and auditors are scoped
            with db.engine.begin() as conn:
                conn.execute(text("UPDATE user_roles SET region = '320505' WHERE user_id = :u"),
                             {"u": _id(citizen.id)})
        users_after = _count_users()
        triggers_after = _trigger_names()
        db.session.remove()
    # 0017 rebuilds nothing: going down to 0016 loses only the triggers later revisions
    # created (0018's filing guard, 0019's append-only tables), and coming back restores every one.
    assert triggers_down == triggers_before - LATER_TRIGGERS
    assert LATER_TRIGGERS & triggers_before
    assert triggers_after == triggers_before
    assert users_after == users_before
