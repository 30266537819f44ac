"""chat event sequence: ``chats.event_seq`` numbers the realtime events of each chat

On PostgreSQL every transaction that publishes events about a chat adds one to the chat's
``event_seq`` under the chat's row lock and stamps its events with the number, so the numbers
of one chat follow commit order and a receiving process can put events that arrive out of
order back in it (``bridgekit/runtime/events.py``). SQLite (one process) leaves it at 0.
An expand step: old processes of a rolling upgrade neither read nor write it.

Revision ID: 0014_chat_event_seq
Revises: 0013_ingest_counts_per_batch
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_chat_event_seq"
down_revision = "0013_ingest_counts_per_batch"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("chats", sa.Column("event_seq", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.drop_column("event_seq")
