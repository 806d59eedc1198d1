"""households: the `household_energy` action type metered by `utility` partners, the
`metered_baseline` calculator family, households and their members, monthly meter readings

The allowed values widen as in 0015 (`models.ddl.replace_checks`: in place on PostgreSQL, the
stored CREATE TABLE edited on SQLite); the new tables are created; a binding gains the
household its utility account is bound for.

Methodology versions gain their filing record (备案: number, authority, date, expert review),
which a trigger lets be written once, in full, on an approved or retired version only, and
never changed. The immutability guard of approved versions (0002) leaves these columns free,
so this is their own guard. Columns are added in place (SQLite's ADD COLUMN; a rebuild would
drop the versions' triggers).

Revision ID: 0018
Revises: 0017
"""
from alembic import op
import sqlalchemy as sa

import models.base
from models.ddl import edit_sqlite_tables, replace_checks

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

_TYPES_OLD = "action_type IN ('transit', 'ev_charging', 'waste_sorting', 'everyday')"
_TYPES_NEW = "action_type IN ('transit', 'ev_charging', 'waste_sorting', 'everyday', 'household_energy')"
_TRANSIT = "mode IN ('metro', 'bus', 'bike', 'walk')"
_SCENES = "mode IN ('no_cutlery', 'own_bag', 'e_receipt', 'clothing_kiosk')"
_UTILITIES = "mode IN ('electricity', 'water')"
_PLAIN = "action_type IN ('ev_charging', 'waste_sorting')"

# (table, constraint, the check before, the check after): the texts the models build.
CHANGES = [
    ("partners", "ck_partners_known_kind",
     "kind IN ('merchant', 'transit_operator', 'charging_operator', 'recycling_operator', 'merchant_pos', 'enterprise_buyer')",
     "kind IN ('merchant', 'transit_operator', 'charging_operator', 'recycling_operator', 'merchant_pos', 'utility', 'enterprise_buyer')"),
    ("methodologies", "ck_methodologies_known_action_type", _TYPES_OLD, _TYPES_NEW),
    ("methodologies", "ck_methodologies_scope_mode",
     f"(action_type = 'transit' AND {_TRANSIT}) OR (action_type = 'everyday' AND {_SCENES}) "
     f"OR ({_PLAIN} AND mode IS NULL)",
     f"(action_type = 'transit' AND {_TRANSIT}) OR (action_type = 'everyday' AND {_SCENES}) "
     f"OR (action_type = 'household_energy' AND {_UTILITIES}) OR ({_PLAIN} AND mode IS NULL)"),
    ("methodology_versions", "ck_methodology_versions_known_family",
     "family IN ('transit_distance', 'transit_boarding', 'ev_charging', 'recyclables', 'per_event')",
     "family IN ('transit_distance', 'transit_boarding', 'ev_charging', 'recyclables', 'per_event', 'metered_baseline')"),
    ("partner_scopes", "ck_partner_scopes_known_action_type", _TYPES_OLD, _TYPES_NEW),
    ("partner_scopes", "ck_partner_scopes_known_mode",
     f"(action_type = 'transit' AND (mode IS NULL OR {_TRANSIT})) "
     f"OR (action_type = 'everyday' AND (mode IS NULL OR {_SCENES})) "
     f"OR ({_PLAIN} AND mode IS NULL)",
     f"(action_type = 'transit' AND (mode IS NULL OR {_TRANSIT})) "
     f"OR (action_type = 'everyday' AND (mode IS NULL OR {_SCENES})) "
     f"OR (action_type = 'household_energy' AND (mode IS NULL OR {_UTILITIES})) "
     f"OR ({_PLAIN} AND mode IS NULL)"),
    ("actions", "ck_actions_known_action_type", _TYPES_OLD, _TYPES_NEW),
]


def _households() -> None:
    op.create_table('households',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('holder_id', sa.Uuid(), nullable=False),
    sa.Column('split_rule', sa.String(length=16), nullable=False),
    sa.Column('invitation_hash', sa.String(length=64), nullable=True),
    sa.Column('invitation_expires_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("split_rule IN ('equal', 'shares')", name=op.f('ck_households_known_split_rule')),
    sa.ForeignKeyConstraint(['holder_id'], ['users.id'], name=op.f('fk_households_holder_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_households')))
    op.create_table('household_members',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('share', sa.Integer(), nullable=False),
    sa.Column('joined_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('left_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('share BETWEEN 1 AND 100', name=op.f('ck_household_members_share_range')),
    sa.CheckConstraint('left_at IS NULL OR left_at >= joined_at', name=op.f('ck_household_members_left_after_joining')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_household_members_household_id_households')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_household_members_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_members')))
    op.create_index('ix_household_members_household', 'household_members', ['household_id', 'joined_at'])
    op.create_index('uq_household_members_one_home', 'household_members', ['user_id'], unique=True,
                    postgresql_where=sa.text('left_at IS NULL'), sqlite_where=sa.text('left_at IS NULL'))


def _meter_readings() -> None:
    op.create_table('meter_readings',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('external_id', sa.String(length=120), nullable=False),
    sa.Column('account_hash', sa.String(length=64), nullable=False),
    sa.Column('binding_id', sa.Uuid(), nullable=True),
    sa.Column('household_id', sa.Uuid(), nullable=True),
    sa.Column('utility', sa.String(length=16), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('consumption_milli', sa.BigInteger(), nullable=False),
    sa.Column('estimated', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('reduction_mg', sa.BigInteger(), nullable=True),
    sa.Column('received_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("utility IN ('electricity', 'water')", name=op.f('ck_meter_readings_known_utility')),
    sa.CheckConstraint("status IN ('credited', 'rejected', 'history')", name=op.f('ck_meter_readings_known_status')),
    sa.CheckConstraint('consumption_milli BETWEEN 0 AND 1000000000000', name=op.f('ck_meter_readings_consumption_range')),
    sa.CheckConstraint('reduction_mg IS NULL OR reduction_mg BETWEEN 0 AND 10000000000000', name=op.f('ck_meter_readings_reduction_range')),
    sa.CheckConstraint("status <> 'credited' OR (household_id IS NOT NULL AND reduction_mg IS NOT NULL)", name=op.f('ck_meter_readings_credited_complete')),
    sa.ForeignKeyConstraint(['binding_id'], ['bindings.id'], name=op.f('fk_meter_readings_binding_id_bindings')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_meter_readings_household_id_households')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_meter_readings_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meter_readings')))
    op.create_index('uq_meter_readings_external_id', 'meter_readings', ['partner_id', 'external_id'], unique=True)
    op.create_index('uq_meter_readings_month', 'meter_readings', ['partner_id', 'account_hash', 'utility', 'period'], unique=True)


FILING = ("filing_number", "filing_authority", "filed_on", "expert_review_ref", "filed_by",
          "filed_at")
_FILED_BY_FK = " CONSTRAINT fk_methodology_versions_filed_by_users REFERENCES users (id)"
_HOUSEHOLD_FK = " CONSTRAINT fk_bindings_household_id_households REFERENCES households (id)"
_FILING_REQUIRED = ("filing_number", "filing_authority", "filed_on", "filed_by", "filed_at")


def _filing_guard_condition(new: str, old: str, distinct: str) -> str:
    changed = " OR ".join(f"{new}.{c} {distinct} {old}.{c}" for c in FILING)
    incomplete = " OR ".join(f"{new}.{c} IS NULL" for c in _FILING_REQUIRED)
    return (f"({old}.filing_number IS NOT NULL AND ({changed})) OR "
            f"({old}.filing_number IS NULL AND {new}.filing_number IS NOT NULL AND ("
            f"{new}.status NOT IN ('approved', 'retired') OR {incomplete})) OR "
            f"({new}.filing_number IS NULL AND {new}.filed_at IS NOT NULL)")


def _filing() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for name, kind in (('filing_number', sa.String(64)), ('filing_authority', sa.String(200)),
                           ('filed_on', sa.Date()), ('expert_review_ref', sa.String(200)),
                           ('filed_by', sa.Uuid()),
                           ('filed_at', models.base.UTCDateTime(timezone=True))):
            op.add_column('methodology_versions', sa.Column(name, kind, nullable=True))
        op.create_foreign_key(op.f('fk_methodology_versions_filed_by_users'),
                              'methodology_versions', 'users', ['filed_by'], ['id'])
        op.execute(f"""
            CREATE FUNCTION methodology_filing_guard() RETURNS trigger AS $$
            BEGIN
                IF {_filing_guard_condition('NEW', 'OLD', 'IS DISTINCT FROM')} THEN
                    RAISE EXCEPTION 'the filing record of methodology version % is written once, in full, on an approved version', OLD.id
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql""")
        op.execute("CREATE TRIGGER methodology_versions_filing BEFORE UPDATE ON methodology_versions "
                   "FOR EACH ROW EXECUTE FUNCTION methodology_filing_guard()")
        return
    for column in ('filing_number VARCHAR(64)', 'filing_authority VARCHAR(200)', 'filed_on DATE',
                   'expert_review_ref VARCHAR(200)',
                   f'filed_by CHAR(32){_FILED_BY_FK}', 'filed_at DATETIME'):
        op.execute(f"ALTER TABLE methodology_versions ADD COLUMN {column}")
    op.execute(f"""
        CREATE TRIGGER methodology_versions_filing BEFORE UPDATE ON methodology_versions
        WHEN {_filing_guard_condition('NEW', 'OLD', 'IS NOT')}
        BEGIN SELECT RAISE(ABORT, 'the filing record is written once, in full, on an approved version'); END""")


def _drop_filing() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS methodology_versions_filing ON methodology_versions")
        op.execute("DROP FUNCTION IF EXISTS methodology_filing_guard()")
        op.drop_constraint(op.f('fk_methodology_versions_filed_by_users'), 'methodology_versions',
                           type_='foreignkey')
    else:
        op.execute("DROP TRIGGER IF EXISTS methodology_versions_filing")
        # SQLite drops no column a foreign key names: the constraint goes first (ddl).
        edit_sqlite_tables([('methodology_versions', _FILED_BY_FK, '')])
    for column in reversed(FILING):
        op.execute(f"ALTER TABLE methodology_versions DROP COLUMN {column}")


def upgrade():
    replace_checks(CHANGES)
    _households()
    _meter_readings()
    _binding_household()
    _filing()


def _binding_household() -> None:
    """A nullable column with its foreign key. SQLite adds both in one ALTER TABLE (a batch
    rebuild would be needed for a separate constraint, and would lose the partial indexes)."""
    if op.get_bind().dialect.name == 'postgresql':
        op.add_column('bindings', sa.Column('household_id', sa.Uuid(), nullable=True))
        op.create_foreign_key(op.f('fk_bindings_household_id_households'), 'bindings',
                              'households', ['household_id'], ['id'])
    else:
        op.execute(f'ALTER TABLE bindings ADD COLUMN household_id CHAR(32){_HOUSEHOLD_FK}')


def downgrade():
    # First, so that rows of the new kinds stop the downgrade before anything is dropped.
    replace_checks([(table, name, new, old) for table, name, old, new in CHANGES])
    _drop_filing()
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint(op.f('fk_bindings_household_id_households'), 'bindings', type_='foreignkey')
    else:
        edit_sqlite_tables([('bindings', _HOUSEHOLD_FK, '')])
    op.execute('ALTER TABLE bindings DROP COLUMN household_id')
    op.drop_table('meter_readings')
    op.drop_table('household_members')
    op.drop_table('households')
