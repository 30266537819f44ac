"""The ingest's routing cache (``bridgekit.ingest.routing_cache``): a returning sender is routed
without a query, and whatever another writer changed is never served stale: closed chats
(E6's new chat, or a reopen by channel policy), deleted chats (I12), other processes' writes."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import Table, func, select

from bridgekit.ingest.routing_cache import BatchRoutes, RoutingCache
from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from bridgekit.web.auth import DELETE_CHATS
from tests.conftest import SECRET, integration, signed
from tests.inbox.chats_support import StateRecorder, manager
from tests.support.sandbox import SIGNATURE_HEADER, sign
from tests.support.testchannel import TestChannelPlugin

# --- the cache on its own ---------------------------------------------------------------------


def test_a_changed_token_drops_everything_and_no_token_means_no_cache() -> None:
    cache = RoutingCache()
    cache.committed(BatchRoutes(handles={("line", 1, "U1"): ((7, 3, True, True),)}), (5, 1, 10))
    assert cache.usable((5, 1, 10))
    assert ("line", 1, "U1") in cache.handles

    assert not cache.usable(None)  # PostgreSQL: nothing is cached
    assert cache.handles == {}

    cache.committed(BatchRoutes(keys={(1, "U1"): (4, 3)}, chat_states={4: "open"}), (5, 1, 11))
    assert cache.usable((6, 1, 11))  # another connection committed: usable, but empty
    assert cache.keys == {}
    assert cache.chat_states == {}


def test_what_a_batch_changed_is_dropped_and_a_key_without_its_chat_state_is_unknown() -> None:
    cache = RoutingCache()
    batch = BatchRoutes(
        handles={("line", 1, "U1"): ((7, 3, True, True),), ("line", 1, "U2"): ()},
        keys={(1, "U1"): (4, 3), (1, "U2"): None},
        chat_states={4: "closed"},
        changed_handles={("line", 1, "U2")},
        changed_chats={4},  # reopened by the batch
    )
    cache.committed(batch, (1, 1, 1))
    assert set(cache.handles) == {("line", 1, "U1")}
    assert cache.chat_of((1, "U1"))[0] is False  # its chat's state must be read again
    assert cache.chat_of((1, "U2")) == (True, None, None)  # known to have no chat yet
    assert cache.chat_of((1, "U3"))[0] is False


def test_next_ids_are_kept_per_token_and_dropped_with_everything_else() -> None:
    cache = RoutingCache()
    cache.committed(BatchRoutes(next_ids={"messages": 11, "raw_deliveries": 6}), (5, 1, 10))
    assert cache.usable((5, 1, 10))
    cache.committed(BatchRoutes(next_ids={"messages": 14}), (5, 1, 11))
    assert cache.next_ids == {"messages": 14, "raw_deliveries": 6}
    assert cache.usable((6, 1, 11))  # another connection committed
    assert cache.next_ids == {}


def test_past_its_size_the_cache_starts_over() -> None:
    cache = RoutingCache(max_entries=3)
    cache.committed(BatchRoutes(keys={(1, "a"): None, (1, "b"): None}), (1, 1, 1))
    cache.committed(BatchRoutes(keys={(1, "c"): None, (1, "d"): None}), (1, 1, 2))
    assert set(cache.keys) == {(1, "c"), (1, "d")}


# --- in the running bridge ---------------------------------------------------------------------


async def send(running: RunningBridge, event_id: str, user: str, integration: str = "acme") -> None:
    body, headers = signed({"id": event_id, "user": user, "text": f"message {event_id}"})
    status, text = await running.post_hook(integration, body, headers)
    assert status == 200, text


async def chat_ids_of(running: RunningBridge, user: str) -> list[int]:
    """The chat of each message from ``user``, in order."""
    m, c, ct = s.messages, s.chats, s.contacts
    async with running.bridge.db.read() as conn:
        rows = await conn.execute(
            select(m.c.chat_id)
            .join(c, c.c.id == m.c.chat_id)
            .join(ct, ct.c.id == c.c.contact_id)
            .where(ct.c.value == user)
            .order_by(m.c.id)
        )
        return [r.chat_id for r in rows]


async def count(running: RunningBridge, table: Table) -> int:
    async with running.bridge.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def cached_lookups(running: RunningBridge) -> int:
    return running.bridge.metrics.value("bridgekit_ingest_route_lookups_total", source="cache")


async def test_a_returning_sender_is_routed_from_the_cache_to_the_same_customer_and_chat(
    make_bridge, sandbox_url: str
) -> None:
    running = await make_bridge(
        plugins={"testchat": TestChannelPlugin()}, integrations={"acme": integration(sandbox_url)}
    )
    for n in range(4):
        await send(running, f"ev-{n}", "u-1")
    await send(running, "ev-other", "u-2")

    (chat,) = set(await chat_ids_of(running, "u-1"))
    assert len(await chat_ids_of(running, "u-1")) == 4
    assert set(await chat_ids_of(running, "u-2")) != {chat}
    assert await count(running, s.customers) == 2
    assert await count(running, s.contacts) == 2
    if running.bridge.db.is_sqlite:
        # Message 2 re-reads what message 1 created; messages 3 and 4 need no query at all.
        assert cached_lookups(running) >= 2
    else:
        assert cached_lookups(running) == 0  # concurrent writers: PostgreSQL is always asked


async def test_a_chat_closed_by_a_manager_is_never_served_open_from_the_cache(
    make_bridge, sandbox_url: str
) -> None:
    """E6: after a close, the next message opens a new chat (this channel's policy)."""
    running = await make_bridge(
        plugins={"testchat": TestChannelPlugin(closed_chat_policy="new_chat")},
        integrations={"acme": integration(sandbox_url)},
    )
    kim = await manager(running, "Kim")
    await send(running, "ev-1", "u-1")
    await send(running, "ev-2", "u-1")  # the route is cached now
    (first,) = set(await chat_ids_of(running, "u-1"))

    await kim.ok("POST", f"/chats/{first}/close")
    await send(running, "ev-3", "u-1")
    await send(running, "ev-4", "u-1")

    chats = await chat_ids_of(running, "u-1")
    assert chats[:2] == [first, first]
    assert chats[2] == chats[3] != first
    assert (await kim.info(first))["state"] == "closed"


async def test_a_reopen_by_the_ingest_is_not_repeated_from_the_cache(make_bridge, sandbox_url: str) -> None:
    """Channel policy "reopen": one closed -> open change per close, however many messages."""
    recorder = StateRecorder()
    running = await make_bridge(
        plugins={"testchat": TestChannelPlugin(closed_chat_policy="reopen"), "recorder": recorder},
        integrations={"acme": integration(sandbox_url)},
    )
    kim = await manager(running, "Kim")
    await send(running, "ev-1", "u-1")
    await send(running, "ev-2", "u-1")
    (chat,) = set(await chat_ids_of(running, "u-1"))

    for round_ in range(2):
        await kim.ok("POST", f"/chats/{chat}/close")
        for n in range(3):
            await send(running, f"ev-{round_}-{n}", "u-1")

    assert set(await chat_ids_of(running, "u-1")) == {chat}
    await running.wait_for(lambda: len(recorder.states) >= 5)
    await asyncio.sleep(0.2)  # a spurious extra change would show up by now
    assert recorder.states == [
        (chat, None, "open"),
        (chat, "open", "closed"),
        (chat, "closed", "open"),
        (chat, "open", "closed"),
        (chat, "closed", "open"),
    ]


async def test_a_deleted_chat_is_never_served_from_the_cache(make_bridge, sandbox_url: str) -> None:
    """I12: the customer's next message opens a fresh chat instead of pointing at a gone one."""
    running = await make_bridge(
        plugins={"testchat": TestChannelPlugin()}, integrations={"acme": integration(sandbox_url)}
    )
    boss = await manager(running, "Boss", permissions=(DELETE_CHATS,))
    await send(running, "ev-1", "u-1")
    await send(running, "ev-2", "u-1")
    (chat,) = set(await chat_ids_of(running, "u-1"))

    await boss.ok("DELETE", f"/chats/{chat}")
    await send(running, "ev-3", "u-1")

    (fresh,) = await chat_ids_of(running, "u-1")  # only the new message is left
    assert (await boss.info(fresh))["state"] == "open"
    assert [m["text"] for m in await running.messages(fresh)] == ["message ev-3"]
    assert await count(running, s.chats) == 1


def _write_from_another_connection(path: str, sql: str, *params: object) -> None:
    """Run on a thread of its own: while it waits for SQLite's write lock, the event loop goes
    on and a background worker's open transaction can commit (blocking the loop deadlocked
    them until the busy timeout)."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("PRAGMA busy_timeout=10000")
        other.execute(sql, params)
    finally:
        other.close()


async def test_a_change_committed_by_another_process_is_seen(
    make_bridge, sandbox_url: str, db_backend: str
) -> None:
    """Another program writing the SQLite file (a script, a second bridgekit command) counts too."""
    if db_backend != "sqlite":
        pytest.skip("PostgreSQL caches nothing; the other tests cover it there")
    running = await make_bridge(
        plugins={"testchat": TestChannelPlugin(closed_chat_policy="new_chat")},
        integrations={"acme": integration(sandbox_url)},
    )
    await send(running, "ev-1", "u-1")
    await send(running, "ev-2", "u-1")
    (chat,) = set(await chat_ids_of(running, "u-1"))

    path = running.bridge.db.sqlalchemy_url.database
    assert path
    await asyncio.to_thread(
        _write_from_another_connection, path, "UPDATE chats SET state = 'closed' WHERE id = ?", chat
    )
    await send(running, "ev-3", "u-1")

    chats = await chat_ids_of(running, "u-1")
    assert chats[2] != chat


async def test_ids_after_a_delivery_kept_raw_and_another_process_are_fresh(
    make_bridge, sandbox_url: str, db_backend: str
) -> None:
    """The next raw delivery and message ids come from the cache only while nobody else wrote:
    a malformed delivery kept raw and another process's insert in between cost no message."""
    running = await make_bridge(
        plugins={"testchat": TestChannelPlugin()}, integrations={"acme": integration(sandbox_url)}
    )
    await send(running, "ev-1", "u-1")
    await send(running, "ev-2", "u-2")  # the next ids are cached now
    body = b"not json"
    status, _ = await running.post_hook("acme", body, {SIGNATURE_HEADER: sign(SECRET, body)})
    assert status == 400
    await send(running, "ev-3", "u-1")
    if db_backend == "sqlite":
        path = running.bridge.db.sqlalchemy_url.database
        assert path
        await asyncio.to_thread(
            _write_from_another_connection,
            path,
            "INSERT INTO raw_deliveries (integration_id, received_at, method, path, headers, query,"
            " body, status) SELECT integration_id, received_at, method, path, headers, query, body,"
            " 'error' FROM raw_deliveries ORDER BY id DESC LIMIT 1",
        )
    await send(running, "ev-4", "u-2")
    await send(running, "ev-5", "u-2")

    assert await count(running, s.messages) == 5
    assert await count(running, s.raw_deliveries) == (7 if db_backend == "sqlite" else 6)
    m = s.messages
    async with running.bridge.db.read() as conn:
        rows = await conn.execute(select(m.c.raw_delivery_id).order_by(m.c.id))
        raw_ids = [r.raw_delivery_id for r in rows]
    assert len(set(raw_ids)) == 5


async def test_a_chat_read_and_tagged_after_the_cache_settled_it_follows_the_next_message(
    make_bridge, sandbox_url: str
) -> None:
    """The group commit skips the tag-view and read-marker statements for chats the cache knows
    have neither; a manager's read and tag (another connection's commit) end that."""
    running = await make_bridge(
        plugins={"testchat": TestChannelPlugin()}, integrations={"acme": integration(sandbox_url)}
    )
    kim = await manager(running, "Kim")
    for n, user in enumerate(("u-1", "u-1", "u-2", "u-2")):  # both chats settled in the cache
        await send(running, f"ev-{n}", user)
    (first,) = set(await chat_ids_of(running, "u-1"))
    (second,) = set(await chat_ids_of(running, "u-2"))
    for chat_id in (first, second):
        messages = await kim.ok("GET", f"/chats/{chat_id}/messages")
        await kim.ok("POST", f"/chats/{chat_id}/read", {"message_id": messages[-1]["id"]})
        await kim.ok("POST", f"/chats/{chat_id}/tags/vip")
    unread = await kim.ok("GET", "/chats?view=unread")
    assert unread["chats"] == []

    await send(running, "ev-4", "u-1")  # the first chat again: unread, and first by its tag
    unread = await kim.ok("GET", "/chats?view=unread")
    assert [c["id"] for c in unread["chats"]] == [first]
    tagged = await kim.ok("GET", "/chats?view=tag&tag=vip&sort=latest")
    assert [c["id"] for c in tagged["chats"]] == [first, second]
