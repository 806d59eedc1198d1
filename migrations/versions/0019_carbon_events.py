"""carbon-neutral events: an event's recorded footprint, and the retired serials counted for it

`carbon_events` holds the footprint (grams CO2e, how it was computed, the report it comes from)
and the enterprise buyer answerable for the event's neutrality. `carbon_event_retirements`
holds one row per retired block counted for an event, written with the retirement;
UNIQUE(block_id): a retired block counts for one event at most. Both are append-only: a
footprint is never lowered after too little was retired, and a counted retirement stays
counted (docs/events.md).

New tables only: nothing existing is altered. Downgrading drops them.

Revision ID: 0019
Revises: 0018
"""
from alembic import op
import sqlalchemy as sa

import models.base
from models.ddl import drop_append_only, make_append_only

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

# The vocabulary and the region registry as of this revision.
_KINDS = "kind IN ('conference', 'marathon', 'wedding', 'exhibition', 'other')"
_CODES = ('320505', '320506', '320507', '320508', '320509', '320571', '320581', '320582',
          '320583', '320585')
_KNOWN_REGION = "region IN (" + ", ".join(f"'{c}'" for c in _CODES) + ")"
MAX_FOOTPRINT_G = 10**13
MAX_UNITS = 10**12
MAX_LOT_MG = 10**18


def _events() -> None:
    op.create_table('carbon_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('organiser', sa.String(length=200), nullable=False),
    sa.Column('buyer_partner_id', sa.Uuid(), nullable=False),
    sa.Column('region', sa.String(length=6), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('footprint_g', sa.BigInteger(), nullable=False),
    sa.Column('footprint_basis', sa.Text(), nullable=False),
    sa.Column('footprint_report_ref', sa.String(length=200), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint(_KINDS, name=op.f('ck_carbon_events_known_kind')),
    sa.CheckConstraint(_KNOWN_REGION, name=op.f('ck_carbon_events_known_region')),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_carbon_events_dates_in_order')),
    sa.CheckConstraint(f'footprint_g BETWEEN 1 AND {MAX_FOOTPRINT_G}', name=op.f('ck_carbon_events_footprint_range')),
    sa.ForeignKeyConstraint(['buyer_partner_id'], ['partners.id'], name=op.f('fk_carbon_events_buyer_partner_id_partners')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_carbon_events_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carbon_events')))
    op.create_index('ix_carbon_events_created', 'carbon_events', ['created_at', 'id'], unique=False)
    make_append_only('carbon_events')


def _retirements() -> None:
    op.create_table('carbon_event_retirements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('block_id', sa.Uuid(), nullable=False),
    sa.Column('lot_id', sa.Uuid(), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.Column('retired_mg', sa.BigInteger(), nullable=False),
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint(f'quantity BETWEEN 1 AND {MAX_UNITS}', name=op.f('ck_carbon_event_retirements_quantity_range')),
    sa.CheckConstraint(f'retired_mg BETWEEN 1 AND {MAX_LOT_MG}', name=op.f('ck_carbon_event_retirements_retired_range')),
    sa.ForeignKeyConstraint(['event_id'], ['carbon_events.id'], name=op.f('fk_carbon_event_retirements_event_id_carbon_events')),
    sa.ForeignKeyConstraint(['block_id'], ['certificate_blocks.id'], name=op.f('fk_carbon_event_retirements_block_id_certificate_blocks')),
    sa.ForeignKeyConstraint(['lot_id'], ['certificate_lots.id'], name=op.f('fk_carbon_event_retirements_lot_id_certificate_lots')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_carbon_event_retirements_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carbon_event_retirements')),
    sa.UniqueConstraint('block_id', name=op.f('uq_carbon_event_retirements_block_id')))
    op.create_index('ix_carbon_event_retirements_event', 'carbon_event_retirements',
                    ['event_id', 'id'], unique=False)
    make_append_only('carbon_event_retirements')


def upgrade():
    _events()
    _retirements()


def downgrade():
    drop_append_only('carbon_event_retirements')
    op.drop_index('ix_carbon_event_retirements_event', table_name='carbon_event_retirements')
    op.drop_table('carbon_event_retirements')
    drop_append_only('carbon_events')
    op.drop_index('ix_carbon_events_created', table_name='carbon_events')
    op.drop_table('carbon_events')
