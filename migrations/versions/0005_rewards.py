"""rewards: rewards, per-citizen claim counters, redemptions (vouchers)

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

import models.base
from models.ddl import drop_append_only, make_append_only  # noqa: F401

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

MAX_POINTS_COST = 1_000_000
MAX_STOCK = 1_000_000
MAX_PER_CITIZEN_LIMIT = 1000


def upgrade():
    op.create_table(
        'rewards',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('partner_id', sa.Uuid(), nullable=False),
        sa.Column('title', sa.String(length=120), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('points_cost', sa.BigInteger(), nullable=False),
        sa.Column('stock', sa.Integer(), nullable=False),
        sa.Column('valid_from', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('valid_until', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('per_citizen_limit', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f'points_cost BETWEEN 1 AND {MAX_POINTS_COST}',
                           name=op.f('ck_rewards_points_cost_bounded')),
        sa.CheckConstraint(f'stock BETWEEN 0 AND {MAX_STOCK}', name=op.f('ck_rewards_stock_bounded')),
        sa.CheckConstraint(f'per_citizen_limit BETWEEN 1 AND {MAX_PER_CITIZEN_LIMIT}',
                           name=op.f('ck_rewards_per_citizen_limit_bounded')),
        sa.CheckConstraint('valid_until > valid_from', name=op.f('ck_rewards_window_ordered')),
        sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_rewards_partner_id_partners')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rewards')),
    )
    with op.batch_alter_table('rewards', schema=None) as batch_op:
        batch_op.create_index('ix_rewards_catalog', ['active', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_rewards_partner', ['partner_id', 'created_at', 'id'], unique=False)

    op.create_table(
        'reward_claims',
        sa.Column('reward_id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('live', sa.Integer(), nullable=False),
        sa.CheckConstraint(f'live BETWEEN 0 AND {MAX_PER_CITIZEN_LIMIT}',
                           name=op.f('ck_reward_claims_live_bounded')),
        sa.ForeignKeyConstraint(['reward_id'], ['rewards.id'], name=op.f('fk_reward_claims_reward_id_rewards')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_reward_claims_user_id_users')),
        sa.PrimaryKeyConstraint('reward_id', 'user_id', name=op.f('pk_reward_claims')),
    )

    op.create_table(
        'redemptions',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('reward_id', sa.Uuid(), nullable=False),
        sa.Column('partner_id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('points', sa.BigInteger(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('voucher_code', sa.String(length=16), nullable=False),
        sa.Column('hold_id', sa.Uuid(), nullable=False),
        sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('reserved_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('redeemed_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('cancelled_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('expired_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('confirmed_by', sa.Uuid(), nullable=True),
        sa.CheckConstraint("status IN ('reserved', 'redeemed', 'cancelled', 'expired')",
                           name=op.f('ck_redemptions_known_status')),
        sa.CheckConstraint(f'points BETWEEN 1 AND {MAX_POINTS_COST}', name=op.f('ck_redemptions_points_bounded')),
        sa.CheckConstraint("(status = 'redeemed') = (redeemed_at IS NOT NULL)",
                           name=op.f('ck_redemptions_redeemed_at_iff_redeemed')),
        sa.CheckConstraint("(status = 'redeemed') = (confirmed_by IS NOT NULL)",
                           name=op.f('ck_redemptions_confirmed_by_iff_redeemed')),
        sa.CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)",
                           name=op.f('ck_redemptions_cancelled_at_iff_cancelled')),
        sa.CheckConstraint("(status = 'expired') = (expired_at IS NOT NULL)",
                           name=op.f('ck_redemptions_expired_at_iff_expired')),
        sa.ForeignKeyConstraint(['reward_id'], ['rewards.id'], name=op.f('fk_redemptions_reward_id_rewards')),
        sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_redemptions_partner_id_partners')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_redemptions_user_id_users')),
        sa.ForeignKeyConstraint(['hold_id'], ['ledger_holds.id'], name=op.f('fk_redemptions_hold_id_ledger_holds')),
        sa.ForeignKeyConstraint(['confirmed_by'], ['users.id'], name=op.f('fk_redemptions_confirmed_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_redemptions')),
        sa.UniqueConstraint('voucher_code', name=op.f('uq_redemptions_voucher_code')),
        sa.UniqueConstraint('hold_id', name=op.f('uq_redemptions_hold_id')),
    )
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redemptions_reward_id'), ['reward_id'], unique=False)
        batch_op.create_index('ix_redemptions_owner', ['user_id', 'reserved_at', 'id'], unique=False)
        batch_op.create_index('ix_redemptions_due', ['status', 'expires_at'], unique=False)
        batch_op.create_index('ix_redemptions_settlement', ['partner_id', 'status', 'redeemed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_redemptions_settlement')
        batch_op.drop_index('ix_redemptions_due')
        batch_op.drop_index('ix_redemptions_owner')
        batch_op.drop_index(batch_op.f('ix_redemptions_reward_id'))
    op.drop_table('redemptions')
    op.drop_table('reward_claims')
    with op.batch_alter_table('rewards', schema=None) as batch_op:
        batch_op.drop_index('ix_rewards_partner')
        batch_op.drop_index('ix_rewards_catalog')
    op.drop_table('rewards')
