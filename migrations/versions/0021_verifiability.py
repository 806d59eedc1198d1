"""verifiability: the service's signing keys, signed chain heads, lot manifests and retirement
certificates (docs/verification.md)

- `signing_keys`: Ed25519 key pairs; the private half encrypted with a key derived from the
  application secret; at most one active (partial unique index). No key is created here: the
  first signature creates one (`services/signing.py`), or `flask signing-keys rotate` does.
- `signed_chain_heads`: the chain head after each seal that added links, as signed. Append-only.
- `certificate_lot_manifests`: each lot's Merkle root over its salted leaves and the secret the
  salts are derived from. Lots issued before this revision get theirs the first time their
  manifest is asked for (under the lot's row lock), from their append-only membership.
- `retirement_certificates` and `retirement_certificate_blocks`: one certificate per retirement.
  Blocks retired before this revision each get a certificate of their own here. Both
  append-only.

Downgrading drops the five tables; the ledger and the registry themselves are untouched.

Revision ID: 0021
Revises: 0020
"""
import uuid

from alembic import op
import sqlalchemy as sa

import models.base
from models.ddl import drop_append_only, make_append_only

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

APPEND_ONLY = ('signed_chain_heads', 'certificate_lot_manifests', 'retirement_certificates',
               'retirement_certificate_blocks')


def upgrade():
    op.create_table('signing_keys',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('algorithm', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.String(length=64), nullable=False),
    sa.Column('private_key_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(status = 'active') = (retired_at IS NULL)", name=op.f('ck_signing_keys_retired_iff_dated')),
    sa.CheckConstraint("algorithm IN ('Ed25519')", name=op.f('ck_signing_keys_known_algorithm')),
    sa.CheckConstraint("status IN ('active', 'retired')", name=op.f('ck_signing_keys_known_status')),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_signing_keys'))
    )
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.create_index('uq_signing_keys_one_active', ['status'], unique=True, postgresql_where=sa.text("status = 'active'"), sqlite_where=sa.text("status = 'active'"))

    op.create_table('signed_chain_heads',
    sa.Column('position', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('transfers_sealed', sa.Integer(), nullable=False),
    sa.Column('sealed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.CheckConstraint('position >= 1', name=op.f('ck_signed_chain_heads_position_positive')),
    sa.CheckConstraint('transfers_sealed >= 1', name=op.f('ck_signed_chain_heads_sealed_something')),
    sa.ForeignKeyConstraint(['kid'], ['signing_keys.kid'], name=op.f('fk_signed_chain_heads_kid_signing_keys')),
    sa.PrimaryKeyConstraint('position', name=op.f('pk_signed_chain_heads'))
    )
    op.create_table('certificate_lot_manifests',
    sa.Column('lot_id', sa.Uuid(), nullable=False),
    sa.Column('leaf_secret', sa.LargeBinary(), nullable=False),
    sa.Column('tree_size', sa.Integer(), nullable=False),
    sa.Column('root_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('tree_size >= 1', name=op.f('ck_certificate_lot_manifests_tree_not_empty')),
    sa.ForeignKeyConstraint(['lot_id'], ['certificate_lots.id'], name=op.f('fk_certificate_lot_manifests_lot_id_certificate_lots')),
    sa.PrimaryKeyConstraint('lot_id', name=op.f('pk_certificate_lot_manifests'))
    )
    op.create_table('retirement_certificates',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('lot_id', sa.Uuid(), nullable=False),
    sa.Column('beneficiary', sa.String(length=200), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.Column('retired_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quantity BETWEEN 1 AND 1000000000000', name=op.f('ck_retirement_certificates_quantity_range')),
    sa.ForeignKeyConstraint(['lot_id'], ['certificate_lots.id'], name=op.f('fk_retirement_certificates_lot_id_certificate_lots')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retirement_certificates'))
    )
    with op.batch_alter_table('retirement_certificates', schema=None) as batch_op:
        batch_op.create_index('ix_retirement_certificates_lot_id', ['lot_id'], unique=False)

    op.create_table('retirement_certificate_blocks',
    sa.Column('block_id', sa.Uuid(), nullable=False),
    sa.Column('certificate_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['block_id'], ['certificate_blocks.id'], name=op.f('fk_retirement_certificate_blocks_block_id_certificate_blocks')),
    sa.ForeignKeyConstraint(['certificate_id'], ['retirement_certificates.id'], name=op.f('fk_retirement_certificate_blocks_certificate_id_retirement_certificates')),
    sa.PrimaryKeyConstraint('block_id', name=op.f('pk_retirement_certificate_blocks'))
    )
    with op.batch_alter_table('retirement_certificate_blocks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retirement_certificate_blocks_certificate_id'), ['certificate_id'], unique=False)

    _certify_earlier_retirements()
    for table in APPEND_ONLY:
        make_append_only(table)


def _certify_earlier_retirements():
    """Each block retired before this revision becomes a certificate of its own."""
    bind = op.get_bind()
    blocks = sa.table('certificate_blocks', sa.column('id', sa.Uuid()), sa.column('lot_id', sa.Uuid()),
                      sa.column('status'), sa.column('beneficiary'), sa.column('purpose'),
                      sa.column('quantity'), sa.column('retired_at', models.base.UTCDateTime()))
    certificates = sa.table('retirement_certificates', sa.column('id', sa.Uuid()),
                            sa.column('lot_id', sa.Uuid()), sa.column('beneficiary'),
                            sa.column('purpose'), sa.column('quantity'),
                            sa.column('retired_at', models.base.UTCDateTime()))
    members = sa.table('retirement_certificate_blocks', sa.column('block_id', sa.Uuid()),
                       sa.column('certificate_id', sa.Uuid()))
    retired = bind.execute(sa.select(blocks).where(blocks.c.status == 'retired')
                           .order_by(blocks.c.retired_at, blocks.c.id)).all()
    for block in retired:
        certificate_id = uuid.uuid4()
        bind.execute(certificates.insert().values(
            id=certificate_id, lot_id=block.lot_id, beneficiary=block.beneficiary,
            purpose=block.purpose, quantity=block.quantity, retired_at=block.retired_at))
        bind.execute(members.insert().values(block_id=block.id, certificate_id=certificate_id))


def downgrade():
    for table in APPEND_ONLY:
        drop_append_only(table)
    with op.batch_alter_table('retirement_certificate_blocks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retirement_certificate_blocks_certificate_id'))
    op.drop_table('retirement_certificate_blocks')
    with op.batch_alter_table('retirement_certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_retirement_certificates_lot_id')
    op.drop_table('retirement_certificates')
    op.drop_table('certificate_lot_manifests')
    op.drop_table('signed_chain_heads')
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.drop_index('uq_signing_keys_one_active', postgresql_where=sa.text("status = 'active'"), sqlite_where=sa.text("status = 'active'"))
    op.drop_table('signing_keys')
