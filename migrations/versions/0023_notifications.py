"""citizen notifications (docs/notifications.md)

- `notifications`: reminders and news for one citizen, read or unread; unique per (citizen,
  dedupe key), so the reminder job writes each one once however often (or on however many
  workers) it runs. Not append-only: a citizen marks them read, erasure and the retention job
  delete them (docs/privacy.md).

Downgrading drops the table (the citizens' notifications go with it).

Revision ID: 0023
Revises: 0022
"""
from alembic import op
import sqlalchemy as sa

import models.base

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notifications',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('points_expiring', 'voucher_expiring', 'review_decided', 'action_reversed')", name=op.f('ck_notifications_known_kind')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('user_id', 'dedupe_key', name=op.f('uq_notifications_user_id_dedupe_key'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_user', ['user_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_notifications_read_at', ['read_at'], unique=False, postgresql_where=sa.text('read_at IS NOT NULL'), sqlite_where=sa.text('read_at IS NOT NULL'))
        batch_op.create_index('ix_notifications_created_at', ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_created_at')
        batch_op.drop_index('ix_notifications_read_at', postgresql_where=sa.text('read_at IS NOT NULL'), sqlite_where=sa.text('read_at IS NOT NULL'))
        batch_op.drop_index('ix_notifications_user')
    op.drop_table('notifications')
