"""certificates: the certified-reduction registry (lots, membership, blocks of serials, events)

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

import models.base
from models.ddl import drop_append_only, make_append_only  # noqa: F401

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

MAX_SERIAL = 10**15
MAX_UNITS = 10**12
MAX_LOT_MG = 10**18

# Only an active block may change, and then only its status: range, holder and lot are fixed
# for life, and retired (or superseded) blocks are final. Deleting a block is refused.
PG_BLOCK_GUARD = """
CREATE OR REPLACE FUNCTION certificate_blocks_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'certificate blocks are never deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.status <> 'active' THEN
        RAISE EXCEPTION 'certificate block % is %: it never changes again', OLD.id, OLD.status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.serial_start <> OLD.serial_start OR NEW.serial_end <> OLD.serial_end
            OR NEW.quantity <> OLD.quantity OR NEW.lot_id <> OLD.lot_id
            OR NEW.holder_partner_id IS DISTINCT FROM OLD.holder_partner_id THEN
        RAISE EXCEPTION 'a certificate block keeps its serials and holder'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""

SQLITE_BLOCK_GUARDS = [
    """CREATE TRIGGER certificate_blocks_final BEFORE UPDATE ON certificate_blocks
       WHEN OLD.status <> 'active'
       BEGIN SELECT RAISE(ABORT, 'certificate block is final: it never changes again'); END""",
    """CREATE TRIGGER certificate_blocks_fixed BEFORE UPDATE ON certificate_blocks
       WHEN NEW.serial_start <> OLD.serial_start OR NEW.serial_end <> OLD.serial_end
            OR NEW.quantity <> OLD.quantity OR NEW.lot_id <> OLD.lot_id
            OR NEW.holder_partner_id IS NOT OLD.holder_partner_id
       BEGIN SELECT RAISE(ABORT, 'a certificate block keeps its serials and holder'); END""",
    """CREATE TRIGGER certificate_blocks_no_delete BEFORE DELETE ON certificate_blocks
       BEGIN SELECT RAISE(ABORT, 'certificate blocks are never deleted'); END""",
]


def upgrade():
    op.create_table(
        'certificate_serial_counters',
        sa.Column('registry_code', sa.String(length=16), nullable=False),
        sa.Column('next_serial', sa.BigInteger(), nullable=False),
        sa.CheckConstraint(f'next_serial BETWEEN 1 AND {MAX_SERIAL}',
                           name=op.f('ck_certificate_serial_counters_next_serial_range')),
        sa.PrimaryKeyConstraint('registry_code', name=op.f('pk_certificate_serial_counters')),
    )

    op.create_table(
        'certificate_lots',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('registry_code', sa.String(length=16), nullable=False),
        sa.Column('methodology_version_id', sa.Uuid(), nullable=False),
        sa.Column('methodology_code', sa.String(length=64), nullable=False),
        sa.Column('methodology_version', sa.Integer(), nullable=False),
        sa.Column('period_from', sa.Date(), nullable=False),
        sa.Column('period_to', sa.Date(), nullable=False),
        sa.Column('vintage_year', sa.Integer(), nullable=False),
        sa.Column('unit_mg', sa.BigInteger(), nullable=False),
        sa.Column('quantity', sa.BigInteger(), nullable=False),
        sa.Column('serial_start', sa.BigInteger(), nullable=False),
        sa.Column('serial_end', sa.BigInteger(), nullable=False),
        sa.Column('action_count', sa.Integer(), nullable=False),
        sa.Column('verified_mg', sa.BigInteger(), nullable=False),
        sa.Column('issued_mg', sa.BigInteger(), nullable=False),
        sa.Column('remainder_mg', sa.BigInteger(), nullable=False),
        sa.Column('summary', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('issued_by', sa.Uuid(), nullable=False),
        sa.Column('issued_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('issued')", name=op.f('ck_certificate_lots_known_status')),
        sa.CheckConstraint('period_to >= period_from', name=op.f('ck_certificate_lots_period_order')),
        sa.CheckConstraint(f'quantity BETWEEN 1 AND {MAX_UNITS}',
                           name=op.f('ck_certificate_lots_quantity_range')),
        sa.CheckConstraint(f'unit_mg BETWEEN 1 AND {MAX_UNITS}', name=op.f('ck_certificate_lots_unit_range')),
        sa.CheckConstraint(f'serial_start BETWEEN 1 AND {MAX_SERIAL}',
                           name=op.f('ck_certificate_lots_serial_range')),
        sa.CheckConstraint('serial_end - serial_start + 1 = quantity',
                           name=op.f('ck_certificate_lots_serials_match_quantity')),
        sa.CheckConstraint(f'verified_mg BETWEEN 1 AND {MAX_LOT_MG}',
                           name=op.f('ck_certificate_lots_verified_range')),
        sa.CheckConstraint('issued_mg = quantity * unit_mg',
                           name=op.f('ck_certificate_lots_issued_is_whole_units')),
        sa.CheckConstraint('issued_mg + remainder_mg = verified_mg',
                           name=op.f('ck_certificate_lots_issued_within_verified')),
        sa.CheckConstraint('remainder_mg >= 0 AND remainder_mg < unit_mg',
                           name=op.f('ck_certificate_lots_remainder_below_unit')),
        sa.CheckConstraint('action_count BETWEEN 1 AND 1000000000',
                           name=op.f('ck_certificate_lots_action_count_range')),
        sa.ForeignKeyConstraint(['registry_code'], ['certificate_serial_counters.registry_code'],
                                name=op.f('fk_certificate_lots_registry_code_certificate_serial_counters')),
        sa.ForeignKeyConstraint(['methodology_version_id'], ['methodology_versions.id'],
                                name=op.f('fk_certificate_lots_methodology_version_id_methodology_versions')),
        sa.ForeignKeyConstraint(['issued_by'], ['users.id'], name=op.f('fk_certificate_lots_issued_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_lots')),
        sa.UniqueConstraint('serial_start', name='uq_certificate_lots_serial_start'),
        sa.UniqueConstraint('serial_end', name='uq_certificate_lots_serial_end'),
    )
    with op.batch_alter_table('certificate_lots', schema=None) as batch_op:
        batch_op.create_index('ix_certificate_lots_issued', ['issued_at', 'id'], unique=False)
        batch_op.create_index('ix_certificate_lots_version_period',
                              ['methodology_version_id', 'period_from'], unique=False)

    op.create_table(
        'certificate_lot_actions',
        sa.Column('lot_id', sa.Uuid(), nullable=False),
        sa.Column('action_id', sa.Uuid(), nullable=False),
        sa.Column('contributed_mg', sa.BigInteger(), nullable=False),
        sa.CheckConstraint(f'contributed_mg BETWEEN 1 AND {MAX_LOT_MG}',
                           name=op.f('ck_certificate_lot_actions_contributed_range')),
        sa.ForeignKeyConstraint(['lot_id'], ['certificate_lots.id'],
                                name=op.f('fk_certificate_lot_actions_lot_id_certificate_lots')),
        sa.ForeignKeyConstraint(['action_id'], ['actions.id'],
                                name=op.f('fk_certificate_lot_actions_action_id_actions')),
        sa.PrimaryKeyConstraint('lot_id', 'action_id', name=op.f('pk_certificate_lot_actions')),
        sa.UniqueConstraint('action_id', name='uq_certificate_lot_actions_action_id'),
    )
    make_append_only('certificate_lot_actions')

    op.create_table(
        'certificate_blocks',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('lot_id', sa.Uuid(), nullable=False),
        sa.Column('parent_id', sa.Uuid(), nullable=True),
        sa.Column('serial_start', sa.BigInteger(), nullable=False),
        sa.Column('serial_end', sa.BigInteger(), nullable=False),
        sa.Column('quantity', sa.BigInteger(), nullable=False),
        sa.Column('holder_partner_id', sa.Uuid(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('beneficiary', sa.String(length=200), nullable=True),
        sa.Column('purpose', sa.Text(), nullable=True),
        sa.Column('retired_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('retired_by', sa.Uuid(), nullable=True),
        sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'superseded', 'retired')",
                           name=op.f('ck_certificate_blocks_known_status')),
        sa.CheckConstraint(f'serial_start BETWEEN 1 AND {MAX_SERIAL}',
                           name=op.f('ck_certificate_blocks_serial_range')),
        sa.CheckConstraint('serial_end - serial_start + 1 = quantity',
                           name=op.f('ck_certificate_blocks_serials_match_quantity')),
        sa.CheckConstraint(f'quantity BETWEEN 1 AND {MAX_UNITS}',
                           name=op.f('ck_certificate_blocks_quantity_range')),
        sa.CheckConstraint("(status = 'retired') = (retired_at IS NOT NULL)",
                           name=op.f('ck_certificate_blocks_retired_has_time')),
        sa.CheckConstraint("status <> 'retired' OR (beneficiary IS NOT NULL AND purpose IS NOT NULL)",
                           name=op.f('ck_certificate_blocks_retired_has_claim')),
        sa.ForeignKeyConstraint(['lot_id'], ['certificate_lots.id'],
                                name=op.f('fk_certificate_blocks_lot_id_certificate_lots')),
        sa.ForeignKeyConstraint(['parent_id'], ['certificate_blocks.id'],
                                name=op.f('fk_certificate_blocks_parent_id_certificate_blocks')),
        sa.ForeignKeyConstraint(['holder_partner_id'], ['partners.id'],
                                name=op.f('fk_certificate_blocks_holder_partner_id_partners')),
        sa.ForeignKeyConstraint(['retired_by'], ['users.id'], name=op.f('fk_certificate_blocks_retired_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_blocks')),
    )
    with op.batch_alter_table('certificate_blocks', schema=None) as batch_op:
        batch_op.create_index('ix_certificate_blocks_lot_serial', ['lot_id', 'serial_start'], unique=False)
        batch_op.create_index('ix_certificate_blocks_serials', ['serial_start', 'serial_end'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_BLOCK_GUARD)
        op.execute('CREATE TRIGGER certificate_blocks_guard BEFORE UPDATE OR DELETE ON certificate_blocks '
                   'FOR EACH ROW EXECUTE FUNCTION certificate_blocks_guard()')
    else:
        for statement in SQLITE_BLOCK_GUARDS:
            op.execute(statement)

    op.create_table(
        'certificate_events',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
                  nullable=False),
        sa.Column('lot_id', sa.Uuid(), nullable=False),
        sa.Column('block_id', sa.Uuid(), nullable=False),
        sa.Column('event', sa.String(length=16), nullable=False),
        sa.Column('serial_start', sa.BigInteger(), nullable=False),
        sa.Column('serial_end', sa.BigInteger(), nullable=False),
        sa.Column('quantity', sa.BigInteger(), nullable=False),
        sa.Column('from_partner_id', sa.Uuid(), nullable=True),
        sa.Column('to_partner_id', sa.Uuid(), nullable=True),
        sa.Column('beneficiary', sa.String(length=200), nullable=True),
        sa.Column('purpose', sa.Text(), nullable=True),
        sa.Column('actor_user_id', sa.Uuid(), nullable=False),
        sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("event IN ('issue', 'transfer', 'retire')",
                           name=op.f('ck_certificate_events_known_event')),
        sa.CheckConstraint('serial_end - serial_start + 1 = quantity',
                           name=op.f('ck_certificate_events_serials_match_quantity')),
        sa.CheckConstraint(f'quantity BETWEEN 1 AND {MAX_UNITS}',
                           name=op.f('ck_certificate_events_quantity_range')),
        sa.ForeignKeyConstraint(['lot_id'], ['certificate_lots.id'],
                                name=op.f('fk_certificate_events_lot_id_certificate_lots')),
        sa.ForeignKeyConstraint(['block_id'], ['certificate_blocks.id'],
                                name=op.f('fk_certificate_events_block_id_certificate_blocks')),
        sa.ForeignKeyConstraint(['from_partner_id'], ['partners.id'],
                                name=op.f('fk_certificate_events_from_partner_id_partners')),
        sa.ForeignKeyConstraint(['to_partner_id'], ['partners.id'],
                                name=op.f('fk_certificate_events_to_partner_id_partners')),
        sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'],
                                name=op.f('fk_certificate_events_actor_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_events')),
    )
    with op.batch_alter_table('certificate_events', schema=None) as batch_op:
        batch_op.create_index('ix_certificate_events_lot', ['lot_id', 'id'], unique=False)
    make_append_only('certificate_events')


def downgrade():
    drop_append_only('certificate_events')
    with op.batch_alter_table('certificate_events', schema=None) as batch_op:
        batch_op.drop_index('ix_certificate_events_lot')
    op.drop_table('certificate_events')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS certificate_blocks_guard ON certificate_blocks')
        op.execute('DROP FUNCTION IF EXISTS certificate_blocks_guard()')
    else:
        for name in ('certificate_blocks_final', 'certificate_blocks_fixed', 'certificate_blocks_no_delete'):
            op.execute(f'DROP TRIGGER IF EXISTS {name}')
    with op.batch_alter_table('certificate_blocks', schema=None) as batch_op:
        batch_op.drop_index('ix_certificate_blocks_serials')
        batch_op.drop_index('ix_certificate_blocks_lot_serial')
    op.drop_table('certificate_blocks')
    drop_append_only('certificate_lot_actions')
    op.drop_table('certificate_lot_actions')
    with op.batch_alter_table('certificate_lots', schema=None) as batch_op:
        batch_op.drop_index('ix_certificate_lots_version_period')
        batch_op.drop_index('ix_certificate_lots_issued')
    op.drop_table('certificate_lots')
    op.drop_table('certificate_serial_counters')
