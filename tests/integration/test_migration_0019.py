"""Migration 0019 (carbon-neutral events) down and up again: the two tables go and come back
append-only, and no other trigger is touched (0019 only creates tables)."""
from __future__ import annotations

import uuid

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from models import db
from tests.integration.test_migration_0016 import _id, _trigger_names
from tests.integration.test_migration_0017 import VERIFIABILITY_TABLES

TABLES = ("carbon_events", "carbon_event_retirements")


def test_down_and_up_again_drops_and_restores_the_event_tables(app, actors):
    directory = app.extensions["migrate"].directory
    admin = actors.user("admin")
    buyer = actors.partner("enterprise_buyer")
    with app.app_context():
        triggers_before = _trigger_names()
        downgrade(directory=directory, revision="0018")
        db.session.remove()
        try:
            assert not set(TABLES) & set(inspect(db.engine).get_table_names())
            triggers_down = _trigger_names()
        finally:
            upgrade(directory=directory)
        db.session.remove()
        assert set(TABLES) <= set(inspect(db.engine).get_table_names())
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO carbon_events (id, name, kind, organiser, buyer_partner_id, starts_on, "
                "ends_on, footprint_g, footprint_basis, created_by, created_at) VALUES (:id, 'Fair', "
                "'exhibition', 'City', :buyer, '2026-05-01', '2026-05-03', 5000, 'meters', :admin, "
                "'2026-04-01 00:00:00')"),
                {"id": _id(uuid.uuid4()), "buyer": _id(buyer.id), "admin": _id(admin.id)})
        for statement in ("UPDATE carbon_events SET footprint_g = 1", "DELETE FROM carbon_events"):
            with pytest.raises(DBAPIError):
                with db.engine.begin() as conn:
                    conn.execute(text(statement))
        with pytest.raises(DBAPIError):  # a footprint is at least one gram
            with db.engine.begin() as conn:
                conn.execute(text(
                    "INSERT INTO carbon_events (id, name, kind, organiser, buyer_partner_id, "
                    "starts_on, ends_on, footprint_g, footprint_basis, created_by, created_at) "
                    "VALUES (:id, 'Fair', 'exhibition', 'City', :buyer, '2026-05-01', "
                    "'2026-05-03', 0, 'meters', :admin, '2026-04-01 00:00:00')"),
                    {"id": _id(uuid.uuid4()), "buyer": _id(buyer.id), "admin": _id(admin.id)})
        triggers_after = _trigger_names()
        db.session.remove()
    created = {t for t in triggers_before if t.startswith(TABLES)}
    assert created in ({"carbon_events_append_only", "carbon_event_retirements_append_only"},
                       {"carbon_events_no_update", "carbon_events_no_delete",
                        "carbon_event_retirements_no_update", "carbon_event_retirements_no_delete"})
    later = {t for t in triggers_before if t.startswith(VERIFIABILITY_TABLES)}  # 0021's
    assert triggers_down == triggers_before - created - later
    assert triggers_after == triggers_before
