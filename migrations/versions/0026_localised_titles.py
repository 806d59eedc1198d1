"""localised titles: a methodology's Simplified Chinese title (docs/localisation.md)

- `methodologies.title_zh`: optional, at most 200 characters like `title`; served instead of the
  English title to clients that ask for Chinese (Accept-Language). Null for every methodology
  made before this revision: `flask seed` fills it for the seeded ones from
  carbon_credits/data/seed_methodologies.json (never overwriting one that is set), and an
  admin-made methodology without one is shown with its English title.

The English `title` is unchanged and stays the record; neither title is part of any hash,
receipt or signed document. Downgrading drops the column.

Revision ID: 0026
Revises: 0025
"""
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


# A plain ALTER TABLE ... ADD/DROP COLUMN on both databases (as 0024): no SQLite batch rebuild
# of `methodologies`, whose CHECKs later revisions replaced.
def upgrade():
    op.execute("ALTER TABLE methodologies ADD COLUMN title_zh VARCHAR(200)")


def downgrade():
    op.execute("ALTER TABLE methodologies DROP COLUMN title_zh")
