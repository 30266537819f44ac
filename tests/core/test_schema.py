"""Alembic migrations produce exactly the tables in bridgekit/core/schema.py."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from bridgekit.core.db import Database
from bridgekit.core.schema import metadata


def _diff(sync_conn: Connection) -> list[object]:
    context = MigrationContext.configure(sync_conn)
    return list(compare_metadata(context, metadata))


async def test_migrations_match_the_schema_and_are_idempotent(db_url: str) -> None:
    db = Database(db_url)
    try:
        await db.migrate()
        await db.migrate()  # a second start must be a no-op
        async with db.read() as conn:
            assert await conn.run_sync(_diff) == []
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"messages", "outbox", "ledger", "raw_deliveries", "contacts", "flow_events"} <= tables
    finally:
        await db.dispose()


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        async with db.read() as conn:
            journal = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            fks = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar()
            sync = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar()
        assert (journal, fks, sync) == ("wal", 1, 1)
    finally:
        await db.dispose()
