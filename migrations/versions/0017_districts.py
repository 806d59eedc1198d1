"""districts: a region (GB/T 2260 code) on citizens, partners, stations and actions, and admins and
auditors scoped to one district

New columns, all nullable, each with its CHECK against the registry of Suzhou's codes
(`carbon_credits/domain/regions.py`, docs/districts.md): `users.region` (+ `region_since`),
`partners.region`, `actions.region`, `report_exports.region`, and `user_roles.region` /
`role_grants.region` (only an admin or auditor may carry one). New tables: `user_regions`, the
history of a citizen's choice, and `partner_stations`, a partner's stations and their district.

Not a batch anywhere: recreating `actions` (or the key tables) on SQLite would lose their
triggers and copy the largest table. Both backends add a column with its inline CHECK by
`ALTER TABLE ... ADD COLUMN` (on PostgreSQL it reaches every month partition of `actions`), and
drop it again with `ALTER TABLE ... DROP COLUMN` (SQLite 3.35+), which takes the CHECK with it.
Existing rows get no region: nobody chose one before this revision, and an action's region is
decided once, when it is recorded.

Downgrading drops the regions: district admins and auditors become city-wide ones unless the
role is removed first; the tables of history and stations are dropped.

Revision ID: 0017
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa

import models.base

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

# The registry as of this revision; a later change of codes widens these in its own migration.
_CODES = ('320505', '320506', '320507', '320508', '320509', '320571', '320581', '320582',
          '320583', '320585')
_KNOWN = "region IN (" + ", ".join(f"'{c}'" for c in _CODES) + ")"
_REGIONAL_ROLE = "region IS NULL OR role IN ('admin', 'auditor')"
# table -> extra CHECKs on its new `region` column besides `known_region`
_REGION_COLUMNS = {'users': {}, 'partners': {}, 'actions': {}, 'report_exports': {},
                   'user_roles': {'regional_role': _REGIONAL_ROLE},
                   'role_grants': {'regional_role': _REGIONAL_ROLE}}


def _add_region(table: str, checks: dict) -> None:
    clauses = [f"CONSTRAINT ck_{table}_known_region CHECK ({_KNOWN})"]
    clauses += [f"CONSTRAINT ck_{table}_{name} CHECK ({sql})" for name, sql in checks.items()]
    op.execute(f"ALTER TABLE {table} ADD COLUMN region VARCHAR(6) " + " ".join(clauses))


def upgrade():
    for table, checks in _REGION_COLUMNS.items():
        _add_region(table, checks)
    op.add_column('users', sa.Column('region_since', models.base.UTCDateTime(timezone=True),
                                     nullable=True))

    op.create_table('user_regions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('region', sa.String(length=6), nullable=True),
    sa.Column('valid_from', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_until', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint(_KNOWN, name=op.f('ck_user_regions_known_region')),
    sa.CheckConstraint('valid_until IS NULL OR valid_until >= valid_from', name=op.f('ck_user_regions_valid_period')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_regions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_regions'))
    )
    op.create_index('ix_user_regions_user_from', 'user_regions', ['user_id', 'valid_from'], unique=False)

    op.create_table('partner_stations',
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('station_id', sa.String(length=64), nullable=False),
    sa.Column('region', sa.String(length=6), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint(_KNOWN, name=op.f('ck_partner_stations_known_region')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_partner_stations_partner_id_partners')),
    sa.PrimaryKeyConstraint('partner_id', 'station_id', name=op.f('pk_partner_stations'))
    )


def downgrade():
    op.drop_table('partner_stations')
    op.drop_index('ix_user_regions_user_from', table_name='user_regions')
    op.drop_table('user_regions')
    op.execute("ALTER TABLE users DROP COLUMN region_since")
    for table in reversed(list(_REGION_COLUMNS)):
        op.execute(f"ALTER TABLE {table} DROP COLUMN region")
