"""Alembic migrations produce exactly the tables in bridgekit/storage/schema.py."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from bridgekit.storage.db import Database
from bridgekit.storage.schema import exists_on, metadata


def _diff(sync_conn: Connection) -> list[object]:
    dialect = sync_conn.dialect.name

    def include(item: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
        return reflected or exists_on(item, dialect)

    context = MigrationContext.configure(sync_conn, opts={"include_object": include})
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


def test_the_hot_path_lookups_are_served_by_indexes(tmp_path) -> None:
    """A row-value IN over a tuple list made SQLite scan the whole messages table on every
    group commit; the group commit's ``grouped_in`` must compile to index searches."""
    import asyncio
    import sqlite3

    from bridgekit.storage.hotsql import grouped_in

    path = tmp_path / "plan.db"
    asyncio.run(Database(f"sqlite+aiosqlite:///{path}").migrate())
    lookups = [
        ("messages", ("integration_id", "event_id"), [(1, "a"), (1, "b"), (2, "c")]),
        ("chat_keys", ("integration_id", '"key"'), [(1, "u1"), (1, "u2")]),
    ]
    conn = sqlite3.connect(path)
    try:
        for table, columns, keys in lookups:
            where, params = grouped_in(columns, keys)
            sql = f"EXPLAIN QUERY PLAN SELECT {', '.join(columns)} FROM {table} WHERE {where}"
            plan = " ".join(row[-1] for row in conn.execute(sql, params))
            assert "SEARCH" in plan
            assert "SCAN" not in plan
    finally:
        conn.close()


def test_status_reports_find_outbound_messages_through_the_partial_index(tmp_path) -> None:
    """Migration 0004: the provider-id index holds outbound messages only (inbound ones have
    no provider id), and a delivery report's look-up is still an index search."""
    import asyncio

    from sqlalchemy import and_, create_engine, or_, select, text

    from bridgekit.storage import schema as s

    path = tmp_path / "plan.db"
    asyncio.run(Database(f"sqlite+aiosqlite:///{path}").migrate())
    engine = create_engine(f"sqlite:///{path}")
    m = s.messages.c
    query = select(m.id, m.delivery_status).where(
        or_(
            and_(m.integration_id == 1, m.provider_message_id == "p1"),
            and_(m.integration_id == 2, m.provider_message_id == "p2"),
        )
    )
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        plan = " ".join(row[-1] for row in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))
        where = conn.scalar(
            text(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_messages_integration_id_provider_message_id'"
            )
        )
    engine.dispose()
    assert "ix_messages_integration_id_provider_message_id" in plan
    assert "SCAN" not in plan
    assert where.endswith("WHERE provider_message_id IS NOT NULL")


def test_sqlite_tables_rebuilt_for_autoincrement_keep_their_rows_and_references(tmp_path) -> None:
    """Migration 0007 drops and recreates chats and messages: nothing pointing at them may go."""
    import asyncio
    import sqlite3

    from alembic import command
    from sqlalchemy import create_engine

    from bridgekit.storage.db import alembic_config

    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006_raw_duplicates")
    engine.dispose()
    old = sqlite3.connect(path)
    old.execute("PRAGMA foreign_keys=ON")
    now = "2026-01-01 00:00:00.000000"
    old.executescript(
        f"""
        INSERT INTO channels VALUES (1, 'main', '{now}');
        INSERT INTO customers VALUES (1, 1, 'Kim', 1, '{{}}', '{now}', '{now}');
        INSERT INTO chats (id, channel_id, customer_id, state, created_at, updated_at, last_message_at)
            VALUES (7, 1, 1, 'open', '{now}', '{now}', '{now}');
        INSERT INTO messages (id, chat_id, direction, author_kind, text, meta, automated, created_at)
            VALUES (40, 7, 'inbound', 'customer', 'hello', '{{}}', 0, '{now}');
        INSERT INTO attachments VALUES (1, 40, 'a.txt', 'text/plain', 1, 'x', '/f', '{now}');
        INSERT INTO chat_tags (chat_id, tag) VALUES (7, 'vip');
        """
    )
    old.commit()
    old.close()

    asyncio.run(Database(f"sqlite+aiosqlite:///{path}").migrate())
    new = sqlite3.connect(path)
    new.execute("PRAGMA foreign_keys=ON")
    assert new.execute("SELECT count(*) FROM attachments").fetchone()[0] == 1
    assert new.execute("SELECT count(*) FROM chat_tags").fetchone()[0] == 1
    assert new.execute("SELECT text FROM messages WHERE chat_id = 7").fetchall() == [("hello",)]
    for table in ("chats", "messages"):
        create = new.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        assert "AUTOINCREMENT" in create
    new.execute("DELETE FROM chats WHERE id = 7")  # the cascades still work on the new tables
    assert new.execute("SELECT count(*) FROM attachments").fetchone()[0] == 0
    new.execute(
        "INSERT INTO chats (workspace_id, customer_id, state, created_at, updated_at, last_message_at)"
        f" VALUES (1, 1, 'open', '{now}', '{now}', '{now}')"
    )
    assert new.execute("SELECT max(id) FROM chats").fetchone()[0] == 8
    new.close()


async def test_the_workspace_rename_keeps_every_row_id_and_reference(db_url: str) -> None:
    """Migration 0008: ``channels`` becomes ``workspaces`` and every ``channel_id`` a
    ``workspace_id`` on a database with data in it; nothing is lost and no id is reused."""
    from alembic import command
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from bridgekit.storage.db import alembic_config

    def upgrade_to_0007(conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0007_sqlite_autoincrement")

    now = "2026-01-01 00:00:00"
    engine = create_async_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(upgrade_to_0007)
        for statement in (
            f"INSERT INTO channels (id, name, created_at) VALUES (1, 'main', '{now}')",
            f"INSERT INTO teams (channel_id, name, auto_assign) VALUES (1, 'support', {_false(db_url)})",
            f"INSERT INTO macros (channel_id, shortcut, text, created_at) VALUES (1, 'hi', 'Hello', '{now}')",
            "INSERT INTO customers (id, channel_id, name, is_lead, profile, created_at, updated_at)"
            f" VALUES (5, 1, 'Kim', {_false(db_url)}, '{{}}', '{now}', '{now}')",
            *[
                "INSERT INTO chats (channel_id, customer_id, state, created_at, updated_at, last_message_at)"
                f" VALUES (1, 5, 'open', '{now}', '{now}', '{now}')"
            ]
            * 2,
        ):
            await conn.execute(text(statement))
        first, newest = (await conn.execute(text("SELECT min(id), max(id) FROM chats"))).one()
        await conn.execute(text(f"DELETE FROM chats WHERE id = {newest}"))
    await engine.dispose()

    db = Database(db_url)
    try:
        await db.migrate()
        async with db.read() as conn:
            assert await conn.run_sync(_diff) == []
            names = await conn.run_sync(_schema_names)
            rows = (await conn.execute(text("SELECT id, workspace_id, customer_id FROM chats"))).all()
            teams = (await conn.execute(text("SELECT workspace_id, name FROM teams"))).all()
            macros = (await conn.execute(text("SELECT workspace_id, shortcut FROM macros"))).all()
            workspaces = (await conn.execute(text("SELECT id, name FROM workspaces"))).all()
        async with db.write() as conn:
            fresh = (
                await conn.execute(
                    text(
                        "INSERT INTO chats (workspace_id, customer_id, state, created_at, updated_at,"
                        f" last_message_at) VALUES (1, 5, 'open', '{now}', '{now}', '{now}') RETURNING id"
                    )
                )
            ).scalar_one()
    finally:
        await db.dispose()
    assert [name for name in names if "channel" in name] == []
    assert "workspaces" in names
    assert [tuple(r) for r in rows] == [(first, 1, 5)]
    assert [tuple(r) for r in teams] == [(1, "support")]
    assert [tuple(r) for r in macros] == [(1, "hi")]
    assert [tuple(r) for r in workspaces] == [(1, "main")]
    assert fresh > newest  # the deleted chat's id is not handed out again


def _false(db_url: str) -> str:
    return "0" if db_url.startswith("sqlite") else "false"


def _schema_names(sync_conn: Connection) -> list[str]:
    """Every table, column, index and constraint name in the database."""
    found = inspect(sync_conn)
    names: list[str] = []
    for table in found.get_table_names():
        names.append(table)
        names += [c["name"] for c in found.get_columns(table)]
        names += [i["name"] or "" for i in found.get_indexes(table)]
        names += [u["name"] or "" for u in found.get_unique_constraints(table)]
        names += [f["name"] or "" for f in found.get_foreign_keys(table)]
        names.append(found.get_pk_constraint(table)["name"] or "")
    return names
