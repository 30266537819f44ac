"""rate_hits: the rate limits' counts in the database, shared by every process

The limits of ``[limits]`` (customer-link guesses, customer posts, sign-in failures) were
counted in each process's memory: behind a proxy spreading requests over P processes an
address got P times each rate, and a restart forgot every count.

Revision ID: 0018_rate_hits
Revises: 0017_ledger_by_month
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_rate_hits"
down_revision = "0017_ledger_by_month"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rate_hits"),
    )
    op.create_index("ix_rate_hits_key_at", "rate_hits", ["key", "at"])


def downgrade() -> None:
    raise NotImplementedError("bridgekit migrates forward only")
