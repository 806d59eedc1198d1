"""engagement: campaigns, challenges, check-ins, the incentive account (docs/engagement.md)

The ledger gains a system account kind, `incentive` (it issues campaign bonuses: points with no
grams behind them, never part of a reduction figure), and a transfer kind, `bonus` (incentive ->
citizen). The CHECKs widen as in 0020 (`models.ddl.replace_checks`; every existing row satisfies
the wider ones).

- `campaigns`: a challenge (count of matching credited actions, streak of days with one, or
  streak of check-ins), its window in scheme days, bonus per completion, per-citizen cap and
  budget; `spent_points` never passes the budget (CHECK; a conditional update per claim).
- `campaign_claims`: one per citizen per campaign (UNIQUE), with the `bonus` transfer that paid
  it (the transfer is on the hash-chained ledger; `ledger verify` checks claim and transfer
  agree, as for donations).
- `check_ins`: one per citizen per scheme day (the primary key).

Downgrading drops the three tables; once a `bonus` transfer exists the downgrade is refused
before anything is dropped (ledger history is never deleted to make a downgrade pass).

Revision ID: 0025
Revises: 0024
"""
from alembic import op
import sqlalchemy as sa

import models.base
from models.ddl import replace_checks

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

CHANGES = [
    ("ledger_accounts", "ck_ledger_accounts_known_kind",
     "kind IN ('citizen', 'merchant', 'issuance', 'holds', 'expiry', 'forfeiture', 'project')",
     "kind IN ('citizen', 'merchant', 'issuance', 'holds', 'expiry', 'forfeiture', 'incentive', 'project')"),
    ("ledger_accounts", "ck_ledger_accounts_system_has_code",
     "(system_code IS NOT NULL) = (kind IN ('issuance', 'holds', 'expiry', 'forfeiture'))",
     "(system_code IS NOT NULL) = (kind IN ('issuance', 'holds', 'expiry', 'forfeiture', 'incentive'))"),
    ("ledger_transfers", "ck_ledger_transfers_known_kind",
     "kind IN ('earn', 'reserve', 'release', 'redeem', 'expire', 'reversal', 'adjustment', 'forfeit', 'donate')",
     "kind IN ('earn', 'reserve', 'release', 'redeem', 'expire', 'reversal', 'adjustment', 'forfeit', 'donate', 'bonus')"),
]


def upgrade():
    replace_checks(CHANGES)
    op.create_table('campaigns',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('action_type', sa.String(length=16), nullable=True),
    sa.Column('mode', sa.String(length=16), nullable=True),
    sa.Column('target', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('bonus_points', sa.BigInteger(), nullable=False),
    sa.Column('per_citizen_cap', sa.BigInteger(), nullable=False),
    sa.Column('budget_points', sa.BigInteger(), nullable=False),
    sa.Column('spent_points', sa.BigInteger(), nullable=False),
    sa.Column('claims', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('count', 'streak', 'check_in_streak')", name=op.f('ck_campaigns_known_kind')),
    sa.CheckConstraint("status IN ('open', 'closed')", name=op.f('ck_campaigns_known_status')),
    sa.CheckConstraint("action_type IS NULL OR action_type IN ('transit', 'ev_charging', 'waste_sorting', 'everyday', 'household_energy')", name=op.f('ck_campaigns_known_action_type')),
    sa.CheckConstraint('mode IS NULL OR action_type IS NOT NULL', name=op.f('ck_campaigns_mode_needs_type')),
    sa.CheckConstraint('target BETWEEN 1 AND 1000', name=op.f('ck_campaigns_target_range')),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_campaigns_window_ordered')),
    sa.CheckConstraint('bonus_points BETWEEN 1 AND 1000000', name=op.f('ck_campaigns_bonus_range')),
    sa.CheckConstraint('per_citizen_cap BETWEEN bonus_points AND 1000000000000', name=op.f('ck_campaigns_cap_range')),
    sa.CheckConstraint('budget_points BETWEEN bonus_points AND 1000000000000000', name=op.f('ck_campaigns_budget_range')),
    sa.CheckConstraint('spent_points BETWEEN 0 AND budget_points', name=op.f('ck_campaigns_spent_within_budget')),
    sa.CheckConstraint('claims >= 0', name=op.f('ck_campaigns_claims_counted')),
    sa.CheckConstraint("(status = 'open') = (closed_at IS NULL)", name=op.f('ck_campaigns_closed_iff_dated')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_campaigns_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')))
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index('ix_campaigns_created', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_campaigns_status_window', ['status', 'starts_on'], unique=False)

    op.create_table('campaign_claims',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('campaign_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('completions', sa.Integer(), nullable=False),
    sa.Column('transfer_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('points BETWEEN 1 AND 1000000000000', name=op.f('ck_campaign_claims_points_range')),
    sa.CheckConstraint('completions BETWEEN 1 AND 1000000000000', name=op.f('ck_campaign_claims_completions_range')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_claims_campaign_id_campaigns')),
    sa.ForeignKeyConstraint(['transfer_id'], ['ledger_transfer_keys.id'], name=op.f('fk_campaign_claims_transfer_id_ledger_transfer_keys')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_campaign_claims_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_claims')),
    sa.UniqueConstraint('campaign_id', 'user_id', name=op.f('uq_campaign_claims_campaign_id_user_id')),
    sa.UniqueConstraint('transfer_id', name=op.f('uq_campaign_claims_transfer_id')))
    with op.batch_alter_table('campaign_claims', schema=None) as batch_op:
        batch_op.create_index('ix_campaign_claims_user', ['user_id', 'created_at'], unique=False)

    op.create_table('check_ins',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_check_ins_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'day', name=op.f('pk_check_ins')))


def downgrade():
    paid = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM ledger_transfers WHERE kind = 'bonus'")).scalar()
    if paid:  # checked before anything is dropped: SQLite's DDL here is not transactional
        raise RuntimeError(f"{paid} bonus transfers are on the ledger; a downgrade below 0025 "
                           "would have to delete ledger history, so it is refused")
    op.drop_table('check_ins')
    with op.batch_alter_table('campaign_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_claims_user')
    op.drop_table('campaign_claims')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index('ix_campaigns_status_window')
        batch_op.drop_index('ix_campaigns_created')
    op.drop_table('campaigns')
    op.execute("DELETE FROM ledger_accounts WHERE kind = 'incentive'")
    replace_checks([(table, name, wanted, now) for table, name, now, wanted in reversed(CHANGES)])
