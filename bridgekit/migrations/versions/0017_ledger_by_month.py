"""ledger: an index for reading a month of it (usage reports, F8, K7)

``GET /api/v1/usage`` sums a workspace's charges between two times and
``GET /api/v1/usage/charges`` pages through them newest first: without an index both read the
whole ledger, every paid send there ever was. ``id`` last, so a page's order (time, then id)
comes from the index on PostgreSQL too (SQLite appends the rowid to every index anyway).

Revision ID: 0017_ledger_by_month
Revises: 0016_sqlite_new_chats_counted
"""

from __future__ import annotations

from alembic import op

revision = "0017_ledger_by_month"
down_revision = "0016_sqlite_new_chats_counted"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ledger_workspace_id_created_at_id", "ledger", ["workspace_id", "created_at", "id"])


def downgrade() -> None:
    raise NotImplementedError("bridgekit migrates forward only")
