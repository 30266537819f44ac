"""A verified handle belongs to one customer (issue 17): migration 0011 merges the customers an
earlier version created for one person, and the database refuses a second owner after it."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from bridgekit.storage.db import Database, alembic_config

T0, T1, T2 = "2026-01-01 00:00:00", "2026-01-02 00:00:00", "2026-01-03 00:00:00"


def _upgrade_to_0009(conn: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "0009_sign_in")


def _old_rows(yes: str, no: str) -> list[str]:
    """Customers 1, 2 and 3 are one LINE user split by the race (1 and 2 share the userId, 2
    and 3 a verified email); customer 4 only typed the same unverified address as 1."""
    return [
        f"INSERT INTO workspaces (id, name, created_at) VALUES (1, 'main', '{T0}')",
        "INSERT INTO integrations (id, workspace_id, name, kind, settings, secrets, enabled, created_at)"
        f" VALUES (1, 1, 'acme', 'line', '{{}}', '{{}}', {yes}, '{T0}')",
        "INSERT INTO customers (id, workspace_id, name, is_lead, profile, created_at, updated_at) VALUES"
        f" (1, 1, 'Kim', {yes}, '{{\"tier\": \"gold\"}}', '{T0}', '{T0}'),"
        f" (2, 1, 'Kim Minji', {no}, '{{\"tier\": \"silver\", \"city\": \"Seoul\"}}', '{T1}', '{T1}'),"
        f" (3, 1, NULL, {yes}, '{{}}', '{T2}', '{T2}'),"
        f" (4, 1, 'Lee', {yes}, '{{}}', '{T2}', '{T2}')",
        "INSERT INTO contacts (id, customer_id, kind, scope, value, verified, created_at) VALUES"
        f" (11, 1, 'line', 1, 'U1', {yes}, '{T0}'),"
        f" (12, 2, 'line', 1, 'U1', {yes}, '{T1}'),"
        f" (13, 2, 'email', 0, 'kim@example.com', {yes}, '{T1}'),"
        f" (14, 3, 'email', 0, 'kim@example.com', {yes}, '{T2}'),"
        f" (15, 1, 'email', 0, 'shared@example.com', {no}, '{T0}'),"
        f" (16, 4, 'email', 0, 'shared@example.com', {no}, '{T2}')",
        "INSERT INTO chats (id, workspace_id, integration_id, customer_id, contact_id, thread_key, state,"
        " created_at, updated_at, last_message_at) VALUES"
        f" (21, 1, 1, 1, 11, 'U1', 'open', '{T0}', '{T0}', '{T0}'),"
        f" (22, 1, 1, 2, 12, 'U1', 'open', '{T1}', '{T1}', '{T1}'),"
        f" (23, 1, NULL, 3, 14, 'mail-1', 'open', '{T2}', '{T2}', '{T2}'),"
        f" (24, 1, NULL, 4, 16, 'mail-2', 'open', '{T2}', '{T2}', '{T2}')",
        "INSERT INTO chat_keys (integration_id, \"key\", chat_id) VALUES (1, 'U1', 22)",
        "INSERT INTO messages (id, chat_id, integration_id, direction, author_kind, text, meta, automated,"
        f" created_at) VALUES (31, 21, 1, 'inbound', 'customer', 'hi', '{{}}', {no}, '{T0}'),"
        f" (32, 22, 1, 'inbound', 'customer', 'hello?', '{{}}', {no}, '{T1}')",
        "INSERT INTO customer_events (id, customer_id, name, properties, created_at)"
        f" VALUES (41, 2, 'follow', '{{}}', '{T1}')",
    ]


async def test_migration_merges_customers_sharing_a_verified_handle_into_the_oldest(db_url: str) -> None:
    sqlite = db_url.startswith("sqlite")
    yes, no = ("1", "0") if sqlite else ("true", "false")
    engine = create_async_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_to_0009)
        for statement in _old_rows(yes, no):
            await conn.execute(text(statement))
    await engine.dispose()

    db = Database(db_url)
    try:
        await db.migrate()
        async with db.read() as conn:

            async def rows(sql: str) -> list[tuple[object, ...]]:
                return [tuple(r) for r in (await conn.execute(text(sql))).all()]

            customers = await rows("SELECT id, name, is_lead FROM customers ORDER BY id")
            profile = (await conn.execute(text("SELECT profile FROM customers WHERE id = 1"))).scalar_one()
            contacts = await rows("SELECT id, customer_id, kind, value, verified FROM contacts ORDER BY id")
            chats = await rows("SELECT id, customer_id, contact_id FROM chats ORDER BY id")
            keys = await rows('SELECT "key", chat_id FROM chat_keys')
            messages = await rows("SELECT id, chat_id FROM messages ORDER BY id")
            events = await rows("SELECT id, customer_id FROM customer_events")
        # A second owner of a verified handle is refused by the database from now on.
        with pytest.raises(IntegrityError):
            async with db.write() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO contacts (customer_id, kind, scope, value, verified, created_at)"
                        f" VALUES (4, 'line', 1, 'U1', {yes}, '{T2}')"
                    )
                )
        async with db.write() as conn:  # an unverified copy is still anyone's to type
            await conn.execute(
                text(
                    "INSERT INTO contacts (customer_id, kind, scope, value, verified, created_at)"
                    f" VALUES (4, 'email', 0, 'kim@example.com', {no}, '{T2}')"
                )
            )
    finally:
        await db.dispose()

    assert customers == [(1, "Kim", False), (4, "Lee", True)]  # the oldest name; 2 was no lead
    import json

    assert (json.loads(profile) if isinstance(profile, str) else profile) == {"tier": "gold", "city": "Seoul"}
    assert contacts == [
        (11, 1, "line", "U1", True),
        (13, 1, "email", "kim@example.com", True),
        (15, 1, "email", "shared@example.com", False),
        (16, 4, "email", "shared@example.com", False),
    ]
    assert chats == [(21, 1, 11), (22, 1, 11), (23, 1, 13), (24, 4, 16)]
    assert keys == [("U1", 22)]
    assert messages == [(31, 21), (32, 22)]
    assert events == [(41, 1)]


async def test_a_lead_created_twice_at_once_for_one_verified_handle_is_one_customer(db_url: str) -> None:
    """Two connections (two processes' engines) create the lead of the same new handle: the
    second waits for the first, then gets the first's customer and contact; no error, and its
    own customer row is gone again."""
    from datetime import datetime

    from bridgekit.inbox.customers import new_lead

    now = datetime(2026, 1, 1)
    first_db, second_db = Database(db_url), Database(db_url)
    await first_db.migrate()
    try:
        async with first_db.write() as conn:
            await conn.execute(
                text(f"INSERT INTO workspaces (id, name, created_at) VALUES (1, 'main', '{T0}')")
            )

        async def second() -> tuple[int, int]:
            async with second_db.write() as conn:
                return await new_lead(conn, 1, "B", ("line", 7, "U1"), True, now)

        async with first_db.write() as conn:
            first = await new_lead(conn, 1, "A", ("line", 7, "U1"), True, now)
            racing = asyncio.create_task(second())
            await asyncio.sleep(0.3)
            assert not racing.done()  # waiting for the first writer's transaction
        assert await racing == first
        async with first_db.read() as conn:
            customers = (await conn.execute(text("SELECT id, name FROM customers"))).all()
        assert [tuple(r) for r in customers] == [(first[0], "A")]
    finally:
        await first_db.dispose()
        await second_db.dispose()
