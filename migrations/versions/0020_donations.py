"""donations: public-good projects, their ledger accounts, and citizens' donations of points

The ledger gains an account kind, `project` (one per project; like the system accounts it keeps
no running balance, so donors never queue on it), and a transfer kind, `donate` (citizen ->
project). The CHECKs widen as in 0015 (`models.ddl.replace_checks`; every existing row satisfies
the wider ones). `public_projects` holds each project and its running total, `donations` each
gift with the transfer that carried it.

Downgrading drops the two tables and the accounts of projects nobody gave to; once a `donate`
transfer exists the downgrade is refused before anything is dropped (ledger history is never
deleted to make a downgrade pass).

Revision ID: 0020
Revises: 0019
"""
from alembic import op
import sqlalchemy as sa

import models.base
from models.ddl import replace_checks

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

CHANGES = [
    ("ledger_accounts", "ck_ledger_accounts_known_kind",
     "kind IN ('citizen', 'merchant', 'issuance', 'holds', 'expiry', 'forfeiture')",
     "kind IN ('citizen', 'merchant', 'issuance', 'holds', 'expiry', 'forfeiture', 'project')"),
    ("ledger_transfers", "ck_ledger_transfers_known_kind",
     "kind IN ('earn', 'reserve', 'release', 'redeem', 'expire', 'reversal', 'adjustment', 'forfeit')",
     "kind IN ('earn', 'reserve', 'release', 'redeem', 'expire', 'reversal', 'adjustment', 'forfeit', 'donate')"),
]


def upgrade():
    replace_checks(CHANGES)
    op.create_table('public_projects',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('beneficiary', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('region', sa.String(length=6), nullable=True),
    sa.Column('target_points', sa.BigInteger(), nullable=False),
    sa.Column('donated_points', sa.BigInteger(), nullable=False),
    sa.Column('donations', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('open', 'completed', 'closed')", name=op.f('ck_public_projects_known_status')),
    sa.CheckConstraint('target_points BETWEEN 1 AND 1000000000000000', name=op.f('ck_public_projects_target_range')),
    sa.CheckConstraint('donated_points BETWEEN 0 AND target_points', name=op.f('ck_public_projects_donated_within_target')),
    sa.CheckConstraint('donations >= 0', name=op.f('ck_public_projects_donations_counted')),
    sa.CheckConstraint("(status = 'open') = (ended_at IS NULL)", name=op.f('ck_public_projects_ended_iff_not_open')),
    sa.CheckConstraint("status <> 'completed' OR donated_points = target_points", name=op.f('ck_public_projects_completed_at_target')),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_public_projects_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_public_projects_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_public_projects')),
    sa.UniqueConstraint('account_id', name=op.f('uq_public_projects_account_id')))
    op.create_index('ix_public_projects_created', 'public_projects', ['created_at', 'id'])
    op.create_table('donations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('transfer_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('points BETWEEN 1 AND 1000000000000', name=op.f('ck_donations_points_range')),
    sa.ForeignKeyConstraint(['project_id'], ['public_projects.id'], name=op.f('fk_donations_project_id_public_projects')),
    sa.ForeignKeyConstraint(['transfer_id'], ['ledger_transfer_keys.id'], name=op.f('fk_donations_transfer_id_ledger_transfer_keys')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_donations_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_donations')),
    sa.UniqueConstraint('transfer_id', name=op.f('uq_donations_transfer_id')))
    op.create_index('ix_donations_user', 'donations', ['user_id', 'created_at', 'id'])
    op.create_index('ix_donations_project', 'donations', ['project_id', 'user_id'])


def downgrade():
    given = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM ledger_transfers WHERE kind = 'donate'")).scalar()
    if given:  # checked before anything is dropped: SQLite's DDL here is not transactional
        raise RuntimeError(f"{given} donate transfers are on the ledger; a downgrade below 0020 "
                           "would have to delete ledger history, so it is refused")
    op.drop_index('ix_donations_project', table_name='donations')
    op.drop_index('ix_donations_user', table_name='donations')
    op.drop_table('donations')
    op.drop_index('ix_public_projects_created', table_name='public_projects')
    op.drop_table('public_projects')
    op.execute("DELETE FROM ledger_accounts WHERE kind = 'project' AND NOT EXISTS ("
               "SELECT 1 FROM ledger_transfers t WHERE t.credit_account_id = ledger_accounts.id "
               "OR t.debit_account_id = ledger_accounts.id)")
    replace_checks([(table, name, wanted, now) for table, name, now, wanted in reversed(CHANGES)])
