"""separation of duties: four-eyes role grants, no admin+auditor, four-eyes retirement, settled lots

Revision ID: 0010
Revises: 0009

Accounts holding both admin and auditor when this runs keep `admin` and lose `auditor`; each
loss is written to the audit log (action `user.auditor_removed_by_migration`, no acting user),
so operators can see whom to give `auditor` back to through a four-eyes grant (docs/roles.md).
Lots issued before this revision get `review_period_days = 0`: `ledger verify` then reports any
of them that covered a day not yet closed when it was issued.
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa

import models.base

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_PRIVILEGED = "role IN ('admin', 'auditor')"
_PENDING = "status = 'pending'"


def _split_admin_auditors():
    bind = op.get_bind()
    user_roles = sa.table('user_roles', sa.column('user_id', sa.Uuid()), sa.column('role', sa.String))
    audit = sa.table('audit_log', sa.column('actor_user_id', sa.Uuid()),
                     sa.column('action', sa.String), sa.column('object_type', sa.String),
                     sa.column('object_id', sa.String), sa.column('details', sa.JSON),
                     sa.column('created_at', models.base.UTCDateTime(timezone=True)))
    both = [row.user_id for row in bind.execute(
        sa.select(user_roles.c.user_id).where(user_roles.c.role.in_(('admin', 'auditor')))
        .group_by(user_roles.c.user_id).having(sa.func.count() > 1))]
    if not both:
        return
    bind.execute(user_roles.delete().where(user_roles.c.user_id.in_(both),
                                           user_roles.c.role == 'auditor'))
    now = dt.datetime.now(dt.timezone.utc)
    bind.execute(audit.insert(), [
        {'actor_user_id': None, 'action': 'user.auditor_removed_by_migration', 'object_type': 'user',
         'object_id': str(user_id), 'created_at': now,
         'details': {'removed': 'auditor', 'kept': 'admin', 'migration': '0010',
                     'why': 'no account may hold both admin and auditor'}}
        for user_id in both])


def upgrade():
    _split_admin_auditors()
    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.create_index('uq_user_roles_one_privileged_role', ['user_id'], unique=True,
                              postgresql_where=sa.text(_PRIVILEGED), sqlite_where=sa.text(_PRIVILEGED))

    op.create_table('role_grants',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.Uuid(), nullable=False),
    sa.Column('requested_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.Uuid(), nullable=True),
    sa.Column('decided_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.CheckConstraint(_PRIVILEGED, name=op.f('ck_role_grants_privileged_role')),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected', 'cancelled')", name=op.f('ck_role_grants_known_status')),
    sa.CheckConstraint('requested_by <> user_id', name=op.f('ck_role_grants_not_for_oneself')),
    sa.CheckConstraint('decided_by IS NULL OR decided_by <> requested_by', name=op.f('ck_role_grants_four_eyes')),
    sa.CheckConstraint('decided_by IS NULL OR decided_by <> user_id', name=op.f('ck_role_grants_not_by_grantee')),
    sa.CheckConstraint("(status IN ('approved', 'rejected')) = (decided_by IS NOT NULL)", name=op.f('ck_role_grants_decided_by_iff_decided')),
    sa.CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name=op.f('ck_role_grants_closed_has_time')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_role_grants_user_id_users')),
    sa.ForeignKeyConstraint(['requested_by'], ['users.id'], name=op.f('fk_role_grants_requested_by_users')),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_role_grants_decided_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_grants'))
    )
    with op.batch_alter_table('role_grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_role_grants_user_id'), ['user_id'], unique=False)
        batch_op.create_index('ix_role_grants_requested', ['requested_at', 'id'], unique=False)
        batch_op.create_index('uq_role_grants_one_pending', ['user_id', 'role'], unique=True,
                              postgresql_where=sa.text(_PENDING), sqlite_where=sa.text(_PENDING))

    op.create_table('methodology_retirements',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('methodology_version_id', sa.Uuid(), nullable=False),
    sa.Column('effective_until', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.Uuid(), nullable=False),
    sa.Column('requested_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.Uuid(), nullable=True),
    sa.Column('decided_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f('ck_methodology_retirements_known_status')),
    sa.CheckConstraint('decided_by IS NULL OR decided_by <> requested_by', name=op.f('ck_methodology_retirements_four_eyes')),
    sa.CheckConstraint("(status = 'pending') = (decided_by IS NULL)", name=op.f('ck_methodology_retirements_decided_iff_not_pending')),
    sa.ForeignKeyConstraint(['methodology_version_id'], ['methodology_versions.id'], name=op.f('fk_methodology_retirements_methodology_version_id_methodology_versions')),
    sa.ForeignKeyConstraint(['requested_by'], ['users.id'], name=op.f('fk_methodology_retirements_requested_by_users')),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_methodology_retirements_decided_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_methodology_retirements'))
    )
    with op.batch_alter_table('methodology_retirements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_methodology_retirements_methodology_version_id'), ['methodology_version_id'], unique=False)
        batch_op.create_index('uq_methodology_retirements_one_pending', ['methodology_version_id'], unique=True,
                              postgresql_where=sa.text(_PENDING), sqlite_where=sa.text(_PENDING))

    # A plain ADD COLUMN; the default only fills the lots issued before this revision.
    op.add_column('certificate_lots', sa.Column('review_period_days', sa.Integer(), nullable=False,
                                                server_default=sa.text('0')))
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('certificate_lots', 'review_period_days', server_default=None)
        op.create_check_constraint(op.f('ck_certificate_lots_review_period_range'), 'certificate_lots',
                                   'review_period_days BETWEEN 0 AND 365')
    # SQLite adds a CHECK only by rebuilding the table: there the bound is the service's (and
    # the model's, on a fresh schema); `ledger verify` checks every lot against it anyway.


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint(op.f('ck_certificate_lots_review_period_range'), 'certificate_lots', type_='check')
    with op.batch_alter_table('certificate_lots', schema=None) as batch_op:
        batch_op.drop_column('review_period_days')
    with op.batch_alter_table('methodology_retirements', schema=None) as batch_op:
        batch_op.drop_index('uq_methodology_retirements_one_pending', postgresql_where=sa.text(_PENDING), sqlite_where=sa.text(_PENDING))
        batch_op.drop_index(batch_op.f('ix_methodology_retirements_methodology_version_id'))
    op.drop_table('methodology_retirements')
    with op.batch_alter_table('role_grants', schema=None) as batch_op:
        batch_op.drop_index('uq_role_grants_one_pending', postgresql_where=sa.text(_PENDING), sqlite_where=sa.text(_PENDING))
        batch_op.drop_index('ix_role_grants_requested')
        batch_op.drop_index(batch_op.f('ix_role_grants_user_id'))
    op.drop_table('role_grants')
    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.drop_index('uq_user_roles_one_privileged_role', postgresql_where=sa.text(_PRIVILEGED), sqlite_where=sa.text(_PRIVILEGED))
