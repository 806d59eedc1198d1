"""Migration 0016 (the verifier role, lot verification statements) down and up again on a
database with accounts: downgrading takes `verifier` away (audited) because the narrower checks
refuse it; upgrading widens the roles' checks and the one-privileged-role index, keeps every
trigger, and makes the statements append-only."""
from __future__ import annotations

import uuid

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from models import db


def _id(value: uuid.UUID) -> str | uuid.UUID:
    return value.hex if db.engine.dialect.name == "sqlite" else value


def _trigger_names() -> set[str]:
    query = ("SELECT name FROM sqlite_master WHERE type = 'trigger'" if db.engine.dialect.name == "sqlite"
             else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
    with db.engine.connect() as conn:
        return {name for (name,) in conn.execute(text(query))}


def _add_role(user_id: uuid.UUID, role: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO user_roles (user_id, role) VALUES (:u, :r)"),
                     {"u": _id(user_id), "r": role})


def _roles() -> list[tuple[str, str]]:
    with db.engine.connect() as conn:
        return sorted((str(u), r) for u, r in conn.execute(text("SELECT user_id, role FROM user_roles")))


def test_down_and_up_again_keeps_accounts_and_constraints(app, actors):
    directory = app.extensions["migrate"].directory
    verifier, citizen, admin = actors.user("verifier"), actors.user("citizen"), actors.user("admin")
    with app.app_context():
        triggers_before = _trigger_names()
        roles_before = _roles()
        downgrade(directory=directory, revision="0015")
        db.session.remove()
        try:
            assert "certificate_lot_verifications" not in inspect(db.engine).get_table_names()
            with db.engine.connect() as conn:
                audited = [row.object_id for row in conn.execute(text(
                    "SELECT object_id FROM audit_log WHERE action = 'user.verifier_removed_by_migration'"))]
            roles_down = _roles()
            with pytest.raises(IntegrityError):  # the narrower check
                _add_role(citizen.id, "verifier")
        finally:
            upgrade(directory=directory)
        _add_role(citizen.id, "verifier")
        with pytest.raises(IntegrityError):  # one privileged role per account, verifier included
            _add_role(admin.id, "verifier")
        with pytest.raises(IntegrityError):
            _add_role(citizen.id, "auditor")
        triggers_after = _trigger_names()
        db.session.remove()

    assert audited == [str(verifier.id)]
    assert roles_down == [r for r in roles_before if r[1] != "verifier"]
    assert len(roles_before) == 3 and len(roles_down) == 2
    # SQLite rebuilds user_roles and role_grants in batch mode: no trigger may be lost, and the
    # statements are append-only again (test_lot_verifications proves the triggers refuse).
    assert triggers_after == triggers_before
    assert {t for t in triggers_after if t.startswith("certificate_lot_verifications")} in (
        {"certificate_lot_verifications_append_only"},
        {"certificate_lot_verifications_no_update", "certificate_lot_verifications_no_delete"})
