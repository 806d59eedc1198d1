"""ledger adjustments: four-eyes manual corrections (requested by one person, decided by another)

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

import models.base

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ledger_adjustments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('external_ref', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.Uuid(), nullable=False),
    sa.Column('requested_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.Uuid(), nullable=True),
    sa.Column('decided_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('transfer_id', sa.Uuid(), nullable=True),
    sa.CheckConstraint("(status = 'approved') = (transfer_id IS NOT NULL)", name=op.f('ck_ledger_adjustments_transfer_iff_approved')),
    sa.CheckConstraint("(status = 'pending') = (decided_by IS NULL)", name=op.f('ck_ledger_adjustments_decided_iff_not_pending')),
    sa.CheckConstraint("reason IN ('goodwill', 'correction')", name=op.f('ck_ledger_adjustments_known_reason')),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f('ck_ledger_adjustments_known_status')),
    sa.CheckConstraint('decided_by IS NULL OR decided_by <> requested_by', name=op.f('ck_ledger_adjustments_four_eyes')),
    sa.CheckConstraint('points <> 0 AND points BETWEEN -1000000000000 AND 1000000000000', name=op.f('ck_ledger_adjustments_points_range')),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_ledger_adjustments_decided_by_users')),
    sa.ForeignKeyConstraint(['requested_by'], ['users.id'], name=op.f('fk_ledger_adjustments_requested_by_users')),
    sa.ForeignKeyConstraint(['transfer_id'], ['ledger_transfers.id'], name=op.f('fk_ledger_adjustments_transfer_id_ledger_transfers')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ledger_adjustments_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_adjustments')),
    sa.UniqueConstraint('external_ref', name=op.f('uq_ledger_adjustments_external_ref')),
    sa.UniqueConstraint('transfer_id', name=op.f('uq_ledger_adjustments_transfer_id'))
    )
    with op.batch_alter_table('ledger_adjustments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_adjustments_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_adjustments_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('ledger_adjustments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_adjustments_user_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_adjustments_status'))

    op.drop_table('ledger_adjustments')
