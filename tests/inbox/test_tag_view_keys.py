"""The tag rows' copies of their chat's workspace, state and sort keys (migration 0012's
triggers) equal the chat's after every kind of change, on both databases: the tag view reads
its pages from them, so a stale copy would list a closed chat or misplace a busy one."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, or_, select, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from bridgekit.inbox.chat_delete import delete_chat_rows
from bridgekit.inbox.chat_info import add_tag, remove_tag, set_tags
from bridgekit.inbox.chat_state import close_chats, reopen_chats, snooze_chats, wake_due
from bridgekit.inbox.message_writer import write_customer_message, write_note, write_reply
from bridgekit.inbox.tags import delete_tag, rename_tag
from bridgekit.plugins import PluginHost
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s
from bridgekit.storage.db import Database, retry_on_conflict
from bridgekit.storage.integrations import IntegrationRegistry
from tests.inbox.test_views_counts import MANAGERS, NOW, TAGS, Changes, db  # noqa: F401 (fixture)

COPIED = ("workspace_id", "state", "last_message_at", "created_at")


async def stale_copies(database: Database) -> list[Any]:
    """Tag rows whose copies differ from their chat's columns (or are missing)."""
    t, c = s.chat_tags.c, s.chats.c
    differs = or_(*(t[name].is_(None) | (t[name] != c[name]) for name in COPIED))
    async with database.read() as conn:
        rows = await conn.execute(
            select(t.chat_id, t.tag, *(t[n] for n in COPIED), *(c[n] for n in COPIED))
            .join(s.chats, c.id == t.chat_id)
            .where(differs)
        )
        return list(rows)


async def tag_rows(database: Database) -> int:
    async with database.read() as conn:
        return len((await conn.execute(select(s.chat_tags.c.chat_id))).all())


class ChatLife(Changes):
    """The base's random changes plus what the inbox does to a chat over its life, through the
    inbox's own functions: close, reopen, snooze and its end, replies, notes, customer
    messages, tags added, removed, replaced, renamed and deleted everywhere, chats deleted."""

    registry = IntegrationRegistry(PluginHost())

    async def one(self, conn: Any) -> None:
        rng = self.rng
        chat = await self._chat(conn)
        op = rng.randrange(16)
        if chat is None or op == 0:
            await self.new_chat(conn)
            await self._tag_newest(conn)
        elif op == 1:
            await close_chats(conn, [chat])
        elif op == 2:
            await reopen_chats(conn, [chat], self.registry)
        elif op == 3:
            await snooze_chats(conn, [chat], utcnow() + timedelta(minutes=rng.choice((-1, 1)) + 2))
        elif op == 4:
            await conn.execute(  # the snooze ran out (as if time passed), then the waker runs
                update(s.chats)
                .where(s.chats.c.id == chat, s.chats.c.state == "snoozed")
                .values(snoozed_until=NOW)
            )
            await wake_due(conn, utcnow())
        elif op == 5:
            await write_reply(conn, chat_id=chat, text="ok", author_kind="manager", author_id=MANAGERS[0])
        elif op == 6:
            await write_note(conn, chat, "note", author_kind="manager", author_id=1, author_name="M1")
        elif op == 7:
            row = (await conn.execute(select(s.chats).where(s.chats.c.id == chat))).one()
            await write_customer_message(conn, row, "hello")
        elif op == 8:
            await add_tag(conn, [chat], rng.choice(TAGS))
        elif op == 9:
            await remove_tag(conn, chat, rng.choice(TAGS))
        elif op == 10:
            await set_tags(conn, chat, rng.sample(TAGS, rng.randrange(len(TAGS) + 1)))
        elif op == 11 and rng.random() < 0.2:
            old, new = rng.sample(TAGS, 2)
            await rename_tag(conn, 1, old, new)
        elif op == 12 and rng.random() < 0.1:
            await delete_tag(conn, 1, rng.choice(TAGS))
        elif op == 13 and rng.random() < 0.3:
            await delete_chat_rows(conn, chat)
        elif op == 14:  # the sort keys moved by hand, as an import or a fix-up would
            await conn.execute(
                update(s.chats)
                .where(s.chats.c.id == chat)
                .values(
                    created_at=NOW - timedelta(days=rng.randrange(30)),
                    last_message_at=NOW + timedelta(seconds=rng.randrange(10_000)),
                )
            )
        else:
            await super().one(conn)

    async def _tag_newest(self, conn: Any) -> None:
        """Most new chats get a tag at once, as a rule or a manager tagging on arrival does."""
        newest = (await conn.execute(select(s.chats.c.id).order_by(s.chats.c.id.desc()).limit(1))).scalar()
        if newest is not None and self.rng.random() < 0.7:
            await add_tag(conn, [int(newest)], self.rng.choice(TAGS))


async def test_every_kind_of_change_keeps_the_tag_rows_copies_exact(db: Database) -> None:  # noqa: F811
    changes = ChatLife(db, seed=12)
    seen = set()
    for _ in range(10):
        await changes.run(30)
        assert await stale_copies(db) == []
        async with db.read() as conn:
            seen |= set((await conn.execute(select(s.chat_tags.c.state).distinct())).scalars())
    assert await tag_rows(db) > 0
    assert seen >= {"open", "closed", "snoozed"}, seen  # the copies followed the chats around


async def test_a_chat_moved_to_another_workspace_takes_its_tags_copies_along(db: Database) -> None:  # noqa: F811
    await ChatLife(db, seed=2).run(40)
    async with db.write() as conn:
        await conn.execute(s.workspaces.insert().values(id=2, name="other", created_at=NOW))
        await conn.execute(update(s.chats).where(s.chats.c.id % 2 == 0).values(workspace_id=2))
    assert await stale_copies(db) == []
    async with db.read() as conn:
        moved = set((await conn.execute(select(s.chat_tags.c.workspace_id).distinct())).scalars())
    assert moved == {1, 2}


async def test_concurrent_tagging_and_chat_changes_keep_the_copies_exact(db: Database) -> None:  # noqa: F811
    """Eight writers tag and change the same dozen chats at once (on PostgreSQL truly
    concurrently): a tag added while its chat changes still ends with the chat's values."""
    seed = ChatLife(db, seed=1)
    for _ in range(12):
        await retry_on_conflict(seed._in_transaction(seed.new_chat))
    for round_ in range(4):
        await asyncio.gather(*(ChatLife(db, seed=200 + 10 * round_ + n).run(10) for n in range(8)))
        assert await stale_copies(db) == []
        assert await tag_rows(db) > 0


async def test_the_migration_copies_what_an_existing_inbox_holds(db_url: str) -> None:
    """Migration 0012 on a database with tagged chats: the backfilled copies equal the chats',
    and the triggers keep them from there."""
    from alembic import command

    from bridgekit.storage.db import alembic_config

    def upgrade_to_0011(conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0011_one_customer_per_handle")

    now = "2026-01-01 00:00:00"
    statements = [
        f"INSERT INTO workspaces (id, name, created_at) VALUES (1, 'w', '{now}')",
        "INSERT INTO customers (id, workspace_id, name, is_lead, profile, created_at, updated_at)"
        f" VALUES (1, 1, 'Kim', TRUE, '{{}}', '{now}', '{now}')",
        *[
            "INSERT INTO chats (id, workspace_id, customer_id, state, created_at, updated_at,"
            f" last_message_at) VALUES ({chat}, 1, 1, '{state}', '2026-01-0{chat} 00:00:00', '{now}',"
            f" '2026-02-0{chat} 10:00:00')"
            for chat, state in ((1, "open"), (2, "closed"), (3, "snoozed"))
        ],
        "INSERT INTO chat_tags (chat_id, tag) VALUES (1, 'vip'), (2, 'vip'), (3, 'bug'), (3, 'vip')",
    ]
    engine = create_async_engine(Database(db_url).sqlalchemy_url)
    async with engine.begin() as conn:
        await conn.run_sync(upgrade_to_0011)
        for statement in statements:
            await conn.execute(text(statement))
    await engine.dispose()

    database = Database(db_url)
    try:
        await database.migrate()
        assert await stale_copies(database) == []
        t = s.chat_tags.c
        async with database.read() as conn:
            rows = await conn.execute(select(t.chat_id, t.tag, t.state).order_by(t.chat_id, t.tag))
            assert [tuple(r) for r in rows] == [
                (1, "vip", "open"),
                (2, "vip", "closed"),
                (3, "bug", "snoozed"),
                (3, "vip", "snoozed"),
            ]
            last = (await conn.execute(select(t.last_message_at).where(t.chat_id == 2))).scalar_one()
        assert last == datetime(2026, 2, 2, 10, 0)
        # And the triggers carry on from the backfill.
        async with database.write() as conn:
            await close_chats(conn, [1])
            await write_reply(conn, chat_id=3, text="back soon", author_kind="manager", author_id=None)
        assert await stale_copies(database) == []
        async with database.read() as conn:
            rows = await conn.execute(select(t.chat_id, t.state).where(t.tag == "vip").order_by(t.chat_id))
            assert [tuple(r) for r in rows] == [(1, "closed"), (2, "closed"), (3, "snoozed")]
        await ChatLife(database, seed=7).run(40)
        assert await stale_copies(database) == []
    finally:
        await database.dispose()


async def test_the_served_tag_view_follows_webhooks_and_actions(make_bridge: Any, sandbox_url: str) -> None:
    """Through a real server: a tagged chat whose customer writes again (the ingest path moves
    its latest message) comes first in the tag's list; a closed one leaves it, a reopened or
    newly tagged one joins it in place, a snoozed one shows under "snoozed"."""
    from tests.conftest import integration
    from tests.inbox.views_helpers import customer_writes, open_chats, operator_client
    from tests.support.testchannel import TestChannelPlugin

    running = await make_bridge(
        plugins={"testchat": TestChannelPlugin()}, integrations={"acme": integration(sandbox_url)}
    )
    me = await operator_client(running)
    first, second, third, fourth = await open_chats(running, "acme", 4)
    for chat in (first, second, third):
        await me.ok("POST", f"/chats/{chat}/tags/vip")
    # One webhook made them all: same latest message, listed by id, highest first.
    assert await me.ids("view=tag&tag=vip") == [third, second, first]

    await customer_writes(running, "acme", "u0", "one more thing")  # first's customer
    assert await me.ids("view=tag&tag=vip") == [first, third, second]
    assert await me.ids("view=tag&tag=vip&sort=oldest&limit=1") == [first, second, third]

    await me.ok("POST", f"/chats/{third}/close")
    assert await me.ids("view=tag&tag=vip") == [first, second]
    assert await me.ids("view=tag&tag=vip&state=closed") == [third]
    await me.ok("POST", f"/chats/{fourth}/tags/vip")
    await customer_writes(running, "acme", "u1", "still waiting")  # second's customer
    assert await me.ids("view=tag&tag=vip") == [second, first, fourth]
    until = (utcnow() + timedelta(days=1)).isoformat() + "Z"
    await me.ok("POST", f"/chats/{first}/snooze", json={"until": until})
    assert await me.ids("view=tag&tag=vip") == [second, fourth]
    assert await me.ids("view=tag&tag=vip&state=snoozed") == [first]
    await me.ok("POST", f"/chats/{third}/reopen")
    assert await me.ids("view=tag&tag=vip") == [second, fourth, third]  # a tie: by id
    assert (await me.views())["tags"] == [{"tag": "vip", "count": 3}]
