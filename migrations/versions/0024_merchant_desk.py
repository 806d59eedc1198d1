"""merchant desk: a reward's category and image URL, and the merchant's lead (docs/merchants.md)

- `rewards.category`: one of REWARD_CATEGORIES (domain/vocabulary.py), `other` for every reward
  made before this revision; `rewards.image_url`: optional, `https://` only (CHECK; the
  service checks the rest).
- `users.merchant_lead`: the staff member who manages their merchant's staff; false for
  everyone before this revision (an admin makes the first lead); only with a merchant (CHECK).

Downgrading drops the three columns and their CHECK constraints.

Revision ID: 0024
Revises: 0023
"""
from alembic import op
import sqlalchemy as sa

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


# Added as columns with their own CHECKs (plain ALTER TABLE ... ADD COLUMN, both databases): a
# batch rebuild of `users` on SQLite would turn 0017's column CHECKs on `region` into table
# CHECKs, and 0017's downgrade (DROP COLUMN region) would then fail.
_CATEGORIES = "('food_drink', 'transport', 'retail', 'culture', 'services', 'other')"
_COLUMNS = (
    ('rewards', 'category', "VARCHAR(16) DEFAULT 'other' NOT NULL "
                            f"CONSTRAINT ck_rewards_known_category CHECK (category IN {_CATEGORIES})"),
    ('rewards', 'image_url', "VARCHAR(500) CONSTRAINT ck_rewards_image_url_https "
                             "CHECK (image_url IS NULL OR image_url LIKE 'https://%')"),
    ('users', 'merchant_lead', "BOOLEAN DEFAULT false NOT NULL CONSTRAINT ck_users_lead_has_merchant "
                               "CHECK (NOT merchant_lead OR partner_id IS NOT NULL)"),
)


def upgrade():
    for table, column, definition in _COLUMNS:
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


def downgrade():
    for table, column, _ in reversed(_COLUMNS):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
