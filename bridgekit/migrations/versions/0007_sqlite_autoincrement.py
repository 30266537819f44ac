"""SQLite: chats and messages never reuse an id (AUTOINCREMENT)

Without it SQLite hands out max(id) + 1, so after a chat with the newest ids was deleted the
next chat and messages got the deleted ones' ids: links, notifications and anything that
kept an id pointed at someone else's conversation. PostgreSQL's sequences never go back.

SQLite cannot add AUTOINCREMENT to a table; the table is rebuilt the documented way
(https://www.sqlite.org/lang_altertable.html#otheralter: new table, copy, drop, rename,
indexes again) with foreign keys off during migrations (``Database.migrate``).

Revision ID: 0007_sqlite_autoincrement
Revises: 0006_raw_duplicates
"""

from __future__ import annotations

import re

from alembic import op
from sqlalchemy import Connection

revision = "0007_sqlite_autoincrement"
down_revision = "0006_raw_duplicates"
branch_labels = None
depends_on = None

TABLES = ("chats", "messages")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for table in TABLES:
            _rebuild_with_autoincrement(bind, table)


def downgrade() -> None:
    """Nothing to undo: AUTOINCREMENT only keeps ids from being reused."""


def _rebuild_with_autoincrement(bind: Connection, table: str) -> None:
    create = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    if "AUTOINCREMENT" in create:
        return
    indexes = [
        row[0]
        for row in bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (table,),
        )
    ]
    new, found_id = re.subn(
        rf'^CREATE TABLE "?{table}"? \(\s*id INTEGER NOT NULL,',
        f"CREATE TABLE {table}_new (\n\tid INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,",
        create,
    )
    new, found_pk = re.subn(rf"\s*CONSTRAINT pk_{table} PRIMARY KEY \(id\),", "", new)
    if (found_id, found_pk) != (1, 1):
        raise RuntimeError(f"unexpected definition of table {table}: {create}")
    bind.exec_driver_sql(new)
    bind.exec_driver_sql(f"INSERT INTO {table}_new SELECT * FROM {table}")
    bind.exec_driver_sql(f"DROP TABLE {table}")
    bind.exec_driver_sql(f"ALTER TABLE {table}_new RENAME TO {table}")
    for sql in indexes:
        bind.exec_driver_sql(sql)
