"""lot verifications: the `verifier` role and third-party verification statements on lots

The roles' CHECK constraints gain `verifier` (`user_roles.role`, and `role_grants.role`: it is
given only four-eyes), and the partial unique index that keeps admin and auditor apart now
covers all three privileged roles: an account holds at most one of admin, auditor and verifier.
Every existing row satisfies the wider rules.

`certificate_lot_verifications` holds the signed statements, append-only. Lots issued before
this revision have none: their serials stay where they are until a verifier signs a positive
statement (docs/certificates.md, section 7).

PostgreSQL alters the two tables in place; SQLite's batch mode rebuilds them (neither has
triggers to restore). The partial unique indexes are dropped before the rebuild and created
after it, so each keeps its WHERE.

Downgrading removes the verifier role from every account and deletes verifier grants (each
removal is written to the audit log, `user.verifier_removed_by_migration`), then the
statements.

Revision ID: 0016
Revises: 0015
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa

import models.base
from models.ddl import drop_append_only, make_append_only

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

_ROLES_OLD = "role IN ('citizen', 'merchant', 'admin', 'auditor')"
_ROLES_NEW = "role IN ('citizen', 'merchant', 'admin', 'auditor', 'verifier')"
_PRIVILEGED_OLD = "role IN ('admin', 'auditor')"
_PRIVILEGED_NEW = "role IN ('admin', 'auditor', 'verifier')"
_PENDING = "status = 'pending'"
MAX_SAMPLE_SIZE = 10_000


def _change_role_checks(roles: str, privileged: str, old_privileged: str) -> None:
    op.drop_index('uq_user_roles_one_privileged_role', table_name='user_roles',
                  postgresql_where=sa.text(old_privileged), sqlite_where=sa.text(old_privileged))
    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_user_roles_known_role'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_user_roles_known_role'), roles)
    op.create_index('uq_user_roles_one_privileged_role', 'user_roles', ['user_id'], unique=True,
                    postgresql_where=sa.text(privileged), sqlite_where=sa.text(privileged))

    op.drop_index('uq_role_grants_one_pending', table_name='role_grants',
                  postgresql_where=sa.text(_PENDING), sqlite_where=sa.text(_PENDING))
    with op.batch_alter_table('role_grants', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_role_grants_privileged_role'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_role_grants_privileged_role'), privileged)
    op.create_index('uq_role_grants_one_pending', 'role_grants', ['user_id', 'role'], unique=True,
                    postgresql_where=sa.text(_PENDING), sqlite_where=sa.text(_PENDING))


def upgrade():
    _change_role_checks(_ROLES_NEW, _PRIVILEGED_NEW, _PRIVILEGED_OLD)

    op.create_table('certificate_lot_verifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('lot_id', sa.Uuid(), nullable=False),
    sa.Column('seed', sa.String(length=128), nullable=False),
    sa.Column('seed_drawn_by_server', sa.Boolean(), nullable=False),
    sa.Column('sample_method', sa.String(length=32), nullable=False),
    sa.Column('sample_size', sa.Integer(), nullable=False),
    sa.Column('sampled_action_ids', sa.JSON(), nullable=False),
    sa.Column('findings', sa.Text(), nullable=False),
    sa.Column('opinion', sa.String(length=16), nullable=False),
    sa.Column('verifier_organisation', sa.String(length=200), nullable=False),
    sa.Column('report_reference', sa.String(length=200), nullable=False),
    sa.Column('verifier_user_id', sa.Uuid(), nullable=False),
    sa.Column('signed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("opinion IN ('positive', 'qualified', 'negative')", name=op.f('ck_certificate_lot_verifications_known_opinion')),
    sa.CheckConstraint("sample_method IN ('hmac-sha256-v1')", name=op.f('ck_certificate_lot_verifications_known_sample_method')),
    sa.CheckConstraint(f'sample_size BETWEEN 1 AND {MAX_SAMPLE_SIZE}', name=op.f('ck_certificate_lot_verifications_sample_size_range')),
    sa.ForeignKeyConstraint(['lot_id'], ['certificate_lots.id'], name=op.f('fk_certificate_lot_verifications_lot_id_certificate_lots')),
    sa.ForeignKeyConstraint(['verifier_user_id'], ['users.id'], name=op.f('fk_certificate_lot_verifications_verifier_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_lot_verifications'))
    )
    with op.batch_alter_table('certificate_lot_verifications', schema=None) as batch_op:
        batch_op.create_index('ix_certificate_lot_verifications_lot', ['lot_id', 'id'], unique=False)
    make_append_only('certificate_lot_verifications')


def _remove_verifiers() -> None:
    """The narrower checks refuse `verifier`: take it from every account (audited) and delete
    the verifier grants."""
    bind = op.get_bind()
    user_roles = sa.table('user_roles', sa.column('user_id', sa.Uuid()), sa.column('role', sa.String))
    grants = sa.table('role_grants', sa.column('role', sa.String))
    audit = sa.table('audit_log', sa.column('actor_user_id', sa.Uuid()),
                     sa.column('action', sa.String), sa.column('object_type', sa.String),
                     sa.column('object_id', sa.String), sa.column('details', sa.JSON),
                     sa.column('created_at', models.base.UTCDateTime(timezone=True)))
    verifiers = [row.user_id for row in bind.execute(
        sa.select(user_roles.c.user_id).where(user_roles.c.role == 'verifier'))]
    bind.execute(grants.delete().where(grants.c.role == 'verifier'))
    if not verifiers:
        return
    bind.execute(user_roles.delete().where(user_roles.c.role == 'verifier'))
    now = dt.datetime.now(dt.timezone.utc)
    bind.execute(audit.insert(), [
        {'actor_user_id': None, 'action': 'user.verifier_removed_by_migration', 'object_type': 'user',
         'object_id': str(user_id), 'created_at': now,
         'details': {'removed': 'verifier', 'migration': '0016 (downgrade)'}}
        for user_id in verifiers])


def downgrade():
    drop_append_only('certificate_lot_verifications')
    with op.batch_alter_table('certificate_lot_verifications', schema=None) as batch_op:
        batch_op.drop_index('ix_certificate_lot_verifications_lot')
    op.drop_table('certificate_lot_verifications')
    _remove_verifiers()
    _change_role_checks(_ROLES_OLD, _PRIVILEGED_OLD, _PRIVILEGED_NEW)
