"""bonus reversals: a campaign bonus is taken back when actions behind it are reversed
(docs/engagement.md)

- `ledger_transfers.kind` gains `bonus_reversal` (citizen -> incentive; `reversal_of` names the
  `bonus` transfer it takes back from). The CHECK widens as in 0025 (`models.ddl.replace_checks`).
- `campaign_claims.clawed_back_points` (the sum of the claim's `bonus_reversal` transfers) and
  `shortfall_points` (what the citizen's balance could not cover), 0 for every claim before this
  revision; together never more than the claim's `points` (CHECK).

Downgrading drops the two columns and narrows the CHECK; once a `bonus_reversal` transfer exists
the downgrade is refused before anything changes (ledger history is never deleted).

Revision ID: 0027
Revises: 0026
"""
from alembic import op
import sqlalchemy as sa

from models.ddl import replace_checks

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

CHANGES = [
    ("ledger_transfers", "ck_ledger_transfers_known_kind",
     "kind IN ('earn', 'reserve', 'release', 'redeem', 'expire', 'reversal', 'adjustment', 'forfeit', 'donate', 'bonus')",
     "kind IN ('earn', 'reserve', 'release', 'redeem', 'expire', 'reversal', 'adjustment', 'forfeit', 'donate', 'bonus', 'bonus_reversal')"),
]
# Plain ALTER TABLE ... ADD COLUMN with each column's own CHECK (as 0024): no SQLite rebuild.
# The second column's CHECK names the first, so the downgrade drops it first.
_COLUMNS = (
    ('campaign_claims', 'clawed_back_points',
     "BIGINT DEFAULT 0 NOT NULL CONSTRAINT ck_campaign_claims_clawed_back_range "
     "CHECK (clawed_back_points BETWEEN 0 AND points)"),
    ('campaign_claims', 'shortfall_points',
     "BIGINT DEFAULT 0 NOT NULL CONSTRAINT ck_campaign_claims_reversed_within_paid "
     "CHECK (shortfall_points >= 0 AND clawed_back_points + shortfall_points <= points)"),
)


def upgrade():
    replace_checks(CHANGES)
    for table, column, definition in _COLUMNS:
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


def downgrade():
    taken = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM ledger_transfers WHERE kind = 'bonus_reversal'")).scalar()
    if taken:  # checked before anything changes: SQLite's DDL here is not transactional
        raise RuntimeError(f"{taken} bonus_reversal transfers are on the ledger; a downgrade "
                           "below 0027 would have to delete ledger history, so it is refused")
    for table, column, _ in reversed(_COLUMNS):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    replace_checks([(table, name, wanted, now) for table, name, now, wanted in reversed(CHANGES)])
