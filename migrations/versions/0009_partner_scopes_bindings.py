"""partner scopes, bindings with proven ownership and consent records

Existing partners get their kind's default scopes, valid from their creation. Existing bindings
are carried over as `active` consent records marked `migrated` (notice_version 'migrated',
granted_at = created_at, scopes = the partner's default action types); bindings to merchants and
enterprise buyers, which report nothing, are carried over as `ended` now. Partner actions stored
before this migration came through no recorded binding: when there are any, an audit row
`migration.0009` records the instant, and `ledger verify` checks partner actions received after it.

Revision ID: 0009
Revises: 0008
"""
import datetime as dt
import uuid

from alembic import op
import sqlalchemy as sa

import models.base

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

DEFAULT_ACTION_TYPE = {"transit_operator": "transit", "charging_operator": "ev_charging",
                       "recycling_operator": "waste_sorting"}
PURPOSES = {
    "transit_operator": (
        "Credit the carbon reduction of your public-transport trips: the operator sends the "
        "scheme each trip made with this card or account (start and end time, mode, distance or "
        "boardings), used only to quantify and credit points."),
    "charging_operator": (
        "Credit the carbon reduction of your electric-vehicle charging: the operator sends the "
        "scheme each charging session of this account (start and end time, energy, station), "
        "used only to quantify and credit points."),
    "recycling_operator": (
        "Credit the carbon reduction of your sorted waste: the operator sends the scheme each "
        "drop-off made with this card (category, weight, station, time), used only to quantify "
        "and credit points."),
}
NO_PURPOSE = "Migrated binding to a partner that reports no actions; ended by migration 0009."

partners = sa.table('partners', sa.column('id', sa.Uuid()), sa.column('kind', sa.String()),
                    sa.column('created_at', models.base.UTCDateTime(timezone=True)))
partner_scopes = sa.table('partner_scopes', sa.column('id', sa.Uuid()),
                          sa.column('partner_id', sa.Uuid()), sa.column('action_type', sa.String()),
                          sa.column('mode', sa.String()),
                          sa.column('valid_from', models.base.UTCDateTime(timezone=True)),
                          sa.column('valid_until', models.base.UTCDateTime(timezone=True)))
bindings = sa.table('bindings', sa.column('id', sa.Uuid()), sa.column('partner_id', sa.Uuid()),
                    sa.column('status', sa.String()), sa.column('purpose', sa.Text()),
                    sa.column('scopes', sa.JSON()), sa.column('notice_version', sa.String()),
                    sa.column('failed_confirmations', sa.Integer()),
                    sa.column('granted_at', models.base.UTCDateTime(timezone=True)),
                    sa.column('ended_at', models.base.UTCDateTime(timezone=True)),
                    sa.column('created_at', models.base.UTCDateTime(timezone=True)))
audit_log = sa.table('audit_log', sa.column('action', sa.String()),
                     sa.column('object_type', sa.String()), sa.column('object_id', sa.String()),
                     sa.column('details', sa.JSON()),
                     sa.column('created_at', models.base.UTCDateTime(timezone=True)))


def upgrade():
    op.create_table('partner_scopes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('action_type', sa.String(length=16), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=True),
    sa.Column('valid_from', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_until', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("action_type IN ('transit', 'ev_charging', 'waste_sorting')", name=op.f('ck_partner_scopes_known_action_type')),
    sa.CheckConstraint("mode IS NULL OR (action_type = 'transit' AND mode IN ('metro', 'bus', 'bike', 'walk'))", name=op.f('ck_partner_scopes_known_mode')),
    sa.CheckConstraint('valid_until IS NULL OR valid_until >= valid_from', name=op.f('ck_partner_scopes_valid_period')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_partner_scopes_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_scopes'))
    )
    with op.batch_alter_table('partner_scopes', schema=None) as batch_op:
        batch_op.create_index('ix_partner_scopes_partner_period', ['partner_id', 'valid_from'], unique=False)

    with op.batch_alter_table('bindings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('confirmation_code_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('code_expires_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failed_confirmations', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('purpose', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('scopes', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('notice_version', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('granted_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('covers_from', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ended_at', models.base.UTCDateTime(timezone=True), nullable=True))

    conn = op.get_bind()
    now = dt.datetime.now(dt.timezone.utc)
    kinds = {}
    scope_rows = []
    for partner_id, kind, created_at in conn.execute(
            sa.select(partners.c.id, partners.c.kind, partners.c.created_at)):
        kinds[partner_id] = kind
        if kind in DEFAULT_ACTION_TYPE:
            scope_rows.append({"id": uuid.uuid4(), "partner_id": partner_id,
                               "action_type": DEFAULT_ACTION_TYPE[kind], "mode": None,
                               "valid_from": created_at, "valid_until": None})
    if scope_rows:
        op.bulk_insert(partner_scopes, scope_rows)
    for binding_id, partner_id, created_at in conn.execute(
            sa.select(bindings.c.id, bindings.c.partner_id, bindings.c.created_at)):
        kind = kinds[partner_id]
        reports = kind in DEFAULT_ACTION_TYPE
        conn.execute(bindings.update().where(bindings.c.id == binding_id).values(
            status="active" if reports else "ended",
            purpose=PURPOSES.get(kind, NO_PURPOSE),
            scopes=[DEFAULT_ACTION_TYPE[kind]] if reports else [],
            notice_version="migrated", failed_confirmations=0, granted_at=created_at,
            ended_at=None if reports else now))
    has_partner_actions = conn.execute(
        sa.text("SELECT 1 FROM actions WHERE channel = 'partner' LIMIT 1")).first() is not None
    if has_partner_actions:
        op.bulk_insert(audit_log, [{"action": "migration.0009", "object_type": "migration",
                                    "object_id": "0009", "created_at": now,
                                    "details": {"note": "partner actions before this instant "
                                                        "predate partner scopes and bindings"}}])

    with op.batch_alter_table('bindings', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column('failed_confirmations', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('purpose', existing_type=sa.Text(), nullable=False)
        batch_op.alter_column('scopes', existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column('notice_version', existing_type=sa.String(length=16), nullable=False)
        batch_op.drop_constraint('uq_bindings_partner_ref', type_='unique')
        batch_op.create_index('ix_bindings_partner_ref', ['partner_id', 'external_ref_hash'], unique=False)
        batch_op.create_index('uq_bindings_active_partner_ref', ['partner_id', 'external_ref_hash'], unique=True,
                              sqlite_where=sa.text("status = 'active'"),
                              postgresql_where=sa.text("status = 'active'"))
        batch_op.create_check_constraint(batch_op.f('ck_bindings_known_status'), "status IN ('pending', 'active', 'ended', 'withdrawn', 'expired')")
        batch_op.create_check_constraint(batch_op.f('ck_bindings_granted_when_activated'), "status NOT IN ('active', 'ended') OR granted_at IS NOT NULL")
        batch_op.create_check_constraint(batch_op.f('ck_bindings_withdrawn_iff_withdrawn_at'), "(status = 'withdrawn') = (withdrawn_at IS NOT NULL)")
        batch_op.create_check_constraint(batch_op.f('ck_bindings_active_not_ended'), "status <> 'active' OR ended_at IS NULL")
        batch_op.create_check_constraint(batch_op.f('ck_bindings_ended_has_end'), "status <> 'ended' OR ended_at IS NOT NULL")
        batch_op.create_check_constraint(batch_op.f('ck_bindings_pending_has_code'), "status <> 'pending' OR (confirmation_code_hash IS NOT NULL AND code_expires_at IS NOT NULL)")
        batch_op.create_check_constraint(batch_op.f('ck_bindings_failed_confirmations_range'), 'failed_confirmations BETWEEN 0 AND 100')

    # Not a batch: recreating `actions` on SQLite would copy the largest table; SQLite adds
    # a column with an inline REFERENCES clause.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE actions ADD COLUMN binding_id CHAR(32) '
                   'CONSTRAINT fk_actions_binding_id_bindings REFERENCES bindings (id)')
    else:
        op.add_column('actions', sa.Column('binding_id', sa.Uuid(), nullable=True))
        op.create_foreign_key(op.f('fk_actions_binding_id_bindings'), 'actions', 'bindings',
                              ['binding_id'], ['id'])


def downgrade():
    with op.batch_alter_table('actions', schema=None) as batch_op:
        if op.get_bind().dialect.name != 'sqlite':  # SQLite: the inline reference goes with it
            batch_op.drop_constraint(batch_op.f('fk_actions_binding_id_bindings'), type_='foreignkey')
        batch_op.drop_column('binding_id')

    # Only bindings that could receive records go back; pending and ended history is lost.
    conn = op.get_bind()
    conn.execute(sa.text("DELETE FROM bindings WHERE status <> 'active'"))
    with op.batch_alter_table('bindings', schema=None) as batch_op:
        for name in ('known_status', 'granted_when_activated', 'withdrawn_iff_withdrawn_at',
                     'active_not_ended', 'ended_has_end', 'pending_has_code',
                     'failed_confirmations_range'):
            batch_op.drop_constraint(batch_op.f(f'ck_bindings_{name}'), type_='check')
        batch_op.drop_index('uq_bindings_active_partner_ref')
        batch_op.drop_index('ix_bindings_partner_ref')
        batch_op.create_unique_constraint('uq_bindings_partner_ref', ['partner_id', 'external_ref_hash'])
        for column in ('ended_at', 'covers_from', 'withdrawn_at', 'granted_at', 'notice_version',
                       'scopes', 'purpose', 'failed_confirmations', 'code_expires_at',
                       'confirmation_code_hash', 'status'):
            batch_op.drop_column(column)

    with op.batch_alter_table('partner_scopes', schema=None) as batch_op:
        batch_op.drop_index('ix_partner_scopes_partner_period')
    op.drop_table('partner_scopes')
