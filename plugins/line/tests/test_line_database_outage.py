"""PostgreSQL stops under LINE webhook load and starts again (issue 17, losing the database).

While it is away every webhook is answered with a status LINE redelivers (503 with
Retry-After), never a 200 for a message that is then not stored and never another 5xx; the
API answers 503 too, a page says to try again, /ready is 503 while /health stays 200, and an
open event stream stays open and is told to resync. When it is back, ingest resumes by
itself: the same running bridge stores new webhooks, and every webhook that got a 200 is
stored exactly once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from bridgekit_line.plugin import LinePlugin
from bridgekit_line.sandbox import LineSandbox

from bridgekit.runtime.events import RESYNC
from bridgekit.testing.harness import RunningBridge, start_bridge
from bridgekit.testing.postgres_server import PostgresServer
from tests.inbox.sign_in_support import Browser, person
from tests.inbox.test_realtime_stream import event_stream

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 10.0


@dataclass(frozen=True)
class Sent:
    text: str
    status: int
    retry_after: str | None
    at: float  # when it was sent


@pytest.fixture
async def running(
    own_postgres: PostgresServer, line: LineSandbox, plugin: LinePlugin, tmp_path: Path
) -> AsyncIterator[RunningBridge]:
    started = await start_bridge(
        database_url=own_postgres.url,
        data_dir=tmp_path / "data",
        plugins={"line": plugin},
        integrations={
            "acme": {
                "channel": "line",
                "settings": line.integration_settings(),
                "secrets": line.integration_secrets(),
            }
        },
    )
    yield started
    await started.close()


async def send_until(
    running: RunningBridge, line: LineSandbox, user: str, sent: list[Sent], stop: asyncio.Event
) -> None:
    """Post webhooks one after another, as LINE would, until told to stop."""
    url = f"{running.url}/hooks/acme"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        while not stop.is_set():
            text = f"message {len(sent)}"
            body = line.webhooks.body([line.webhooks.text(user, text)])
            headers = {"Content-Type": "application/json", "X-Line-Signature": line.webhooks.signature(body)}
            at = time.monotonic()
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                sent.append(Sent(text, resp.status, resp.headers.get("Retry-After"), at))
            await asyncio.sleep(0.02)


async def stored_texts(server: PostgresServer) -> list[str]:
    conn = await asyncpg.connect(server.dsn)
    try:
        rows = await conn.fetch("SELECT text FROM messages WHERE direction = 'inbound'")
        return [row["text"] for row in rows]
    finally:
        await conn.close()


async def outage(
    server: PostgresServer, running: RunningBridge, browser: Browser
) -> tuple[float, float, int, str | None]:
    """Stop PostgreSQL for OUTAGE_SECONDS; ask the API, /ready, /health and a page meanwhile.
    Returns when it was down (stopped) and when it was asked to start again."""
    await asyncio.to_thread(server.stop)
    stopped = time.monotonic()
    await asyncio.sleep(1.0)
    async with running.session.get(f"{running.url}/api/v1/chats") as resp:
        api_status, api_retry_after = resp.status, resp.headers.get("Retry-After")
    # A load balancer takes the process out of rotation; nothing restarts it.
    async with running.session.get(f"{running.url}/ready") as resp:
        assert resp.status == 503
    async with running.session.get(f"{running.url}/health") as resp:
        assert resp.status == 200
    # A signed-in manager's inbox page says to try again shortly, not an error.
    page, html = await browser.get("/")
    assert (page.status, page.headers["Retry-After"]) == (503, "5")
    assert "Temporarily unavailable" in html
    await asyncio.sleep(OUTAGE_SECONDS - 1.0)
    restarting = time.monotonic()
    await asyncio.to_thread(server.start)
    return stopped, restarting, api_status, api_retry_after


async def test_webhooks_are_answered_retryable_while_postgresql_is_away_and_ingest_resumes(
    own_postgres: PostgresServer, running: RunningBridge, line: LineSandbox
) -> None:
    user = line.add_user("Kim")
    sent: list[Sent] = []
    stop = asyncio.Event()
    someone = await person(running)
    async with Browser(running) as browser, event_stream(running) as stream:
        assert (await browser.sign_in(someone.email)).status == 303
        sender = asyncio.create_task(send_until(running, line, user, sent, stop))
        await asyncio.sleep(1.0)
        assert {s.status for s in sent} == {200}, "ingest works before the outage"
        stopped, restarting, api_status, api_retry_after = await outage(own_postgres, running, browser)
        # The stream stayed open; once the relay listens again it says what it may have missed.
        await stream.until(lambda e: e.kind == RESYNC, timeout=5.0)
        await asyncio.sleep(3.0)
        stop.set()
        await sender
        # ... and streams what came after: the last acknowledged message among it.
        (chat,) = await running.chats()
        last = (await running.messages(chat["id"]))[-1]
        assert last["text"] == [s.text for s in sent if s.status == 200][-1]
        await stream.until(lambda e: e.data.get("message_id") == last["id"], timeout=5.0)
    print(
        f"\n{len(sent)} webhooks: {sum(s.status == 200 for s in sent)} answered 200, "
        f"{sum(s.status == 503 for s in sent)} answered 503 during a {OUTAGE_SECONDS:.0f} s outage"
    )

    during = [s for s in sent if stopped <= s.at < restarting]
    assert during, "webhooks were sent while PostgreSQL was away"
    assert {s.status for s in sent} <= {200, 503}, [s for s in sent if s.status not in (200, 503)]
    assert all(s.retry_after for s in sent if s.status == 503)
    assert {s.status for s in during} == {503}
    assert (api_status, api_retry_after is not None) == (503, True)
    async with running.session.get(f"{running.url}/ready") as resp:
        assert resp.status == 200
    after = [s for s in sent if s.at > restarting + 2.0]
    assert after
    assert {s.status for s in after} == {200}, "ingest resumed without a restart of bridgekit"
    acknowledged = [s.text for s in sent if s.status == 200]
    stored = await stored_texts(own_postgres)
    assert len(stored) == len(set(stored))  # nothing stored twice
    # Each acknowledged one stored (one answered 503 may be stored too, when the connection
    # broke during its COMMIT: LINE's redelivery of it is then dropped as a duplicate).
    assert set(acknowledged) <= set(stored)
