"""outbox delivery state: lease owner, plugin progress, start of the retry budget

Revision ID: 0005_delivery
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_delivery"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("progress", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("retry_from", sa.DateTime(), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("progress", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("retry_from")
        batch.drop_column("progress")
        batch.drop_column("lease_owner")
