"""Migrations: one head, upgrade from empty, and models agree with the migrated schema."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from models import db


def _script(app):
    config = Config()
    config.set_main_option("script_location", app.extensions["migrate"].directory)
    return ScriptDirectory.from_config(config)


def test_single_alembic_head(app):
    assert len(_script(app).get_heads()) == 1


def test_database_is_at_head(app):
    with app.app_context():
        with db.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_heads()
    assert set(current) == set(_script(app).get_heads())


def test_models_and_migrations_agree(app):
    with app.app_context():
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "render_as_batch": True})
            diff = compare_metadata(ctx, db.metadata)
    assert diff == [], diff


def test_audit_log_is_append_only(app, actors):
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError
    actors.user("citizen")  # writes an audit row
    with app.app_context():
        for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError):
                db.session.execute(text(statement))
            db.session.rollback()
