"""The workspace is called a workspace: ``channels`` → ``workspaces``, ``channel_id`` →
``workspace_id``

"Channel" meant two things: the messenger kind a plugin declares (LINE, email…) and the
installation's workspace owning managers, teams, integrations, customers and chats. Only the
first keeps the word. Data, ids and AUTOINCREMENT counters are kept.

PostgreSQL renames in place. SQLite cannot rename constraints, so each table is rebuilt the
documented way (https://www.sqlite.org/lang_altertable.html#otheralter: new table, copy, drop,
rename, indexes again) with foreign keys off during migrations (``Database.migrate``).

Revision ID: 0008_workspaces
Revises: 0007_sqlite_autoincrement
"""

from __future__ import annotations

import re

from alembic import op
from sqlalchemy import Connection

revision = "0008_workspaces"
down_revision = "0007_sqlite_autoincrement"
branch_labels = None
depends_on = None

TABLES = ("integrations", "managers", "teams", "macros", "customers", "chats", "ledger")


def _renamed(name: str) -> str:
    return name.replace("channel_id", "workspace_id").replace("channels", "workspaces")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite(bind, "channels", "workspaces")
        for table in TABLES:
            _rebuild_sqlite(bind, table, table)
    else:
        _rename_postgresql(bind)


def downgrade() -> None:
    raise NotImplementedError("bridgekit migrates forward only")


def _rename_postgresql(bind: Connection) -> None:
    bind.exec_driver_sql("ALTER TABLE channels RENAME TO workspaces")
    bind.exec_driver_sql("ALTER SEQUENCE IF EXISTS channels_id_seq RENAME TO workspaces_id_seq")
    for table in TABLES:
        bind.exec_driver_sql(f"ALTER TABLE {table} RENAME COLUMN channel_id TO workspace_id")
    constraints = bind.exec_driver_sql(
        "SELECT rel.relname, con.conname FROM pg_constraint con"
        " JOIN pg_class rel ON rel.oid = con.conrelid"
        " JOIN pg_namespace ns ON ns.oid = rel.relnamespace"
        " WHERE ns.nspname = current_schema()"
        " AND (con.conname LIKE '%channel_id%' OR con.conname LIKE '%channels%')"
    ).all()
    for table, name in constraints:
        bind.exec_driver_sql(f'ALTER TABLE "{table}" RENAME CONSTRAINT "{name}" TO "{_renamed(name)}"')
    indexes = bind.exec_driver_sql(
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        " AND (indexname LIKE '%channel_id%' OR indexname LIKE '%channels%')"
    ).all()
    for (name,) in indexes:
        bind.exec_driver_sql(f'ALTER INDEX "{name}" RENAME TO "{_renamed(name)}"')


def _rebuild_sqlite(bind: Connection, table: str, new_name: str) -> None:
    create = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one_or_none()
    if create is None:
        return
    indexes = [
        row[0]
        for row in bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (table,),
        )
    ]
    sequence = bind.exec_driver_sql("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).scalar()
    staging = f"{new_name}_new"
    new, found = re.subn(rf'^CREATE TABLE "?{table}"? \(', f"CREATE TABLE {staging} (", create)
    if found != 1:
        raise RuntimeError(f"unexpected definition of table {table}: {create}")
    bind.exec_driver_sql(_renamed(new))
    bind.exec_driver_sql(f"INSERT INTO {staging} SELECT * FROM {table}")
    bind.exec_driver_sql(f"DROP TABLE {table}")
    bind.exec_driver_sql(f"ALTER TABLE {staging} RENAME TO {new_name}")
    if sequence is not None:  # AUTOINCREMENT: ids of deleted rows stay unused
        bind.exec_driver_sql("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (sequence, new_name))
    for sql in indexes:
        bind.exec_driver_sql(_renamed(sql))
