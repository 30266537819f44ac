"""partial indexes: provider ids of outbound messages, kept (not accepted) raw deliveries

Both indexes held a row for every inbound webhook that no query ever looks up (inbound
messages have no provider id; nearly every raw delivery is "accepted"): ~5 of the 48
pages a group commit of 29 LINE messages wrote.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_PROVIDER_ID = "ix_messages_integration_id_provider_message_id"


def upgrade() -> None:
    op.drop_index(_PROVIDER_ID, table_name="messages")
    op.create_index(
        _PROVIDER_ID,
        "messages",
        ["integration_id", "provider_message_id"],
        sqlite_where=sa.text("provider_message_id IS NOT NULL"),
        postgresql_where=sa.text("provider_message_id IS NOT NULL"),
    )
    op.drop_index("ix_raw_deliveries_status", table_name="raw_deliveries")
    op.create_index(
        "ix_raw_deliveries_kept",
        "raw_deliveries",
        ["status"],
        sqlite_where=sa.text("status != 'accepted'"),
        postgresql_where=sa.text("status != 'accepted'"),
    )


def downgrade() -> None:
    op.drop_index("ix_raw_deliveries_kept", table_name="raw_deliveries")
    op.create_index("ix_raw_deliveries_status", "raw_deliveries", ["status"])
    op.drop_index(_PROVIDER_ID, table_name="messages")
    op.create_index(_PROVIDER_ID, "messages", ["integration_id", "provider_message_id"])
