"""Realtime events across processes: two bridges on one PostgreSQL, each with its own engine,
pool and event bus, as two ``bridgekit serve`` processes would be. A manager streaming from
bridge B sees what bridge A ingested, within a second, whole however large, and after B's
listening connection is killed B's streams are told to resync and keep receiving."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from bridgekit.runtime.events import RESYNC, Event
from bridgekit.storage.event_relay import CHANNEL, PART_BYTES
from bridgekit.testing.harness import RunningBridge, start_bridge
from tests.conftest import integration, signed
from tests.inbox.test_realtime_stream import SSE, event_stream, manager_id_of
from tests.support.testchannel import TestChannelPlugin

Bridges = Callable[[], Awaitable[RunningBridge]]


@pytest_asyncio.fixture
async def bridges(db_url: str, tmp_path: Path, sandbox_url: str) -> AsyncIterator[Bridges]:
    """Start bridges on the same database and data directory, like processes of one install."""
    started: list[RunningBridge] = []

    async def another() -> RunningBridge:
        running = await start_bridge(
            database_url=db_url,
            data_dir=tmp_path / "data",
            plugins={"testchat": TestChannelPlugin()},
            integrations={"acme": integration(sandbox_url)},
        )
        started.append(running)
        return running

    yield another
    for running in reversed(started):
        await running.close()


def admin_dsn(running: RunningBridge) -> str:
    url = running.bridge.db.sqlalchemy_url
    return str(url.set(drivername="postgresql").render_as_string(hide_password=False))


async def test_on_sqlite_events_stay_in_the_process(bridges: Bridges, db_backend: str) -> None:
    if db_backend != "sqlite":
        pytest.skip("the SQLite case")
    running = await bridges()
    assert running.bridge.relay is None
    assert running.bridge.events.forward is None


async def test_a_message_ingested_on_one_process_streams_on_another_within_a_second(
    bridges: Bridges, db_backend: str
) -> None:
    if db_backend != "postgresql":
        pytest.skip("several processes share PostgreSQL only")
    a, b = await bridges(), await bridges()
    async with event_stream(b) as stream:
        body, headers = signed({"id": "ev-1", "user": "u-1", "name": "Kim", "text": "Where is my parcel?"})
        sent = time.monotonic()
        assert (await a.post_hook("acme", body, headers))[0] == 200
        event = await stream.until(lambda e: e.kind == "message.created", timeout=1.0)
        took = time.monotonic() - sent
    assert took < 1.0
    messages = await b.messages(event.data["chat_id"])
    assert [m["text"] for m in messages if m["id"] == event.data["message_id"]] == ["Where is my parcel?"]


async def test_events_keep_their_order_and_their_addressees_across_processes(
    bridges: Bridges, db_backend: str
) -> None:
    if db_backend != "postgresql":
        pytest.skip("several processes share PostgreSQL only")
    a, b = await bridges(), await bridges()
    me = await manager_id_of(b, b.session)
    async with event_stream(b) as stream:
        a.bridge.events.publish_many(
            [
                Event("notification.created", {"chat_id": 7, "n": 0}, manager_ids=frozenset({me + 1000})),
                *(Event("chat.updated", {"chat_id": 7, "n": n}) for n in range(1, 50)),
                Event("notification.created", {"chat_id": 7, "n": 50}, manager_ids=frozenset({me})),
            ]
        )
        seen = [await stream.next() for _ in range(50)]
    # The notification for another manager never came; all the rest in the order published.
    assert [e.data["n"] for e in seen if e] == list(range(1, 51))


async def test_an_event_larger_than_a_notification_arrives_whole(bridges: Bridges, db_backend: str) -> None:
    if db_backend != "postgresql":
        pytest.skip("several processes share PostgreSQL only")
    a, b = await bridges(), await bridges()
    text = "가나다라🙂 " * 3000  # about 48 kB of UTF-8, split mid-character if done carelessly
    assert len(text.encode()) > 5 * PART_BYTES
    async with event_stream(b) as stream:
        a.bridge.events.publish(Event("chat.updated", {"chat_id": 3, "description": text}))
        a.bridge.events.publish(Event("chat.updated", {"chat_id": 4}))
        big = await stream.next(timeout=1.0)
        small = await stream.next(timeout=1.0)
    assert big is not None
    assert big.data == {"chat_id": 3, "description": text}
    assert small is not None
    assert small.data == {"chat_id": 4}


async def test_a_killed_listening_connection_resyncs_the_streams_and_events_flow_again(
    bridges: Bridges, db_backend: str
) -> None:
    if db_backend != "postgresql":
        pytest.skip("several processes share PostgreSQL only")
    a, b = await bridges(), await bridges()
    relay = b.bridge.relay
    assert relay is not None
    async with event_stream(b) as stream:
        conn = await asyncpg.connect(admin_dsn(b))
        try:
            killed = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                f"{relay.application_name}-listen",
            )
        finally:
            await conn.close()
        assert killed == 1
        resync = await stream.until(lambda e: e.kind in (RESYNC, "message.created"), timeout=5.0)
        assert resync.kind == RESYNC
        body, headers = signed({"id": "ev-after", "user": "u-2", "text": "still there?"})
        assert (await a.post_hook("acme", body, headers))[0] == 200
        event = await stream.until(lambda e: e.kind == "message.created", timeout=1.0)
    messages = await b.messages(event.data["chat_id"])
    assert [m["text"] for m in messages] == ["still there?"]


async def test_a_lost_send_resyncs_the_other_processes(bridges: Bridges, db_backend: str) -> None:
    """The sender's connection killed: what it could not send is a gap the others notice."""
    if db_backend != "postgresql":
        pytest.skip("several processes share PostgreSQL only")
    a, b = await bridges(), await bridges()
    relay = a.bridge.relay
    assert relay is not None
    async with event_stream(b) as stream:
        a.bridge.events.publish(Event("chat.updated", {"chat_id": 1}))
        assert (await stream.next(timeout=1.0)) is not None  # A's sending connection exists now
        conn = await asyncpg.connect(admin_dsn(a))
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                f"{relay.application_name}-send",
            )
        finally:
            await conn.close()
        # Sent on a new connection if A noticed the loss first, else lost with the old one.
        a.bridge.events.publish(Event("chat.updated", {"chat_id": 2}))
        await asyncio.sleep(0.2)
        a.bridge.events.publish(Event("chat.updated", {"chat_id": 3}))
        kinds = [(e.kind, e.data.get("chat_id")) for e in [await stream.next(), await stream.next()] if e]
    assert kinds in ([("chat.updated", 2), ("chat.updated", 3)], [(RESYNC, None), ("chat.updated", 3)])


async def test_a_skipped_send_of_another_process_resyncs_the_streams(
    bridges: Bridges, db_backend: str
) -> None:
    """What another process could not send (its numbers skip one) is never a silent gap."""
    if db_backend != "postgresql":
        pytest.skip("several processes share PostgreSQL only")
    b = await bridges()
    conn = await asyncpg.connect(admin_dsn(b))
    seen: list[SSE] = []
    try:
        async with event_stream(b) as stream:
            for seq, chat_id in ((1, 1), (2, 2), (4, 4)):  # send 3 was lost
                body = f'[["chat.updated",{{"chat_id":{chat_id}}},null]]'
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, f"otherproc:{seq}:0:1:{body}")
                # Read up to this send's event before the next send: a resync empties what a
                # stream has not written yet, and sends 1 and 2 must be written to be seen.
                while not seen or seen[-1].data.get("chat_id") != chat_id:
                    event = await stream.next()
                    assert event is not None, "the stream ended"
                    seen.append(event)
    finally:
        await conn.close()
    assert [(e.kind, e.data.get("chat_id")) for e in seen] == [
        ("chat.updated", 1),
        ("chat.updated", 2),
        (RESYNC, None),
        ("chat.updated", 4),
    ]
    # An operator sees it too: /metrics counts the resyncs.
    assert b.bridge.metrics.value("bridgekit_event_relay_resyncs_total") == 1


async def test_two_processes_writing_one_chat_interleaved_a_third_ends_with_every_message(
    bridges: Bridges, db_backend: str
) -> None:
    """What the relay promises for one chat written on two processes at the same moments
    (architecture.md, "Events across processes"): each process's events arrive in its commit
    order, none before its commit (the message is readable where the event arrives), and the
    reload after the last event shows every message. (That the events of different processes
    also arrive in the chat's commit order is ``tests/core/test_event_order_processes.py``.)"""
    if db_backend != "postgresql":
        pytest.skip("several processes share PostgreSQL only")
    a, b, c = await bridges(), await bridges(), await bridges()
    rounds = 15
    async with event_stream(c) as stream:

        async def post(running: RunningBridge, name: str, n: int) -> None:
            body, headers = signed({"id": f"{name}-{n}", "user": "u-1", "name": "Kim", "text": f"{name} {n}"})
            assert (await running.post_hook("acme", body, headers))[0] == 200

        last_reload: list[str] = []  # the texts the reload after the last event found

        async def receive() -> list[tuple[str, int]]:
            seen: list[tuple[str, int]] = []
            chats = set()
            while len(seen) < 2 * rounds:
                event = await stream.until(lambda e: e.kind in ("message.created", RESYNC), timeout=5.0)
                assert event.kind != RESYNC
                chats.add(event.data["chat_id"])
                texts = {m["id"]: m["text"] for m in await c.messages(event.data["chat_id"])}
                last_reload[:] = texts.values()
                text = texts.get(event.data["message_id"])
                assert text is not None, "an event arrived before its message was committed"
                name, _, n = text.partition(" ")
                seen.append((name, int(n)))
            assert len(chats) == 1  # one customer, one chat, written by both processes
            return seen

        receiving = asyncio.create_task(receive())
        for n in range(rounds):  # each round, one message to A and one to B at once
            await asyncio.gather(post(a, "a", n), post(b, "b", n))
        seen = await asyncio.wait_for(receiving, 10.0)
    assert [n for name, n in seen if name == "a"] == list(range(rounds))
    assert [n for name, n in seen if name == "b"] == list(range(rounds))
    assert sorted(last_reload) == sorted(f"{name} {n}" for name in "ab" for n in range(rounds))
