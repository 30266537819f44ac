"""Issue 17: a stream on any process gets one chat's events in commit order, whichever
processes committed them (three `bridgekit serve` processes on one PostgreSQL, the LINE
sandbox).

The customer writes through process A while a manager replies and reassigns the chat through
process B and the outbox of every process reports the replies sent: the transactions of
several processes interleave on one chat within milliseconds. A stream on process C must get
the chat's event groups numbered 1, 2, 3… with none missing or swapped, no resync, and end on
the database's state (its number, its assignee, each reply's delivery status).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from bridgekit_line.sandbox import LineSandbox

from bridgekit.testing.databases import postgres_admin_url, temporary_database
from tests.core.test_crash_recovery import operator_token
from tests.core.test_several_processes import Process, _config, line  # noqa: F401 (a fixture)
from tests.support.processes import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(postgres_admin_url() is None, reason="several processes need PostgreSQL"),
]

ROUNDS = 30  # customer messages on A, and as many replies and reassignments on B


class Stream:
    """``GET /api/v1/events`` of one process, read as it comes: (kind, data) in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.connected = asyncio.Event()

    async def read(self, response: aiohttp.ClientResponse) -> None:
        kind = ""
        async for raw in response.content:
            text = raw.decode().rstrip("\n")
            if text == ": connected":
                self.connected.set()
            elif text.startswith("event: "):
                kind = text.removeprefix("event: ")
            elif text.startswith("data: "):
                self.events.append((kind, json.loads(text.removeprefix("data: "))))

    def of_chat(self, chat_id: int) -> list[tuple[str, dict[str, Any]]]:
        return [(kind, data) for kind, data in self.events if data.get("chat_id") == chat_id]


@asynccontextmanager
async def stream_of(process: Process, token: str) -> AsyncIterator[Stream]:
    stream = Stream()
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(f"{process.url}/api/v1/events") as response,
    ):
        assert response.status == 200
        reader = asyncio.create_task(stream.read(response))
        await asyncio.wait_for(stream.connected.wait(), 10)
        try:
            yield stream
        finally:
            reader.cancel()


async def test_a_stream_on_a_third_process_gets_one_chats_events_in_commit_order(
    tmp_path: Path,
    line: LineSandbox,  # noqa: F811
) -> None:
    async with temporary_database("postgresql", tmp_path) as db_url:
        config = _config(tmp_path, db_url, line, bot=False)
        token = operator_token(config)
        a, b, c = processes = [Process(config, free_port(), name) for name in ("a", "b", "c")]
        conn: Any = None
        try:
            for process in processes:  # one after the other: the first sets up the database
                await process.start()
            conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://", 1))
            manager_id = await conn.fetchval("SELECT id FROM managers ORDER BY id LIMIT 1")
            user = line.add_user("Kim")
            headers = {"Authorization": f"Bearer {token}"}
            async with stream_of(c, token) as stream, aiohttp.ClientSession(headers=headers) as api:
                first = await line.webhooks.post(f"{a.url}/hooks/acme", [line.webhooks.text(user, "m0")])
                assert first.status == 200
                chat_id = await conn.fetchval("SELECT id FROM chats")

                async def customer_writes() -> None:
                    for n in range(1, ROUNDS + 1):
                        event = line.webhooks.text(user, f"m{n}")
                        assert (await line.webhooks.post(f"{a.url}/hooks/acme", [event])).status == 200

                async def manager_answers() -> None:
                    for n in range(ROUNDS):
                        reply = {"text": f"answer {n}"}
                        async with api.post(f"{b.url}/api/v1/chats/{chat_id}/messages", json=reply) as resp:
                            assert resp.status == 201, await resp.text()
                        assignee = {"manager_id": manager_id if n % 2 == 0 else None}
                        async with api.post(f"{b.url}/api/v1/chats/{chat_id}/assign", json=assignee) as resp:
                            assert resp.status == 200, await resp.text()

                await asyncio.gather(customer_writes(), manager_answers())

                async def settled() -> bool:
                    sent = await conn.fetchval(
                        "SELECT count(*) FROM messages WHERE chat_id = $1 AND delivery_status = 'sent'",
                        chat_id,
                    )
                    shown = {
                        d["message_id"]
                        for k, d in stream.of_chat(chat_id)
                        if d.get("delivery_status") == "sent"
                    }
                    return bool(sent == ROUNDS and len(shown) == ROUNDS)

                deadline = time.monotonic() + 30
                while not await settled():
                    assert time.monotonic() < deadline, "the stream never caught up with the database"
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.5)  # a late or repeated event would show now
                seen = stream.of_chat(chat_id)
                resyncs = [kind for kind, _data in stream.events if kind == "stream.resync"]
                async with api.get(f"{c.url}/metrics") as resp:
                    held = [m for m in (await resp.text()).splitlines() if m.startswith("bridgekit_events_")]
                print(f"process C: {len(seen)} events of the chat; {held or 'none held'}")

            # (as JSON: a version without the column shows its events unnumbered, below)
            db_seq = await conn.fetchval(
                "SELECT to_jsonb(c) ->> 'event_seq' FROM chats c WHERE id = $1", chat_id
            )
            db_assignee = await conn.fetchval("SELECT assignee_id FROM chats WHERE id = $1", chat_id)
            messages = await conn.fetch(
                "SELECT id, direction, delivery_status FROM messages WHERE chat_id = $1", chat_id
            )
        finally:
            if conn is not None:
                await conn.close()
            for process in processes:
                process.stop()

    numbered = [(kind, data) for kind, data in seen if kind.startswith(("message.", "chat."))]
    assert all(isinstance(data.get("chat_seq"), int) for _kind, data in numbered), numbered[:3]
    seqs = [data["chat_seq"] for _kind, data in numbered]
    # Commit order: group after group, each number once in a row, none missing or swapped.
    assert seqs[0] == 1
    assert all(later in (earlier, earlier + 1) for earlier, later in itertools.pairwise(seqs)), seqs
    assert seqs[-1] == int(db_seq)
    assert seqs[-1] >= 1 + 3 * ROUNDS  # each webhook, reply and reassignment was a group (sends may share)
    assert resyncs == []
    # What the stream shows last is what the database holds.
    last_chat = [data for kind, data in numbered if kind == "chat.updated" and "assignee_id" in data][-1]
    assert last_chat["assignee_id"] == db_assignee
    created = [data["message_id"] for kind, data in numbered if kind == "message.created"]
    assert sorted(created) == sorted(m["id"] for m in messages)  # each message announced once
    status: dict[int, str] = {}
    for kind, data in numbered:
        if kind == "message.updated" and "delivery_status" in data:
            status[data["message_id"]] = data["delivery_status"]
    outbound = {m["id"]: m["delivery_status"] for m in messages if m["direction"] == "outbound"}
    assert status == outbound
    assert set(outbound.values()) == {"sent"}
