"""lighter indexes: only the ones a query uses, partial where most rows are NULL

Every index is written by every insert (and by every update that is not HOT), so each costs
WAL and time on the credit path. The review is docs/indexes.md (each index, the query it serves,
the decision, WAL per credit before and after). Here:

- ledger_transfers: no query looks a transfer up by posting, debit or credit account, so
  those three indexes go; `action_id`, `redemption_id` and `hold_id` are NULL on most transfers
  (an earn has no hold or redemption; holds, expiries and forfeits have no action) and are now
  indexed only where set.
- actions: the partner record id is unique per partner only where there is one (app claims,
  most rows, have none): the unique constraint becomes a partial unique index of the same name,
  so errors still name it; the overlap index covers only actions with a window
  (`started_at`); the methodology index follows what certificate issuance filters on
  (version, scheme day) instead of (version, occurred_at), which no query used.

On SQLite the unique constraint lives in the CREATE TABLE, and dropping it means rebuilding
`actions` (batch mode, as 0009 did for bindings): a one-off copy of the table, the only way
there. The ledger's tables are not rebuilt (their append-only triggers would go with them):
only their indexes change.

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

DROPPED_TRANSFER_INDEXES = {"ix_ledger_transfers_posting_id": "posting_id",
                            "ix_ledger_transfers_debit_account_id": "debit_account_id",
                            "ix_ledger_transfers_credit_account_id": "credit_account_id"}
PARTIAL_TRANSFER_COLUMNS = ("action_id", "redemption_id", "hold_id")
PARTNER_RECORD_KEY = ["partner_id", "external_id"]
OVERLAP_KEY = ["user_id", "scope_key", "started_at"]


def _where(predicate: str) -> dict:
    return {"postgresql_where": sa.text(predicate), "sqlite_where": sa.text(predicate)}


def upgrade():
    for name in DROPPED_TRANSFER_INDEXES:
        op.drop_index(name, table_name='ledger_transfers')
    for column in PARTIAL_TRANSFER_COLUMNS:
        name = f"ix_ledger_transfers_{column}"
        op.drop_index(name, table_name='ledger_transfers')
        op.create_index(name, 'ledger_transfers', [column], unique=False,
                        **_where(f"{column} IS NOT NULL"))

    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_actions_partner_external_id', type_='unique')
    op.create_index('uq_actions_partner_external_id', 'actions', PARTNER_RECORD_KEY, unique=True,
                    **_where("partner_id IS NOT NULL"))
    op.drop_index('ix_actions_user_scope_started', table_name='actions')
    op.create_index('ix_actions_user_scope_started', 'actions', OVERLAP_KEY, unique=False,
                    **_where("started_at IS NOT NULL"))
    op.drop_index('ix_actions_methodology_occurred', table_name='actions')
    op.create_index('ix_actions_methodology_day', 'actions',
                    ['methodology_version_id', 'scheme_day'], unique=False)


def downgrade():
    op.drop_index('ix_actions_methodology_day', table_name='actions')
    op.create_index('ix_actions_methodology_occurred', 'actions',
                    ['methodology_version_id', 'occurred_at'], unique=False)
    # The partial indexes go first: the SQLite rebuild then has only plain ones to copy.
    op.drop_index('ix_actions_user_scope_started', table_name='actions')
    op.drop_index('uq_actions_partner_external_id', table_name='actions')
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_actions_partner_external_id', PARTNER_RECORD_KEY)
    op.create_index('ix_actions_user_scope_started', 'actions', OVERLAP_KEY, unique=False)

    for column in PARTIAL_TRANSFER_COLUMNS:
        name = f"ix_ledger_transfers_{column}"
        op.drop_index(name, table_name='ledger_transfers')
        op.create_index(name, 'ledger_transfers', [column], unique=False)
    for name, column in DROPPED_TRANSFER_INDEXES.items():
        op.create_index(name, 'ledger_transfers', [column], unique=False)
