"""SQLite: no trigger on stored messages, no Unassigned index; both cost every ingested message

- ``chat_counts_message`` (0010, narrowed by 0013) skipped messages with a raw delivery, but
  SQLite still ran the trigger's program for each stored row to test that condition: 2.3 µs
  a message on the LINE ingest path, 12 % of its SQLite time. Its two statements now run in
  code, in the transaction of each of the two writers of messages
  (``inbox/message_writer.py``: ``MARK_INBOUND`` and ``MARK_UNREAD``; ingest's group commit
  already ran them once per batch).
- ``ix_chats_unassigned`` exists for PostgreSQL, which does not read the assignee index in
  order for ``assignee_id IS NULL``. SQLite does (``IS NULL`` is an equality there), so on
  SQLite the index only cost a page write in every group commit that moved a chat's
  ``last_message_at``. ``schema.py`` declares it for PostgreSQL only.

On PostgreSQL both stay for now: during a rolling upgrade the processes of the previous
release still write messages and rely on the trigger, and a trigger that finds nothing to do
is harmless next to the new code. Dropping it there is a contract step for a later release.
SQLite runs one process, so it has no rolling upgrade.

Revision ID: 0015_sqlite_counts_in_code
Revises: 0014_chat_event_seq
"""

from __future__ import annotations

from alembic import op

revision = "0015_sqlite_counts_in_code"
down_revision = "0014_chat_event_seq"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS chat_counts_message")
    op.execute("DROP INDEX IF EXISTS ix_chats_unassigned")


def downgrade() -> None:
    raise NotImplementedError("bridgekit migrates forward only")
