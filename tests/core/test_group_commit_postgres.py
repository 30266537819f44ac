"""The PostgreSQL group commit on its own connection (``Database.write_ingest``): a deadlock in
it runs it again, a connection lost in it is a 503 and the next delivery is stored, and a
connection lost while idle is replaced without a 503."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from bridgekit.testing.harness import RunningBridge
from tests.conftest import StartTestchat, customer_writes, signed
from tests.inbox.test_realtime_processes import admin_dsn

pytestmark = pytest.mark.usefixtures("postgres_only")


@pytest.fixture
def postgres_only(db_backend: str) -> None:
    if db_backend != "postgresql":
        pytest.skip("the ingest's own connection is PostgreSQL's (SQLite writes inline)")


@pytest_asyncio.fixture
async def running(start_testchat: StartTestchat) -> RunningBridge:
    return await start_testchat()


@pytest_asyncio.fixture
async def other(running: RunningBridge) -> AsyncIterator[asyncpg.Connection]:
    """Another session on the bridge's database (a manager's transaction, say)."""
    conn = await asyncpg.connect(admin_dsn(running))
    try:
        yield conn
    finally:
        await conn.close()


async def _ingest_waits_for_a_lock(other: asyncpg.Connection, running: RunningBridge) -> None:
    name = running.bridge.db.ingest_application_name
    deadline = time.monotonic() + 10
    while not await other.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", name
    ):
        assert time.monotonic() < deadline, "the group commit never waited for the chat's lock"
        await asyncio.sleep(0.02)


async def _texts(running: RunningBridge, chat_id: int) -> list[str]:
    return [m["text"] for m in await running.messages(chat_id)]


async def test_a_group_commit_that_deadlocks_is_run_again_and_stores_the_webhook_once(
    running: RunningBridge, other: asyncpg.Connection
) -> None:
    chat_id = await customer_writes(running, "first", event_id="ev-1")
    deadlocks = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
    before = await other.fetchval(deadlocks)
    # The other session waits long before it looks for a deadlock: the ingest finds it.
    await other.execute("SET deadlock_timeout = '20s'")
    tx = other.transaction()
    await tx.start()
    await other.execute("UPDATE chats SET title = 'held' WHERE id = $1", chat_id)
    body, headers = signed({"id": "ev-2", "user": "u-1", "text": "second"})
    answered = asyncio.create_task(running.post_hook("acme", body, headers))
    # The group commit has inserted the message (a key-share lock on the chat) and waits for
    # the chat's row; asking for the whole row now closes the cycle.
    await _ingest_waits_for_a_lock(other, running)
    assert await other.fetchval("SELECT id FROM chats WHERE id = $1 FOR UPDATE", chat_id) == chat_id
    await tx.commit()
    status, _text = await asyncio.wait_for(answered, 15)
    assert status == 200
    assert await _texts(running, chat_id) == ["first", "second"]
    deadline = time.monotonic() + 5
    while await other.fetchval(deadlocks) == before:  # statistics arrive a moment later
        assert time.monotonic() < deadline, "PostgreSQL counted no deadlock"
        await asyncio.sleep(0.05)


async def test_a_group_commit_whose_connection_is_lost_answers_503_and_the_redelivery_is_stored_once(
    running: RunningBridge, other: asyncpg.Connection
) -> None:
    chat_id = await customer_writes(running, "first", event_id="ev-1")
    tx = other.transaction()
    await tx.start()
    await other.execute("UPDATE chats SET title = 'held' WHERE id = $1", chat_id)
    body, headers = signed({"id": "ev-2", "user": "u-1", "text": "second"})

    async def deliver() -> tuple[int, str | None]:
        async with running.session.post(f"{running.url}/hooks/acme", data=body, headers=headers) as resp:
            return resp.status, resp.headers.get("Retry-After")

    answered = asyncio.create_task(deliver())
    await _ingest_waits_for_a_lock(other, running)
    killed = await other.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
        running.bridge.db.ingest_application_name,
    )
    assert killed == 1
    status, retry_after = await asyncio.wait_for(answered, 15)
    await tx.rollback()
    assert (status, retry_after is not None) == (503, True)
    assert await _texts(running, chat_id) == ["first"]
    assert await deliver() == (200, None)  # the provider's redelivery, on a new connection
    assert await _texts(running, chat_id) == ["first", "second"]


async def test_an_ingest_connection_closed_while_idle_is_replaced_without_a_503(
    running: RunningBridge, other: asyncpg.Connection
) -> None:
    chat_id = await customer_writes(running, "first", event_id="ev-1")
    # What PostgreSQL's restart or idle_session_timeout does to the connection between commits.
    killed = await other.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
        running.bridge.db.ingest_application_name,
    )
    assert killed == 1
    body, headers = signed({"id": "ev-2", "user": "u-1", "text": "second"})
    assert (await running.post_hook("acme", body, headers))[0] == 200
    assert await _texts(running, chat_id) == ["first", "second"]
