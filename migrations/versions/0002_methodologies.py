"""methodologies

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

import models.base
from models.ddl import drop_append_only, make_append_only  # noqa: F401

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# Approved (and retired) versions are immutable: only approved -> retired, retired_by/at, an
# earlier-or-equal effective_until and the revision counter may change; such rows are never
# deleted. The service refuses first (409); this is the last line of defence.
_CONTENT = ("methodology_id", "version", "family", "formula_text", "daily_cap_mg",
            "effective_from", "change_note", "seeded", "drafted_by", "drafted_at",
            "submitted_by", "submitted_at", "approved_by", "approved_at", "rejected_by",
            "rejected_at", "rejection_reason")
_JSON_CONTENT = ("parameters", "rules")


def _create_immutability_guard():
    if op.get_bind().dialect.name == "postgresql":
        changed = " OR ".join([f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _CONTENT]
                              + [f"NEW.{c}::text IS DISTINCT FROM OLD.{c}::text" for c in _JSON_CONTENT])
        op.execute(f"""
            CREATE OR REPLACE FUNCTION methodology_versions_guard() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    IF OLD.status IN ('approved', 'retired') THEN
                        RAISE EXCEPTION 'methodology version % is approved: delete refused', OLD.id
                            USING ERRCODE = 'insufficient_privilege';
                    END IF;
                    RETURN OLD;
                END IF;
                IF OLD.status IN ('approved', 'retired') AND (
                    {changed}
                    OR (NEW.status <> OLD.status AND NOT (OLD.status = 'approved' AND NEW.status = 'retired'))
                    OR (NEW.effective_until IS DISTINCT FROM OLD.effective_until AND (
                        NEW.effective_until IS NULL
                        OR (OLD.effective_until IS NOT NULL AND NEW.effective_until > OLD.effective_until)))
                ) THEN
                    RAISE EXCEPTION 'methodology version % is approved and immutable', OLD.id
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql
        """)
        op.execute("CREATE TRIGGER methodology_versions_immutable BEFORE UPDATE OR DELETE "
                   "ON methodology_versions FOR EACH ROW EXECUTE FUNCTION methodology_versions_guard()")
    else:
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _CONTENT + _JSON_CONTENT)
        op.execute(f"""
            CREATE TRIGGER methodology_versions_immutable BEFORE UPDATE ON methodology_versions
            WHEN OLD.status IN ('approved', 'retired') AND (
                {changed}
                OR (NEW.status <> OLD.status AND NOT (OLD.status = 'approved' AND NEW.status = 'retired'))
                OR (NEW.effective_until IS NOT OLD.effective_until AND (
                    NEW.effective_until IS NULL
                    OR (OLD.effective_until IS NOT NULL AND NEW.effective_until > OLD.effective_until))))
            BEGIN SELECT RAISE(ABORT, 'methodology version is approved and immutable'); END
        """)
        op.execute("""
            CREATE TRIGGER methodology_versions_no_delete BEFORE DELETE ON methodology_versions
            WHEN OLD.status IN ('approved', 'retired')
            BEGIN SELECT RAISE(ABORT, 'methodology version is approved: delete refused'); END
        """)


def _drop_immutability_guard():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS methodology_versions_immutable ON methodology_versions")
        op.execute("DROP FUNCTION IF EXISTS methodology_versions_guard()")
    else:
        op.execute("DROP TRIGGER IF EXISTS methodology_versions_immutable")
        op.execute("DROP TRIGGER IF EXISTS methodology_versions_no_delete")


def upgrade():
    op.create_table('methodologies',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('action_type', sa.String(length=32), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=True),
    sa.Column('scope_key', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(action_type = 'transit' AND mode IN ('metro', 'bus', 'bike', 'walk')) OR (action_type <> 'transit' AND mode IS NULL)", name=op.f('ck_methodologies_scope_mode')),
    sa.CheckConstraint("action_type IN ('transit', 'ev_charging', 'waste_sorting')", name=op.f('ck_methodologies_known_action_type')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_methodologies_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_methodologies')),
    sa.UniqueConstraint('code', name=op.f('uq_methodologies_code'))
    )
    with op.batch_alter_table('methodologies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_methodologies_scope_key'), ['scope_key'], unique=False)

    op.create_table('methodology_versions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('methodology_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('family', sa.String(length=32), nullable=False),
    sa.Column('formula_text', sa.Text(), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('daily_cap_mg', sa.BigInteger(), nullable=True),
    sa.Column('effective_from', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('effective_until', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('change_note', sa.Text(), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('seeded', sa.Boolean(), nullable=False),
    sa.Column('drafted_by', sa.Uuid(), nullable=True),
    sa.Column('drafted_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_by', sa.Uuid(), nullable=True),
    sa.Column('submitted_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('approved_by', sa.Uuid(), nullable=True),
    sa.Column('approved_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rejected_by', sa.Uuid(), nullable=True),
    sa.Column('rejected_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('retired_by', sa.Uuid(), nullable=True),
    sa.Column('retired_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("family IN ('transit_distance', 'transit_boarding', 'ev_charging', 'recyclables')", name=op.f('ck_methodology_versions_known_family')),
    sa.CheckConstraint("status <> 'rejected' OR rejection_reason IS NOT NULL", name=op.f('ck_methodology_versions_rejected_has_reason')),
    sa.CheckConstraint("status IN ('draft', 'submitted', 'approved', 'rejected', 'retired')", name=op.f('ck_methodology_versions_known_status')),
    sa.CheckConstraint("status NOT IN ('approved', 'retired') OR (approved_at IS NOT NULL AND effective_from IS NOT NULL)", name=op.f('ck_methodology_versions_approved_complete')),
    sa.CheckConstraint('approved_by IS NULL OR drafted_by IS NULL OR approved_by <> drafted_by', name=op.f('ck_methodology_versions_four_eyes')),
    sa.CheckConstraint('daily_cap_mg IS NULL OR daily_cap_mg BETWEEN 0 AND 1000000000000', name=op.f('ck_methodology_versions_daily_cap_range')),
    sa.CheckConstraint('effective_until IS NULL OR effective_from IS NULL OR effective_until >= effective_from', name=op.f('ck_methodology_versions_effective_order')),
    sa.CheckConstraint('revision BETWEEN 1 AND 1000000000', name=op.f('ck_methodology_versions_revision_range')),
    sa.CheckConstraint('version BETWEEN 1 AND 1000000', name=op.f('ck_methodology_versions_version_range')),
    sa.ForeignKeyConstraint(['approved_by'], ['users.id'], name=op.f('fk_methodology_versions_approved_by_users')),
    sa.ForeignKeyConstraint(['drafted_by'], ['users.id'], name=op.f('fk_methodology_versions_drafted_by_users')),
    sa.ForeignKeyConstraint(['methodology_id'], ['methodologies.id'], name=op.f('fk_methodology_versions_methodology_id_methodologies')),
    sa.ForeignKeyConstraint(['rejected_by'], ['users.id'], name=op.f('fk_methodology_versions_rejected_by_users')),
    sa.ForeignKeyConstraint(['retired_by'], ['users.id'], name=op.f('fk_methodology_versions_retired_by_users')),
    sa.ForeignKeyConstraint(['submitted_by'], ['users.id'], name=op.f('fk_methodology_versions_submitted_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_methodology_versions')),
    sa.UniqueConstraint('methodology_id', 'version', name='uq_methodology_versions_number')
    )
    with op.batch_alter_table('methodology_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_methodology_versions_methodology_id'), ['methodology_id'], unique=False)

    _create_immutability_guard()


def downgrade():
    _drop_immutability_guard()
    with op.batch_alter_table('methodology_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_methodology_versions_methodology_id'))

    op.drop_table('methodology_versions')
    with op.batch_alter_table('methodologies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_methodologies_scope_key'))

    op.drop_table('methodologies')
