"""Migration 0010 on a database where an account already holds admin and auditor: it keeps
admin, loses auditor, and the loss is in the audit log; the partial unique index then holds."""
from __future__ import annotations

import uuid

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from models import db


def test_upgrade_splits_admin_auditors_and_audits_it(app):
    directory = app.extensions["migrate"].directory
    user_id = uuid.uuid4()
    with app.app_context():
        downgrade(directory=directory, revision="0009")
        db.session.remove()
        try:
            uid = user_id.hex if db.engine.dialect.name == "sqlite" else str(user_id)
            with db.engine.begin() as conn:
                conn.execute(text("INSERT INTO users (id, email, display_name, password_hash, created_at) "
                                  "VALUES (:id, 'both@example.test', 'both', 'x', CURRENT_TIMESTAMP)"),
                             {"id": uid})
                for role in ("admin", "auditor", "citizen"):
                    conn.execute(text("INSERT INTO user_roles (user_id, role) VALUES (:id, :role)"),
                                 {"id": uid, "role": role})
        finally:
            upgrade(directory=directory)
        with db.engine.connect() as conn:
            roles = {r for (r,) in conn.execute(text("SELECT role FROM user_roles WHERE user_id = :id"),
                                                {"id": uid})}
            audit = conn.execute(text("SELECT action, actor_user_id FROM audit_log WHERE object_id = :id"),
                                 {"id": str(user_id)}).all()
        assert roles == {"admin", "citizen"}
        assert [tuple(a) for a in audit] == [("user.auditor_removed_by_migration", None)]
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(text("INSERT INTO user_roles (user_id, role) VALUES (:id, 'auditor')"),
                         {"id": uid})
        db.session.remove()
