"""tag view index: each tag row carries its chat's workspace, state and sort keys

"Chats with tag X" (open, latest first, 50 a page) walked the open chats latest first and
probed each for the tag: with the tag on 1 in 80 open chats, about 4,000 probes a page at 1M
chats on PostgreSQL (3.4 times the time at 10k). Now ``chat_tags`` holds copies of its chat's
``workspace_id``, ``state``, ``last_message_at`` and ``created_at``, kept by database triggers
(every writer is covered without knowing about it), and two indexes give every page of the
tag view, in each sort order, as one index range read in order.

The copies are set when a tag row is written (from its chat) and follow every change of those
chat columns: the chat trigger fires only when one of them changes and updates the chat's tag
rows through the primary key (``chat_id`` first), a no-op for an untagged chat. Except
``last_message_at``, which every stored message moves: a trigger on it fired for every chat
the ingest group commit touched (+3.5 µs a chat on SQLite), so the two writers of that column
(``bridgekit/ingest/pipeline.py``, ``bridgekit/inbox/message_writer.py``) update the tag rows
themselves, in the same transaction, once per batch. On PostgreSQL
a new tag row locks its chat (``FOR NO KEY UPDATE``, the lock any update of the chat takes)
before reading it: a concurrent update either commits first and is read, or waits and then
sees the new tag row (each statement of the chat's trigger takes a fresh snapshot).

Revision ID: 0012_tag_view_index
Revises: 0011_one_customer_per_handle
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_tag_view_index"
down_revision = "0011_one_customer_per_handle"
branch_labels = None
depends_on = None

# The chat columns copied onto its tag rows, under the same names.
COPIED = ("workspace_id", "state", "last_message_at", "created_at")
_FROM_CHAT = (
    f"({', '.join(COPIED)}) = (SELECT {', '.join(f'c.{name}' for name in COPIED)} FROM chats c"
    " WHERE c.id = chat_tags.chat_id)"
)
BACKFILL = f"UPDATE chat_tags SET {_FROM_CHAT}"
_FOLLOW = (
    f"UPDATE chat_tags SET {', '.join(f'{name} = NEW.{name}' for name in COPIED)} WHERE chat_id = NEW.id"
)


# The chat columns whose change fires the chat's trigger: not ``last_message_at`` (above).
FOLLOWED = ("workspace_id", "state", "created_at")


def _changed(distinct: str) -> str:
    return " OR ".join(f"OLD.{name} {distinct} NEW.{name}" for name in FOLLOWED)


def sqlite_ddl() -> list[str]:
    # SQLite cannot assign NEW in a trigger: the new tag row is updated just after it is
    # written (the counts' trigger on chat_tags ignores updates of these columns).
    copy = f"UPDATE chat_tags SET {_FROM_CHAT} WHERE chat_id = NEW.chat_id AND tag = NEW.tag"
    return [
        f"CREATE TRIGGER chat_tags_copy_chat AFTER INSERT ON chat_tags FOR EACH ROW\nBEGIN\n  {copy};\nEND",
        "CREATE TRIGGER chat_tags_copy_moved_chat AFTER UPDATE OF chat_id ON chat_tags FOR EACH ROW"
        f" WHEN OLD.chat_id IS NOT NEW.chat_id\nBEGIN\n  {copy};\nEND",
        f"CREATE TRIGGER chat_tags_follow_chat AFTER UPDATE OF {', '.join(FOLLOWED)} ON chats FOR EACH ROW"
        f" WHEN {_changed('IS NOT')}\nBEGIN\n  {_FOLLOW};\nEND",
    ]


def postgresql_ddl() -> list[str]:
    # Before the row is written: the copies go in with it. The chat is locked and read in one
    # statement (see the module's docstring).
    copy = (
        f"SELECT {', '.join(COPIED)} INTO {', '.join(f'NEW.{name}' for name in COPIED)}"
        " FROM chats WHERE id = NEW.chat_id FOR NO KEY UPDATE"
    )
    return [
        "CREATE FUNCTION chat_tags_copy_chat() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
        f"  {copy};\n  RETURN NEW;\nEND\n$$",
        "CREATE TRIGGER chat_tags_copy_chat BEFORE INSERT OR UPDATE OF chat_id ON chat_tags FOR EACH ROW"
        " EXECUTE FUNCTION chat_tags_copy_chat()",
        "CREATE FUNCTION chat_tags_follow_chat() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
        f"  {_FOLLOW};\n  RETURN NULL;\nEND\n$$",
        f"CREATE TRIGGER chat_tags_follow_chat AFTER UPDATE OF {', '.join(FOLLOWED)} ON chats FOR EACH ROW"
        f" WHEN ({_changed('IS DISTINCT FROM')}) EXECUTE FUNCTION chat_tags_follow_chat()",
    ]


def upgrade() -> None:
    # Nullable, so added in place on both databases; every row has them from here on.
    op.add_column("chat_tags", sa.Column("workspace_id", sa.Integer()))
    op.add_column("chat_tags", sa.Column("state", sa.String(20)))
    op.add_column("chat_tags", sa.Column("last_message_at", sa.DateTime()))
    op.add_column("chat_tags", sa.Column("created_at", sa.DateTime()))
    op.execute(BACKFILL)
    # The tag view's pages, latest first and newest/oldest first, with the id that breaks ties.
    for order in ("last_message_at", "created_at"):
        op.create_index(
            f"ix_chat_tags_tag_workspace_id_state_{order}_chat_id",
            "chat_tags",
            ["tag", "workspace_id", "state", order, "chat_id"],
        )
    ddl = postgresql_ddl() if op.get_bind().dialect.name == "postgresql" else sqlite_ddl()
    for statement in ddl:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("bridgekit migrates forward only")
