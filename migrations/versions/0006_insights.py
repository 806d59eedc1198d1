"""insights: background report exports, scheme-day index on actions

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

import models.base
from models.ddl import drop_append_only, make_append_only  # noqa: F401

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'report_exports',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('date_from', sa.Date(), nullable=False),
        sa.Column('date_to', sa.Date(), nullable=False),
        sa.Column('group_by', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('requested_by', sa.Uuid(), nullable=True),
        sa.Column('lease_token', sa.Uuid(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=128), nullable=True),
        sa.Column('content', sa.Text(), nullable=True),
        sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('started_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'running', 'done', 'failed')",
                           name=op.f('ck_report_exports_known_status')),
        sa.CheckConstraint("kind IN ('reductions')", name=op.f('ck_report_exports_known_kind')),
        sa.CheckConstraint('date_from <= date_to', name=op.f('ck_report_exports_ordered_range')),
        sa.CheckConstraint("(status = 'done') = (content IS NOT NULL)",
                           name=op.f('ck_report_exports_content_when_done')),
        sa.ForeignKeyConstraint(['requested_by'], ['users.id'],
                                name=op.f('fk_report_exports_requested_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_exports')),
    )
    with op.batch_alter_table('report_exports', schema=None) as batch_op:
        batch_op.create_index('ix_report_exports_due', ['status', 'created_at'], unique=False)
    # Reports and leaderboards read ranges of scheme days.
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.create_index('ix_actions_scheme_day', ['scheme_day'], unique=False)


def downgrade():
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.drop_index('ix_actions_scheme_day')
    with op.batch_alter_table('report_exports', schema=None) as batch_op:
        batch_op.drop_index('ix_report_exports_due')
    op.drop_table('report_exports')
