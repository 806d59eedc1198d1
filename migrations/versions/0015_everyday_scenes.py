"""everyday scenes: the `everyday` action type, the `per_event` calculator family and the
`merchant_pos` partner kind

Only CHECK constraints change: each list of allowed values gains the new one, and the scope
checks of methodologies and partner scopes learn that `everyday` scopes are divided by scene
(stored in `mode`, as transit modes are). Every existing row satisfies the wider checks.

PostgreSQL drops and adds each constraint in place (on the partitioned `actions` the change
reaches every partition). SQLite cannot alter a CHECK; rebuilding `actions` and the ledger's
tables would drop their triggers, so the table's stored CREATE statement is edited instead, the
procedure SQLite documents for loosening a constraint ("Making Other Kinds Of Table Schema
Changes", https://www.sqlite.org/lang_altertable.html): only the text of the check changes, the
schema version is bumped, and an integrity check follows.

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

_TYPES_OLD = "action_type IN ('transit', 'ev_charging', 'waste_sorting')"
_TYPES_NEW = "action_type IN ('transit', 'ev_charging', 'waste_sorting', 'everyday')"
_TRANSIT = "mode IN ('metro', 'bus', 'bike', 'walk')"
_SCENES = "mode IN ('no_cutlery', 'own_bag', 'e_receipt', 'clothing_kiosk')"
_PLAIN = "action_type IN ('ev_charging', 'waste_sorting')"

# (table, constraint, the check before, the check after): the texts the models build
# (vocabulary.sql_in, vocabulary.scope_mode_check).
CHANGES = [
    ("partners", "ck_partners_known_kind",
     "kind IN ('merchant', 'transit_operator', 'charging_operator', 'recycling_operator', 'enterprise_buyer')",
     "kind IN ('merchant', 'transit_operator', 'charging_operator', 'recycling_operator', 'merchant_pos', 'enterprise_buyer')"),
    ("methodologies", "ck_methodologies_known_action_type", _TYPES_OLD, _TYPES_NEW),
    ("methodologies", "ck_methodologies_scope_mode",
     f"(action_type = 'transit' AND {_TRANSIT}) OR (action_type <> 'transit' AND mode IS NULL)",
     f"(action_type = 'transit' AND {_TRANSIT}) OR (action_type = 'everyday' AND {_SCENES}) "
     f"OR ({_PLAIN} AND mode IS NULL)"),
    ("methodology_versions", "ck_methodology_versions_known_family",
     "family IN ('transit_distance', 'transit_boarding', 'ev_charging', 'recyclables')",
     "family IN ('transit_distance', 'transit_boarding', 'ev_charging', 'recyclables', 'per_event')"),
    ("partner_scopes", "ck_partner_scopes_known_action_type", _TYPES_OLD, _TYPES_NEW),
    ("partner_scopes", "ck_partner_scopes_known_mode",
     f"mode IS NULL OR (action_type = 'transit' AND {_TRANSIT})",
     f"(action_type = 'transit' AND (mode IS NULL OR {_TRANSIT})) "
     f"OR (action_type = 'everyday' AND (mode IS NULL OR {_SCENES})) "
     f"OR ({_PLAIN} AND mode IS NULL)"),
    ("actions", "ck_actions_known_action_type", _TYPES_OLD, _TYPES_NEW),
]


def _postgresql(table: str, name: str, check: str) -> None:
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check})")


def _sqlite(changes: list[tuple[str, str, str]]) -> None:
    """Edit each table's stored CREATE TABLE: `CONSTRAINT name CHECK (old)` becomes `... (new)`."""
    bind = op.get_bind()
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    for table, name, old, new in changes:
        sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' "
                                   "AND name = :t"), {"t": table}).scalar()
        before, after = f"CONSTRAINT {name} CHECK ({old})", f"CONSTRAINT {name} CHECK ({new})"
        if sql.count(before) != 1:
            raise RuntimeError(f"{table}: the check {name} is not the one this migration expects")
        bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' "
                             "AND name = :t"), {"sql": sql.replace(before, after), "t": table})
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    result = bind.exec_driver_sql("PRAGMA integrity_check").scalar()
    if result != "ok":
        raise RuntimeError(f"integrity check after editing checks: {result}")


def _apply(changes: list[tuple[str, str, str, str]]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, name, _, check in changes:
            _postgresql(table, name, check)
    else:
        _sqlite(changes)


def upgrade():
    _apply(CHANGES)


def downgrade():
    # Rows of the new kinds must go first: the narrower checks would refuse them.
    _apply([(table, name, new, old) for table, name, old, new in CHANGES])
