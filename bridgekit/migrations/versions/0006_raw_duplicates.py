"""raw_deliveries.duplicates: a redelivered webhook is counted on its first row, not stored again

Revision ID: 0006_raw_duplicates
Revises: 0005_delivery
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_raw_duplicates"
down_revision = "0005_delivery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("raw_deliveries") as batch_op:
        batch_op.add_column(sa.Column("duplicates", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("raw_deliveries") as batch_op:
        batch_op.drop_column("duplicates")
