"""SQLite: new chats counted by their two writers, once per statement, not by a row trigger

``chat_counts_chat_insert`` (0010) ran SQLite's trigger program for every inserted chat: six
``INSERT ... SELECT`` statements and four new ``chat_counts`` rows a chat, each row later
deleted again by the fold (``inbox/views_counts.py``). Most mails open a chat, so that was
about 9 us of the SMTP ingest path a mail. The two writers of chats now add the same figures
themselves (``inbox/views_counts.count_new_chats``, the rules of 0010's ``chat_inserted``):
the ingest group commit once per batch, summed per key, and ``inbox/chats.start_chat``.

On PostgreSQL the trigger stays, and the writers add nothing there: processes of the previous
release may still insert chats during a rolling upgrade, and counting twice is not harmless.
Dropping it there is a contract step for a later release. SQLite runs one process.

Revision ID: 0016_sqlite_new_chats_counted
Revises: 0015_sqlite_counts_in_code
"""

from __future__ import annotations

from alembic import op

revision = "0016_sqlite_new_chats_counted"
down_revision = "0015_sqlite_counts_in_code"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS chat_counts_chat_insert")


def downgrade() -> None:
    raise NotImplementedError("bridgekit migrates forward only")
