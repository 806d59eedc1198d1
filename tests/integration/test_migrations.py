"""Migrations: one head, upgrade from empty, and models agree with the migrated schema."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from models import db
from models.partitions import is_partition


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


def _not_a_partition(obj, name, type_, reflected, compare_to):
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is None or not is_partition(table.name)


def test_models_and_migrations_agree(app):
    with app.app_context():
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={
                "compare_type": True, "render_as_batch": True,
                "include_object": _not_a_partition})
            diff = compare_metadata(ctx, db.metadata)
            dialect = conn.dialect.name
    if dialect == "sqlite":
        diff = [d for d in diff if _describe(d) not in SQLITE_KEEPS]
    described = [_describe(d) for d in diff]
    assert described == []


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


def _describe(diff) -> str:
    """One line per difference: what changes, on which table, and the columns (and target)."""
    kind, obj = diff[0], diff[-1]
    if kind in ("add_fk", "remove_fk"):
        target = obj.elements[0].target_fullname
        return f"{kind} {obj.table.name}.{obj.column_keys[0]} -> {target}"
    if kind in ("add_constraint", "remove_constraint", "add_index", "remove_index"):
        return f"{kind} {obj.table.name} ({', '.join(c.name for c in obj.columns)})"
    return repr(diff)


# SQLite does not partition (migration 0014): its transfers table keeps its own unique id and
# external_ref, and the references into transfers and actions keep pointing at them (changing
# them means rebuilding five append-only tables for nothing). The key tables exist and are
# written there too, so the same code reads them. The models describe PostgreSQL.
SQLITE_KEEPS = {
    "add_fk certificate_lot_actions.action_id -> action_keys.id",
    "add_fk ledger_adjustments.transfer_id -> ledger_transfer_keys.id",
    "add_fk ledger_lots.earn_transfer_id -> ledger_transfer_keys.id",
    "add_fk ledger_reversals.target_transfer_id -> ledger_transfer_keys.id",
    "add_fk ledger_reversals.transfer_id -> ledger_transfer_keys.id",
    "add_fk ledger_transfers.reversal_of -> ledger_transfer_keys.id",
    "remove_constraint ledger_transfers (external_ref)",
    "remove_constraint ledger_transfers (id)",
    "remove_fk certificate_lot_actions.action_id -> actions.id",
    "remove_fk ledger_adjustments.transfer_id -> ledger_transfers.id",
    "remove_fk ledger_lots.earn_transfer_id -> ledger_transfers.id",
    "remove_fk ledger_reversals.target_transfer_id -> ledger_transfers.id",
    "remove_fk ledger_reversals.transfer_id -> ledger_transfers.id",
    "remove_fk ledger_seals.transfer_seq -> ledger_transfers.seq",
    "remove_fk ledger_transfers.reversal_of -> ledger_transfers.id",
}


def _migration_modules():
    """Every migration module, oldest first."""
    import importlib.util
    import pathlib
    folder = pathlib.Path(__file__).resolve().parents[2] / "migrations" / "versions"
    for path in sorted(folder.glob("0*.py")):
        spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module


def test_widened_checks_are_the_models_checks():
    """Alembic does not compare CHECK constraints: the migrations that widen them (0015 and
    later, `CHANGES`) write the texts the models build from the vocabulary; the latest text of
    each must be the model's, so the two cannot drift."""
    model_checks = {(table.name, str(c.name).removeprefix(f"ck_{table.name}_")): str(c.sqltext)
                    for table in db.metadata.tables.values() for c in table.constraints
                    if c.__class__.__name__ == "CheckConstraint"}
    latest = {}
    for module in _migration_modules():
        for table, name, _, new in getattr(module, "CHANGES", ()):
            latest[(table, name.removeprefix(f"ck_{table}_"))] = new
    assert latest
    for key, new in latest.items():
        assert model_checks[key] == new, key


def test_every_mode_and_scene_fits_its_columns():
    """Scenes are stored in the `mode` columns: a name longer than the column would pass on
    SQLite and fail on PostgreSQL."""
    from carbon_credits.domain.vocabulary import SCOPE_MODES
    longest = max(len(mode) for modes in SCOPE_MODES.values() for mode in modes)
    for table in ("actions", "methodologies", "partner_scopes"):
        assert db.metadata.tables[table].c.mode.type.length >= longest, table
