"""actions

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

import models.base
from models.ddl import drop_append_only, make_append_only  # noqa: F401

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

MAX_MG = 10**13


def upgrade():
    op.create_table(
        'actions',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('partner_id', sa.Uuid(), nullable=True),
        sa.Column('external_id', sa.String(length=128), nullable=True),
        sa.Column('action_type', sa.String(length=16), nullable=False),
        sa.Column('mode', sa.String(length=16), nullable=True),
        sa.Column('category', sa.String(length=16), nullable=True),
        sa.Column('scope_key', sa.String(length=64), nullable=False),
        sa.Column('occurred_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('started_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('ended_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('scheme_day', sa.Date(), nullable=False),
        sa.Column('inputs', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('reasons', sa.JSON(), nullable=False),
        sa.Column('methodology_version_id', sa.Uuid(), nullable=True),
        sa.Column('methodology_code', sa.String(length=64), nullable=True),
        sa.Column('methodology_version', sa.Integer(), nullable=True),
        sa.Column('breakdown', sa.JSON(), nullable=True),
        sa.Column('reduction_mg', sa.BigInteger(), nullable=True),
        sa.Column('credited_mg', sa.BigInteger(), nullable=False),
        sa.Column('points', sa.BigInteger(), nullable=False),
        sa.Column('points_per_gram', sa.Integer(), nullable=False),
        sa.Column('duplicate_of', sa.Uuid(), nullable=True),
        sa.Column('reviewed_by', sa.Uuid(), nullable=True),
        sa.Column('reviewed_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('review_reason', sa.Text(), nullable=True),
        sa.Column('credited_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('reversed_by', sa.Uuid(), nullable=True),
        sa.Column('reversed_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('reversal_reason', sa.Text(), nullable=True),
        sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('credited', 'pending_review', 'rejected', 'duplicate', 'reversed')",
                           name=op.f('ck_actions_known_status')),
        sa.CheckConstraint("channel IN ('app', 'partner')", name=op.f('ck_actions_known_channel')),
        sa.CheckConstraint("action_type IN ('transit', 'ev_charging', 'waste_sorting')",
                           name=op.f('ck_actions_known_action_type')),
        sa.CheckConstraint("(channel = 'partner') = (partner_id IS NOT NULL AND external_id IS NOT NULL)",
                           name=op.f('ck_actions_partner_records_have_ids')),
        sa.CheckConstraint(f"reduction_mg IS NULL OR reduction_mg BETWEEN 0 AND {MAX_MG}",
                           name=op.f('ck_actions_reduction_range')),
        sa.CheckConstraint(f"credited_mg BETWEEN 0 AND {MAX_MG}", name=op.f('ck_actions_credited_range')),
        sa.CheckConstraint("reduction_mg IS NULL OR credited_mg <= reduction_mg",
                           name=op.f('ck_actions_credited_within_reduction')),
        sa.CheckConstraint(f"points BETWEEN 0 AND {MAX_MG}", name=op.f('ck_actions_points_range')),
        sa.CheckConstraint("status = 'credited' OR status = 'reversed' OR points = 0",
                           name=op.f('ck_actions_points_only_when_credited')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_actions_user_id_users')),
        sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_actions_partner_id_partners')),
        sa.ForeignKeyConstraint(['methodology_version_id'], ['methodology_versions.id'],
                                name=op.f('fk_actions_methodology_version_id_methodology_versions')),
        sa.ForeignKeyConstraint(['reviewed_by'], ['users.id'], name=op.f('fk_actions_reviewed_by_users')),
        sa.ForeignKeyConstraint(['reversed_by'], ['users.id'], name=op.f('fk_actions_reversed_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_actions')),
        sa.UniqueConstraint('partner_id', 'external_id', name='uq_actions_partner_external_id'),
    )
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.create_index('ix_actions_user_created', ['user_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_actions_user_scope_started', ['user_id', 'scope_key', 'started_at'], unique=False)
        batch_op.create_index('ix_actions_status_created', ['status', 'created_at'], unique=False)
        batch_op.create_index('ix_actions_methodology_occurred', ['methodology_version_id', 'occurred_at'], unique=False)

    op.create_table(
        'daily_credits',
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('scope_key', sa.String(length=64), nullable=False),
        sa.Column('scheme_day', sa.Date(), nullable=False),
        sa.Column('credited_mg', sa.BigInteger(), nullable=False),
        sa.CheckConstraint(f"credited_mg BETWEEN 0 AND {MAX_MG}", name=op.f('ck_daily_credits_credited_range')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_daily_credits_user_id_users')),
        sa.PrimaryKeyConstraint('user_id', 'scope_key', 'scheme_day', name=op.f('pk_daily_credits')),
    )


def downgrade():
    op.drop_table('daily_credits')
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.drop_index('ix_actions_methodology_occurred')
        batch_op.drop_index('ix_actions_status_created')
        batch_op.drop_index('ix_actions_user_scope_started')
        batch_op.drop_index('ix_actions_user_created')
    op.drop_table('actions')
