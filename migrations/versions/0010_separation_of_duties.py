"""separation of duties: four-eyes role grants, no admin+auditor, four-eyes retirement, settled lots

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

import models.base

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
