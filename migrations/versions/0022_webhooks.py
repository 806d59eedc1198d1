"""outbound webhooks: subscriptions, the transactional outbox, deliveries and their attempts
(docs/webhooks.md)

- `webhook_subscriptions`: where events are posted, the signing secret (encrypted), active or
  disabled (automatically after repeated failures), optionally one partner's;
- `webhook_subscription_events`: one row per subscribed event type (`*`: all);
- `webhook_events`: the outbox, written in the transaction of the change it describes;
- `webhook_deliveries` and `webhook_delivery_attempts`: each event to each subscription, and
  the log of its attempts.

New tables only; downgrading drops them (and every event and delivery log with them).

Revision ID: 0022
Revises: 0021
"""
from alembic import op
import sqlalchemy as sa

import models.base

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('webhook_subscriptions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('partner_id', sa.Uuid(), nullable=True),
    sa.Column('secret_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('disabled_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disabled_reason', sa.String(length=200), nullable=True),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'disabled') = (disabled_at IS NOT NULL)", name=op.f('ck_webhook_subscriptions_disabled_iff_dated')),
    sa.CheckConstraint('consecutive_failures BETWEEN 0 AND 1000000', name=op.f('ck_webhook_subscriptions_failures_range')),
    sa.CheckConstraint("status IN ('active', 'disabled')", name=op.f('ck_webhook_subscriptions_known_status')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_webhook_subscriptions_created_by_users')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_webhook_subscriptions_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_subscriptions'))
    )
    with op.batch_alter_table('webhook_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_subscriptions_partner_id'), ['partner_id'], unique=False)

    op.create_table('webhook_subscription_events',
    sa.Column('subscription_id', sa.Uuid(), nullable=False),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['subscription_id'], ['webhook_subscriptions.id'], name=op.f('fk_webhook_subscription_events_subscription_id_webhook_subscriptions')),
    sa.PrimaryKeyConstraint('subscription_id', 'event_type', name=op.f('pk_webhook_subscription_events'))
    )
    with op.batch_alter_table('webhook_subscription_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_subscription_events_event_type'), ['event_type'], unique=False)

    op.create_table('webhook_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.Column('partner_id', sa.Uuid(), nullable=True),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fanned_out_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events'))
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_events_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_events_user_id'), ['user_id'], unique=False)
        batch_op.create_index('ix_webhook_events_unfanned', ['created_at'], unique=False, postgresql_where=sa.text('fanned_out_at IS NULL'), sqlite_where=sa.text('fanned_out_at IS NULL'))

    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subscription_id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('manual', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lease_token', sa.Uuid(), nullable=True),
    sa.Column('leased_until', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('delivered_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(lease_token IS NULL) = (leased_until IS NULL)", name=op.f('ck_webhook_deliveries_lease_whole')),
    sa.CheckConstraint("(status = 'delivered') = (delivered_at IS NOT NULL)", name=op.f('ck_webhook_deliveries_delivered_iff_dated')),
    sa.CheckConstraint("(status = 'pending') = (next_attempt_at IS NOT NULL)", name=op.f('ck_webhook_deliveries_pending_iff_scheduled')),
    sa.CheckConstraint('attempts BETWEEN 0 AND 1000', name=op.f('ck_webhook_deliveries_attempts_range')),
    sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name=op.f('ck_webhook_deliveries_known_status')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_webhook_deliveries_created_by_users')),
    sa.ForeignKeyConstraint(['event_id'], ['webhook_events.id'], name=op.f('fk_webhook_deliveries_event_id_webhook_events')),
    sa.ForeignKeyConstraint(['subscription_id'], ['webhook_subscriptions.id'], name=op.f('fk_webhook_deliveries_subscription_id_webhook_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_event_id'), ['event_id'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_subscription_created', ['subscription_id', 'created_at'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_due', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.create_index('uq_webhook_deliveries_automatic', ['subscription_id', 'event_id'], unique=True, postgresql_where=sa.text('manual = false'), sqlite_where=sa.text('manual = 0'))

    op.create_table('webhook_delivery_attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('delivery_id', sa.Uuid(), nullable=False),
    sa.Column('attempt_no', sa.Integer(), nullable=False),
    sa.Column('attempted_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.CheckConstraint('attempt_no BETWEEN 1 AND 1000', name=op.f('ck_webhook_delivery_attempts_attempt_no_range')),
    sa.CheckConstraint('duration_ms BETWEEN 0 AND 86400000', name=op.f('ck_webhook_delivery_attempts_duration_range')),
    sa.ForeignKeyConstraint(['delivery_id'], ['webhook_deliveries.id'], name=op.f('fk_webhook_delivery_attempts_delivery_id_webhook_deliveries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery_attempts')),
    sa.UniqueConstraint('delivery_id', 'attempt_no', name=op.f('uq_webhook_delivery_attempts_delivery_id_attempt_no'))
    )


def downgrade():
    op.drop_table('webhook_delivery_attempts')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('uq_webhook_deliveries_automatic', postgresql_where=sa.text('manual = false'), sqlite_where=sa.text('manual = 0'))
        batch_op.drop_index('ix_webhook_deliveries_due', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.drop_index('ix_webhook_deliveries_subscription_created')
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_event_id'))
    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_events_unfanned', postgresql_where=sa.text('fanned_out_at IS NULL'), sqlite_where=sa.text('fanned_out_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_webhook_events_user_id'))
        batch_op.drop_index(batch_op.f('ix_webhook_events_created_at'))
    op.drop_table('webhook_events')
    with op.batch_alter_table('webhook_subscription_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_subscription_events_event_type'))
    op.drop_table('webhook_subscription_events')
    with op.batch_alter_table('webhook_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_subscriptions_partner_id'))
    op.drop_table('webhook_subscriptions')
