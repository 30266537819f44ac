"""The sidebar's kept counts (migration 0010's triggers) equal a full recount of the chats,
after every kind of change, concurrent changes and folds included, on both databases."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import datetime
from typing import Any

import pytest_asyncio
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.inbox.chat_batch import ChatNotFound
from bridgekit.inbox.chat_delete import delete_chat_rows
from bridgekit.inbox.managers import Manager
from bridgekit.inbox.message_writer import write_customer_message, write_note, write_reply
from bridgekit.inbox.views_counts import NewChat, count_new_chats, fold_counts
from bridgekit.inbox.views_marks import mark_read, set_star
from bridgekit.inbox.views_sidebar import recount_sidebar, sidebar
from bridgekit.storage import schema as s
from bridgekit.storage.db import Database, retry_on_conflict
from bridgekit.storage.sql import upsert

NOW = datetime(2024, 5, 1, 9, 0, 0)
MANAGERS = (1, 2, 3)  # manager 3 is notified about unassigned chats (My sessions)
TEAMS = (1, 2)
INTEGRATIONS = (1, 2)
TAGS = ("vip", "refund", "bug")
STATES = ("open", "open", "closed", "snoozed", "queued")


@pytest_asyncio.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await database.migrate()
    async with database.write() as conn:
        await conn.execute(s.workspaces.insert().values(id=1, name="w", created_at=NOW))
        await conn.execute(
            s.integrations.insert(),
            [
                {"id": i, "workspace_id": 1, "name": f"i{i}", "kind": "sms", "settings": {}, "secrets": {}}
                | {"enabled": True, "created_at": NOW}
                for i in INTEGRATIONS
            ],
        )
        await conn.execute(
            s.managers.insert(),
            [
                {"id": m, "workspace_id": 1, "name": f"M{m}", "operator": True, "permissions": []}
                | {"max_auto_assign": 1, "notify_unassigned": m == 3, "available": True, "created_at": NOW}
                for m in MANAGERS
            ],
        )
        await conn.execute(
            s.teams.insert(),
            [{"id": t, "workspace_id": 1, "name": f"T{t}", "auto_assign": False} for t in TEAMS],
        )
    try:
        yield database
    finally:
        await database.dispose()


async def assert_counts_exact(db: Database) -> None:
    """Every manager's sidebar from the kept figures equals the recount, before and after a fold."""
    for fold in (False, True):
        if fold:
            async with db.write() as conn:
                await fold_counts(conn)
        async with db.read() as conn:
            managers = (await conn.execute(select(s.managers.c.id))).scalars().all()
            for manager_id in managers:
                manager = Manager(int(manager_id), f"M{manager_id}", True, frozenset())
                assert await sidebar(conn, manager) == await recount_sidebar(conn, manager), (
                    fold,
                    manager_id,
                )
    async with db.read() as conn:  # folded: one row per key, none for a figure back at 0
        keys = (await conn.execute(select(func.count()).select_from(s.chat_counts))).scalar_one()
        distinct = (
            await conn.execute(
                select(func.count()).select_from(
                    select(s.chat_counts.c.kind, s.chat_counts.c.key).distinct().subquery()
                )
            )
        ).scalar_one()
        zeros = (await conn.execute(select(func.count()).where(s.chat_counts.c.n == 0))).scalar_one()
    assert (keys, zeros) == (distinct, 0)


class Changes:
    """Random changes of chats and of what hangs off them, each its own transaction."""

    def __init__(self, db: Database, seed: int) -> None:
        self.db = db
        self.rng = random.Random(seed)

    async def new_chat(self, conn: AsyncConnection) -> None:
        rng = self.rng
        customer = (
            await conn.execute(
                s.customers.insert().values(
                    workspace_id=1, name="c", is_lead=True, profile={}, created_at=NOW, updated_at=NOW
                )
            )
        ).inserted_primary_key[0]
        state = rng.choice(STATES)
        new = NewChat(
            workspace_id=1,
            state=state,
            integration_id=rng.choice((*INTEGRATIONS, None)),
            assignee_id=rng.choice((*MANAGERS, None)) if state != "queued" else None,
            team_id=rng.choice((*TEAMS, None)),
            has_inbound=False,
        )
        chat = (
            await conn.execute(
                s.chats.insert().values(
                    **new._asdict(), customer_id=customer, created_at=NOW, updated_at=NOW, last_message_at=NOW
                )
            )
        ).inserted_primary_key[0]
        await count_new_chats(conn, [new])  # what the two writers of chats do (migration 0016)
        if rng.random() < 0.7:
            await self._message(conn, int(chat), "inbound")

    async def _message(self, conn: AsyncConnection, chat_id: int, direction: str) -> None:
        """A message through the one writer of single messages, as the API writes them."""
        if direction == "inbound":
            chat = (await conn.execute(select(s.chats).where(s.chats.c.id == chat_id))).one()
            await write_customer_message(conn, chat, "x")
            return
        author = self.rng.choice(MANAGERS)
        if direction == "note":
            await write_note(conn, chat_id, "x", author_kind="manager", author_id=author, author_name="M")
        else:
            await write_reply(conn, chat_id=chat_id, text="x", author_kind="manager", author_id=author)

    async def _chat(self, conn: AsyncConnection) -> int | None:
        ids = (await conn.execute(select(s.chats.c.id).order_by(s.chats.c.id))).scalars().all()
        return int(self.rng.choice(ids)) if ids else None

    async def one(self, conn: AsyncConnection) -> None:
        rng = self.rng
        chat = await self._chat(conn)
        op = rng.randrange(14)
        if chat is None or op == 0:
            await self.new_chat(conn)
            return
        c = s.chats.c
        manager = rng.choice(MANAGERS)
        if op == 1:
            await conn.execute(update(s.chats).where(c.id == chat).values(state=rng.choice(STATES)))
        elif op == 2:
            await conn.execute(
                update(s.chats).where(c.id == chat).values(assignee_id=rng.choice((*MANAGERS, None)))
            )
        elif op == 3:
            await conn.execute(update(s.chats).where(c.id == chat).values(team_id=rng.choice((*TEAMS, None))))
        elif op == 4:
            await conn.execute(
                update(s.chats).where(c.id == chat).values(integration_id=rng.choice((*INTEGRATIONS, None)))
            )
        elif op == 5:
            await upsert(conn, s.chat_tags, [{"chat_id": chat, "tag": rng.choice(TAGS)}], ["chat_id", "tag"])
        elif op == 6:
            await conn.execute(delete(s.chat_tags).where(s.chat_tags.c.chat_id == chat))
        elif op == 7:
            await set_star(conn, manager, chat, rng.random() < 0.6)
        elif op == 8:
            await upsert(
                conn, s.chat_followers, [{"chat_id": chat, "manager_id": manager}], ["chat_id", "manager_id"]
            )
        elif op == 9:
            f = s.chat_followers.c
            await conn.execute(delete(s.chat_followers).where(f.chat_id == chat, f.manager_id == manager))
        elif op == 10:  # to the latest message, or to one before it (still unread after it)
            m = s.messages.c
            ids = (await conn.execute(select(m.id).where(m.chat_id == chat))).scalars().all()
            await mark_read(conn, manager, chat, rng.choice([None, *ids]))
        elif op == 11:
            await self._message(conn, chat, rng.choice(("inbound", "outbound", "note")))
        elif op == 12 and rng.random() < 0.3:
            await delete_chat_rows(conn, chat)
        else:  # several columns at once, as closing an assigned chat does
            await conn.execute(
                update(s.chats)
                .where(c.id == chat)
                .values(state=rng.choice(STATES), assignee_id=rng.choice((*MANAGERS, None)), updated_at=NOW)
            )

    async def run(self, count: int) -> None:
        for _ in range(count):
            # Its chat deleted meanwhile: rolled back, as the API's 404.
            with contextlib.suppress(IntegrityError, ChatNotFound):
                await retry_on_conflict(self._in_transaction(self.one))

    def _in_transaction(
        self, work: Callable[[AsyncConnection], Coroutine[Any, Any, None]]
    ) -> Callable[[], Coroutine[Any, Any, None]]:
        async def attempt() -> None:
            async with self.db.write() as conn:
                await work(conn)

        return attempt


async def test_every_kind_of_change_keeps_the_counts_exact(db: Database) -> None:
    """State, assignee, team, integration, first customer message, tags, stars, followers, read
    markers, chat deletes (cascading to their tags and followers): after each batch of random
    changes every manager's sidebar equals the recount."""
    changes = Changes(db, seed=14)
    seen: list[Any] = []  # which figures the run moved: it must have exercised each kind
    for _ in range(12):
        await changes.run(25)
        await assert_counts_exact(db)
        async with db.read() as conn:
            for manager_id in MANAGERS:
                seen.append(await sidebar(conn, Manager(manager_id, "M", True, frozenset())))
    for figure in ("all", "mine", "unread", "favourites", "sessions", "unassigned", "queue", "tags"):
        assert any(getattr(counted, figure) for counted in seen), figure


async def test_deleting_a_team_or_a_manager_moves_their_counts(db: Database) -> None:
    """Foreign keys set a deleted team's or manager's chats to none: the counts follow."""
    changes = Changes(db, seed=3)
    await changes.run(120)
    await assert_counts_exact(db)
    async with db.write() as conn:
        await conn.execute(delete(s.teams).where(s.teams.c.id == 1))
        await conn.execute(delete(s.managers).where(s.managers.c.id == 2))
    await assert_counts_exact(db)


async def test_concurrent_changes_and_folds_keep_the_counts_exact(db: Database) -> None:
    """Eight writers change the same dozen chats at once (on PostgreSQL truly concurrently,
    deadlocks retried as the API retries them) while the counts are folded: no change is lost
    or counted twice."""
    seed = Changes(db, seed=1)
    for _ in range(12):
        await retry_on_conflict(seed._in_transaction(seed.new_chat))
    stop = asyncio.Event()

    async def fold_meanwhile() -> None:
        while not stop.is_set():
            async with db.write() as conn:
                await fold_counts(conn)
            await asyncio.sleep(0.01)

    folding = asyncio.create_task(fold_meanwhile())
    try:
        await asyncio.gather(*(Changes(db, seed=100 + n).run(40) for n in range(8)))
    finally:
        stop.set()
        await folding
    await assert_counts_exact(db)


async def test_the_migration_counts_what_an_existing_inbox_holds(db_url: str) -> None:
    """Migration 0010 on a database with chats in it: the figures it backfills (open chats by
    every key, customer messages, markers behind a newer message) equal a recount, and the
    triggers keep them from there."""
    from alembic import command
    from sqlalchemy import Connection, text
    from sqlalchemy.ext.asyncio import create_async_engine

    from bridgekit.storage.db import alembic_config

    def upgrade_to_0009(conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0009_sign_in")

    now = "2026-01-01 00:00:00"
    # (id, state, assignee, team, integration, messages: (id, direction, author manager or None))
    chats = [
        (1, "open", None, 1, 1, [(1, "inbound", None)]),
        (2, "open", 1, None, 1, [(2, "inbound", None), (3, "outbound", 1)]),
        (3, "open", 2, 2, 2, [(4, "inbound", None), (5, "outbound", 2), (6, "inbound", None)]),
        (4, "closed", 1, 1, 2, [(7, "inbound", None)]),
        (5, "queued", None, 2, 1, [(8, "inbound", None)]),
        (6, "open", None, None, None, [(9, "note", 1)]),  # started by a manager: no customer message
    ]
    statements = [
        f"INSERT INTO workspaces (id, name, created_at) VALUES (1, 'w', '{now}')",
        *[
            "INSERT INTO integrations (id, workspace_id, name, kind, settings, secrets, enabled, created_at)"
            f" VALUES ({i}, 1, 'i{i}', 'sms', '{{}}', '{{}}', TRUE, '{now}')"
            for i in INTEGRATIONS
        ],
        *[
            "INSERT INTO managers (id, workspace_id, name, operator, permissions, max_auto_assign,"
            f" notify_unassigned, available, created_at) VALUES ({m}, 1, 'M{m}', TRUE, '[]', 1,"
            f" {'TRUE' if m == 3 else 'FALSE'}, TRUE, '{now}')"
            for m in MANAGERS
        ],
        *[
            f"INSERT INTO teams (id, workspace_id, name, auto_assign) VALUES ({t}, 1, 'T{t}', FALSE)"
            for t in TEAMS
        ],
        "INSERT INTO customers (id, workspace_id, name, is_lead, profile, created_at, updated_at)"
        f" VALUES (1, 1, 'Kim', TRUE, '{{}}', '{now}', '{now}')",
    ]
    for chat, state, assignee, team, integration, messages in chats:
        values = ", ".join("NULL" if v is None else str(v) for v in (assignee, team, integration))
        statements.append(
            "INSERT INTO chats (id, workspace_id, customer_id, state, assignee_id, team_id, integration_id,"
            f" created_at, updated_at, last_message_at) VALUES ({chat}, 1, 1, '{state}', {values},"
            f" '{now}', '{now}', '{now}')"
        )
        for message, direction, author in messages:
            kind, author_id = ("customer", "NULL") if author is None else ("manager", str(author))
            statements.append(
                "INSERT INTO messages (id, chat_id, direction, author_kind, author_id, text, meta, automated,"
                f" created_at) VALUES ({message}, {chat}, '{direction}', '{kind}', {author_id}, 'x', '{{}}',"
                f" FALSE, '{now}')"
            )
    statements += [
        "INSERT INTO chat_tags (chat_id, tag) VALUES (1, 'vip'), (3, 'vip'), (3, 'bug'), (4, 'vip')",
        f"INSERT INTO chat_stars (manager_id, chat_id, created_at) VALUES (1, 1, '{now}'), (1, 4, '{now}')",
        "INSERT INTO chat_followers (chat_id, manager_id) VALUES (1, 3), (2, 1), (3, 2), (3, 1), (6, 3)",
        # Manager 1 read chat 3 up to message 4 (a customer wrote after it: unread) and chat 2 to
        # its end; manager 2 read chat 3 to message 5, their own reply, before message 6.
        "INSERT INTO read_markers (manager_id, chat_id, last_read_message_id, updated_at)"
        f" VALUES (1, 3, 4, '{now}'), (1, 2, 3, '{now}'), (2, 3, 5, '{now}')",
    ]
    engine = create_async_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(upgrade_to_0009)
        for statement in statements:
            await conn.execute(text(statement))
    await engine.dispose()

    db = Database(db_url)
    try:
        await db.migrate()
        await assert_counts_exact(db)
        async with db.read() as conn:
            one = await sidebar(conn, Manager(1, "M1", True, frozenset()))
            three = await sidebar(conn, Manager(3, "M3", True, frozenset()))
        assert (one.all, one.unread, one.mine, one.favourites, one.sessions) == (4, 2, 1, 1, 2)
        assert one.tags == [("bug", 1), ("vip", 2)]
        assert (three.unread, three.unassigned, three.sessions, three.queue) == (3, 2, 2, 1)
        await Changes(db, seed=5).run(60)  # and the triggers carry on from the backfill
        await assert_counts_exact(db)
    finally:
        await db.dispose()


async def test_the_served_sidebar_follows_webhooks_and_actions_and_the_server_folds_its_rows(
    make_bridge: Any, sandbox_url: str
) -> None:
    """Through a real server: customers write in, a manager assigns, tags, stars, reads,
    closes and starts a chat over the API; ``GET /api/v1/views`` shows each change at once, and the server's
    compactor folds the count rows to one per figure."""
    from tests.conftest import integration
    from tests.inbox.views_helpers import customer_writes, open_chats, operator_client
    from tests.support.testchannel import TestChannelPlugin

    running = await make_bridge(
        plugins={"testchat": TestChannelPlugin()}, integrations={"acme": integration(sandbox_url)}
    )
    me = await operator_client(running)
    first, second, third = await open_chats(running, "acme", 3)
    views = await me.views()
    assert (views["all"], views["unread"], views["mine"], views["unassigned"]["count"]) == (3, 3, 0, 3)

    await me.ok("POST", f"/chats/{first}/assign", json={"manager_id": me.id})
    await me.ok("POST", f"/chats/{first}/tags/vip")
    await me.ok("PUT", f"/chats/{second}/star")
    await me.ok("POST", f"/chats/{second}/read", json={})
    await me.ok("POST", f"/chats/{third}/close")
    views = await me.views()
    assert (views["all"], views["unread"], views["mine"], views["favourites"]) == (2, 1, 1, 1)
    assert (views["unassigned"]["count"], views["tags"]) == (1, [{"tag": "vip", "count": 1}])

    await customer_writes(running, "acme", "u1", "one more thing")  # the read chat is unread again
    assert (await me.views())["unread"] == 2
    # A manager writes first (E10): the chat they open is theirs, open, with nothing unread.
    started = {"integration": "acme", "text": "hi", "contact": {"kind": "testchat", "value": "u9"}}
    assert (await me.call("POST", "/chats", json=started))[0] == 201
    views = await me.views()
    assert (views["all"], views["unread"], views["mine"], views["unassigned"]["count"]) == (3, 2, 2, 1)
    # The group commit marks ingested messages per batch, not by the message trigger.
    await assert_counts_exact(running.bridge.db)

    counts = s.chat_counts.c
    keys = select(func.count()).select_from(select(counts.kind, counts.key).distinct().subquery())
    deadline = asyncio.get_running_loop().time() + 10
    while True:  # the compactor runs every two seconds
        async with running.bridge.db.read() as conn:
            rows = (await conn.execute(select(func.count()).select_from(s.chat_counts))).scalar_one()
            distinct = (await conn.execute(keys)).scalar_one()
        if rows == distinct or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert rows == distinct
    assert (await me.views())["unread"] == 2
