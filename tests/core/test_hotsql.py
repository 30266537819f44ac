"""Rows the ingest hot path writes with plain SQL read back through Core exactly (both databases)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.storage import schema as s
from bridgekit.storage.db import Database
from bridgekit.storage.hotsql import hot_sql


async def test_values_written_raw_read_back_through_core_types(db_url: str) -> None:
    db = Database(db_url)
    await db.migrate()
    stamp = datetime(2026, 11, 23, 9, 30, 0)  # no microseconds: the format must still match
    try:

        async def write(conn: AsyncConnection) -> list[int]:
            sql = hot_sql(conn)
            ids = await sql.new_ids("workspaces", 1)
            await sql.insert("workspaces", ("id", "name", "created_at"), [(ids[0], "c", sql.ts(stamp))])
            customer = await sql.new_ids("customers", 2)
            await sql.insert(
                "customers",
                ("id", "workspace_id", "name", "is_lead", "profile", "created_at", "updated_at"),
                [
                    (
                        customer[0],
                        ids[0],
                        "김민지",
                        True,
                        sql.json({"lang": "ko"}),
                        sql.ts(stamp),
                        sql.ts(stamp),
                    ),
                    (customer[1], ids[0], "Ann", False, sql.json({}), sql.ts(stamp), sql.ts(stamp)),
                ],
            )
            return customer

        customer_ids = await db.write_ingest(write)
        assert customer_ids[1] == customer_ids[0] + 1
        async with db.read() as conn:
            rows = (await conn.execute(select(s.customers).order_by(s.customers.c.id))).all()
        assert [(r.id, r.name, r.is_lead, r.profile, r.created_at) for r in rows] == [
            (customer_ids[0], "김민지", True, {"lang": "ko"}, stamp),
            (customer_ids[1], "Ann", False, {}, stamp),
        ]

        # Fresh ids never collide with rows written through Core in between.
        async with db.write() as conn:
            await conn.execute(
                s.customers.insert().values(
                    workspace_id=rows[0].workspace_id, name="core", created_at=stamp, updated_at=stamp
                )
            )

        async def more(conn: AsyncConnection) -> list[int]:
            return await hot_sql(conn).new_ids("customers", 3)

        fresh = await db.write_ingest(more)
        assert min(fresh) > customer_ids[1] + 1
        assert fresh == sorted(fresh)
        assert len(set(fresh)) == 3
    finally:
        await db.dispose()


async def test_grouped_in_matches_exactly_the_keys_given(db_url: str) -> None:
    db = Database(db_url)
    await db.migrate()
    try:

        async def work(conn: AsyncConnection) -> list[tuple[int, str]]:
            sql = hot_sql(conn)
            workspaces = await sql.new_ids("workspaces", 2)
            await sql.insert(
                "workspaces",
                ("id", "name", "created_at"),
                [(c, f"c{c}", sql.ts(datetime(2026, 1, 1))) for c in workspaces],
            )
            first, second = workspaces
            teams = [(first, "sales"), (first, "support"), (second, "sales"), (second, "billing")]
            ids = await sql.new_ids("teams", len(teams))
            await sql.insert(
                "teams",
                ("id", "workspace_id", "name", "auto_assign"),
                [(i, c, name, False) for i, (c, name) in zip(ids, teams, strict=True)],
            )
            where, params = sql.grouped_in(  # on PostgreSQL: name = ANY(array)
                ("workspace_id", "name"), [(first, "sales"), (second, "billing"), (second, "support")]
            )
            found = await sql.all(
                f"SELECT workspace_id, name FROM teams WHERE {where} ORDER BY workspace_id, name", params
            )
            nothing, _ = sql.grouped_in(("workspace_id", "name"), [])
            assert await sql.all(f"SELECT name FROM teams WHERE {nothing}") == []
            return [(r[0] - first, r[1]) for r in found]

        assert await db.write_ingest(work) == [(0, "sales"), (1, "billing")]
    finally:
        await db.dispose()


async def test_routing_skips_chats_that_are_gone(db_url: str) -> None:
    """``route_new_chats`` called without team names reads them, and a chat id with no row
    (deleted meanwhile) is skipped rather than failing the whole transaction."""
    from bridgekit.inbox.assignment import route_new_chats

    db = Database(db_url)
    await db.migrate()
    try:
        async with db.write() as conn:
            assert await route_new_chats(conn, [999_999]) == []
    finally:
        await db.dispose()


async def test_many_rows_in_one_insert_keep_order_and_ids(db_url: str) -> None:
    """On SQLite rows go in multi-row statements of power-of-two sizes (100 = 64 + 32 + 4):
    every row is stored once, with its own values, and an AUTOINCREMENT table's counter ends
    at the highest id, so a later id is never one of these."""
    db = Database(db_url)
    await db.migrate()
    stamp = datetime(2026, 12, 6, 23, 0, 0)
    try:

        async def write(conn: AsyncConnection) -> list[int]:
            sql = hot_sql(conn)
            workspace = (await sql.new_ids("workspaces", 1))[0]
            await sql.insert("workspaces", ("id", "name", "created_at"), [(workspace, "w", sql.ts(stamp))])
            customers = await sql.new_ids("customers", 100)
            await sql.insert(
                "customers",
                ("id", "workspace_id", "name", "is_lead", "profile", "created_at", "updated_at"),
                [
                    (
                        cid,
                        workspace,
                        f"customer {n}",
                        n % 2 == 0,
                        sql.json({"n": n}),
                        sql.ts(stamp),
                        sql.ts(stamp),
                    )
                    for n, cid in enumerate(customers)
                ],
            )
            chats = await sql.new_ids("chats", 100)
            await sql.insert(
                "chats",
                (
                    "id",
                    "workspace_id",
                    "customer_id",
                    "title",
                    "state",
                    "created_at",
                    "updated_at",
                    "last_message_at",
                ),
                [
                    (
                        chat,
                        workspace,
                        customer,
                        f"chat {n}",
                        "open",
                        sql.ts(stamp),
                        sql.ts(stamp),
                        sql.ts(stamp),
                    )
                    for n, (chat, customer) in enumerate(zip(chats, customers, strict=True))
                ],
            )
            return chats

        chat_ids = await db.write_ingest(write)
        async with db.read() as conn:
            rows = (await conn.execute(select(s.chats).order_by(s.chats.c.id))).all()
            customers = (await conn.execute(select(s.customers).order_by(s.customers.c.id))).all()
        assert [(r.id, r.title) for r in rows] == [(cid, f"chat {n}") for n, cid in enumerate(chat_ids)]
        assert [(c.name, c.is_lead, c.profile) for c in customers] == [
            (f"customer {n}", n % 2 == 0, {"n": n}) for n in range(100)
        ]

        async def delete_and_allocate(conn: AsyncConnection) -> list[int]:
            sql = hot_sql(conn)
            await sql.run("DELETE FROM chats WHERE id = ?", (chat_ids[-1],))
            return await sql.new_ids("chats", 1)

        # The deleted last chat's id is not handed out again.
        assert (await db.write_ingest(delete_and_allocate))[0] > chat_ids[-1]
    finally:
        await db.dispose()


async def test_ids_of_several_tables_in_one_request_are_fresh_and_in_the_order_asked(db_url: str) -> None:
    """The group commit reserves its raw deliveries' and messages' ids together (one round
    trip on PostgreSQL): each table gets as many as asked, ascending, none handed out twice."""
    db = Database(db_url)
    await db.migrate()
    try:

        async def reserve(conn: AsyncConnection) -> list[list[int]]:
            return await hot_sql(conn).new_ids_of([("messages", 3), ("customers", 0), ("raw_deliveries", 2)])

        first = await db.write_ingest(reserve)
        second = await db.write_ingest(reserve)
        for ids in (first, second):
            messages, customers, raw = ids
            assert (len(messages), customers, len(raw)) == (3, [], 2)
            assert messages == sorted(set(messages))
            assert raw == sorted(set(raw))
        if not db.is_sqlite:  # SQLite hands out max(id) + 1: nothing was inserted in between
            assert set(first[0]).isdisjoint(second[0])
            assert set(first[2]).isdisjoint(second[2])
    finally:
        await db.dispose()


async def test_statements_in_order_run_in_their_order_and_never_carry_text_into_sql(db_url: str) -> None:
    """``run_in_order`` (on PostgreSQL one round trip with the COMMIT, its parameters written
    into the text): the second statement sees the first's change, the timestamp arrives
    exactly, and a text parameter is refused rather than quoted."""
    db = Database(db_url)
    await db.migrate()
    later = datetime(2026, 12, 7, 8, 1, 2, 345678)
    try:

        async def work(conn: AsyncConnection) -> int:
            sql = hot_sql(conn)
            (first, second) = await sql.new_ids("workspaces", 2)
            rows = [(first, "a", sql.ts(datetime(2026, 1, 1))), (second, "b", sql.ts(datetime(2026, 1, 1)))]
            await sql.insert("workspaces", ("id", "name", "created_at"), rows)
            in_order = [
                ("UPDATE workspaces SET created_at = ? WHERE id IN (?, ?)", [sql.ts(later), first, second]),
                ("DELETE FROM workspaces WHERE id = ? AND created_at = ?", [first, sql.ts(later)]),
            ]
            await sql.run_in_order(in_order)
            return second

        kept = await db.write_ingest(work)
        async with db.read() as conn:
            rows = (await conn.execute(select(s.workspaces.c.id, s.workspaces.c.created_at))).all()
        assert [tuple(r) for r in rows] == [(kept, later)]

        async def text(conn: AsyncConnection) -> None:
            await hot_sql(conn).run_in_order(
                [("UPDATE workspaces SET name = ? WHERE id = ?", ["x'; --", kept])]
            )

        if db.is_sqlite:
            await db.write_ingest(text)  # a bound parameter there, as ever
        else:
            with pytest.raises(TypeError):
                await db.write_ingest(text)
            async with db.read() as conn:
                assert (await conn.execute(select(s.workspaces.c.name))).scalars().all() == ["b"]
    finally:
        await db.dispose()
