"""ingest counts per batch: the count triggers no longer fire for every message ingest stores

Migration 0010's triggers ran on every row of the ingest group commit: the message trigger
ran two UPDATEs per stored message, and the chat-update trigger fired for every chat whose
``last_message_at`` moved, only to find that no counted column changed. On the LINE ingest
path that was about 5 µs of SQLite work a webhook (a quarter of its SQLite time).

- ``chat_counts_chat_update`` now names the counted columns (``AFTER UPDATE OF ...``): an
  UPDATE that sets none of them (the group commit's ``last_message_at``) skips it when the
  statement is prepared, not per row.
- ``chat_counts_message`` now fires only for messages without a raw delivery. A message with
  one was stored by ingest, whose group commit does the same per batch, in one statement each
  (``ingest/pipeline.py``, ``MARK_INBOUND`` and ``MARK_UNREAD``): the chats it touched have a
  customer message, and their read markers are recomputed by the rule of the recount.

Revision ID: 0013_ingest_counts_per_batch
Revises: 0012_tag_view_index
"""

from __future__ import annotations

from alembic import op

revision = "0013_ingest_counts_per_batch"
down_revision = "0012_tag_view_index"
branch_labels = None
depends_on = None

# Migration 0010's, unchanged: the figures depend on these chat columns.
_COLUMNS = ("workspace_id", "state", "assignee_id", "team_id", "integration_id", "has_inbound")
_NEW_MESSAGE = (
    "UPDATE chats SET has_inbound = TRUE"
    " WHERE id = NEW.chat_id AND NEW.direction = 'inbound' AND NOT has_inbound",
    "UPDATE read_markers SET unread = TRUE WHERE chat_id = NEW.chat_id AND NOT unread"
    " AND last_read_message_id < NEW.id"
    " AND (NEW.author_kind <> 'manager' OR NEW.author_id IS NULL OR NEW.author_id <> manager_id)",
)
_NOT_INGESTED = "NEW.raw_delivery_id IS NULL"


def _chat_update_body_sqlite() -> str:
    """Migration 0010's body of ``chat_counts_chat_update``, as SQLite stored it."""
    sql = op.get_bind().exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'chat_counts_chat_update'"
    )
    created = str(sql.scalar_one())
    return created[created.index("\nBEGIN") :]


def upgrade() -> None:
    columns = ", ".join(_COLUMNS)
    if op.get_bind().dialect.name == "postgresql":
        # The functions stay; only the triggers' firing conditions change.
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _COLUMNS)
        op.execute("DROP TRIGGER chat_counts_chat_update ON chats")
        op.execute(
            f"CREATE TRIGGER chat_counts_chat_update AFTER UPDATE OF {columns} ON chats"
            f" FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION chat_counts_chat_update()"
        )
        op.execute("DROP TRIGGER chat_counts_message ON messages")
        op.execute(
            "CREATE TRIGGER chat_counts_message AFTER INSERT ON messages"
            f" FOR EACH ROW WHEN ({_NOT_INGESTED}) EXECUTE FUNCTION chat_counts_message()"
        )
        return
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _COLUMNS)
    body = _chat_update_body_sqlite()
    op.execute("DROP TRIGGER chat_counts_chat_update")
    op.execute(
        f"CREATE TRIGGER chat_counts_chat_update AFTER UPDATE OF {columns} ON chats"
        f" FOR EACH ROW WHEN {changed}{body}"
    )
    op.execute("DROP TRIGGER chat_counts_message")
    statements = "".join(f"  {b};\n" for b in _NEW_MESSAGE)
    op.execute(
        "CREATE TRIGGER chat_counts_message AFTER INSERT ON messages"
        f" FOR EACH ROW WHEN {_NOT_INGESTED}\nBEGIN\n{statements}END"
    )


def downgrade() -> None:
    raise NotImplementedError("bridgekit migrates forward only")
