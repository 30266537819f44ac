"""The realtime stream ``GET /api/v1/events``: what a manager's open inbox learns without polling.

Every test reads the stream over real HTTP from a running bridge on a real database, the way
the inbox UI does: customer messages (I1 lists update), delivery status of replies (I19),
notifications only for the manager they are for (I10 snooze end, I13 mentions).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from sqlalchemy import delete, select

from bridgekit.inbox.managers import authenticate, create_manager, rotate_token
from bridgekit.runtime.events import QUEUE_LIMIT, RESYNC, Event, EventBus
from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from bridgekit.web import api_realtime
from tests.conftest import integration, signed
from tests.inbox.sign_in_support import Browser, person
from tests.support.sandbox import SandboxProvider
from tests.support.testchannel import TestChannelPlugin

WAIT = 10.0  # seconds a test waits for something that should come at once


@dataclass(frozen=True)
class SSE:
    id: int
    kind: str
    data: dict[str, Any]


class EventStream:
    """A minimal Server-Sent Events reader over an aiohttp response."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.comments: list[str] = []

    async def _line(self, timeout: float) -> str | None:
        raw = await asyncio.wait_for(self.response.content.readline(), timeout)
        return raw.decode("utf-8").removesuffix("\n") if raw else None

    async def next(self, timeout: float = WAIT) -> SSE | None:
        """The next event, or None when the stream ended."""
        fields: dict[str, str] = {}
        while True:
            line = await self._line(timeout)
            if line is None:
                return None
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
            elif line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            elif fields:
                return SSE(int(fields["id"]), fields["event"], json.loads(fields["data"]))

    async def until(self, wanted: Callable[[SSE], bool], timeout: float = WAIT) -> SSE:
        deadline = time.monotonic() + timeout
        while True:
            event = await self.next(max(0.01, deadline - time.monotonic()))
            assert event is not None, "the stream ended"
            if wanted(event):
                return event

    async def comment(self, text: str, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.comments:
            line = await self._line(max(0.01, deadline - time.monotonic()))
            assert line is not None, "the stream ended"
            if line.startswith(":"):
                self.comments.append(line[1:].strip())

    async def ended(self, timeout: float = WAIT) -> bool:
        deadline = time.monotonic() + timeout
        while (line := await self._line(max(0.01, deadline - time.monotonic()))) is not None:
            pass
        return line is None


@asynccontextmanager
async def event_stream(
    running: RunningBridge, session: aiohttp.ClientSession | None = None
) -> AsyncIterator[EventStream]:
    """Open the stream and return once the server has subscribed it (``: connected``)."""
    session = session or running.session
    no_timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with session.get(f"{running.url}/api/v1/events", timeout=no_timeout) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        stream = EventStream(resp)
        await stream.comment("connected")
        yield stream


async def manager_id_of(running: RunningBridge, session: aiohttp.ClientSession) -> int:
    token = session.headers["Authorization"].partition(" ")[2]
    manager = await authenticate(running.bridge.db, token)
    assert manager is not None
    return manager.id


async def stored_texts(running: RunningBridge, chat_id: int) -> dict[int, str | None]:
    async with running.bridge.db.read() as conn:
        rows = await conn.execute(
            select(s.messages.c.id, s.messages.c.text).where(s.messages.c.chat_id == chat_id)
        )
        return {row.id: row.text for row in rows}


async def start(make_bridge: Any, sandbox_url: str, channel_plugin: TestChannelPlugin) -> RunningBridge:
    running: RunningBridge = await make_bridge(
        plugins={"testchat": channel_plugin}, integrations={"acme": integration(sandbox_url)}
    )
    return running


async def test_a_customer_message_appears_on_the_managers_stream(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """I1: the inbox learns of a new customer message through a signed webhook at once."""
    running = await start(make_bridge, sandbox_url, channel_plugin)
    async with event_stream(running) as stream:
        body, headers = signed({"id": "ev-1", "user": "u-1", "name": "Kim", "text": "Where is my parcel?"})
        assert (await running.post_hook("acme", body, headers))[0] == 200
        event = await stream.until(lambda e: e.kind == "message.created")
    assert event.data["direction"] == "inbound"
    assert event.id > 0
    chat = await running.api("GET", f"/chats/{event.data['chat_id']}")
    assert chat["id"] == event.data["chat_id"]
    assert await stored_texts(running, event.data["chat_id"]) == {
        event.data["message_id"]: "Where is my parcel?"
    }


async def _customer_writes_and_manager_replies(running: Any, stream: Any, text: str) -> tuple[int, Any]:
    """A customer's first message arrives (seen on ``stream``) and a manager answers ``text``."""
    body, headers = signed({"id": "ev-1", "user": "u-1", "text": "hi"})
    await running.post_hook("acme", body, headers)
    chat_id = (await stream.until(lambda e: e.kind == "message.created")).data["chat_id"]
    return chat_id, await running.reply(chat_id, text)


async def test_a_delivered_reply_is_announced_as_sent(
    make_bridge, sandbox: SandboxProvider, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """I19: the manager sees their reply turn from pending to sent without reloading."""
    running = await start(make_bridge, sandbox_url, channel_plugin)
    async with event_stream(running) as stream:
        chat_id, reply = await _customer_writes_and_manager_replies(running, stream, "Hello! It ships today.")
        event = await stream.until(
            lambda e: e.kind == "message.updated" and e.data["message_id"] == reply["id"]
        )
    # On PostgreSQL the chat's third change (message, reply, sent), numbered in commit order.
    assert event.data.pop("chat_seq", None) == (None if running.bridge.db.is_sqlite else 3)
    assert event.data == {"message_id": reply["id"], "delivery_status": "sent", "chat_id": chat_id}
    assert sandbox.texts == ["Hello! It ships today."]


async def test_a_read_report_from_the_channel_is_announced(
    make_bridge, sandbox: SandboxProvider, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """I19: the manager sees their sent reply turn "read" when the channel reports it."""
    running = await start(make_bridge, sandbox_url, channel_plugin)
    async with event_stream(running) as stream:
        chat_id, reply = await _customer_writes_and_manager_replies(running, stream, "Hello!")
        await stream.until(lambda e: e.data.get("delivery_status") == "sent")
        body, headers = signed({"read": "msg-1"})  # the sandbox's id of the first send
        assert (await running.post_hook("acme", body, headers))[0] == 200
        event = await stream.until(lambda e: e.data.get("delivery_status") == "read")
    assert event.kind == "message.updated"
    assert event.data.pop("chat_seq", None) == (None if running.bridge.db.is_sqlite else 4)
    assert event.data == {"message_id": reply["id"], "delivery_status": "read", "chat_id": chat_id}


async def test_a_notification_for_one_manager_is_not_seen_by_another(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """I13/I10: a mention or a snooze ending notifies only the managers it is for."""
    running = await start(make_bridge, sandbox_url, channel_plugin)
    a = await manager_id_of(running, running.session)
    _, token_b = await create_manager(running.bridge.db, running.bridge.workspace_id, "Manager B")
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token_b}"}) as session_b,
        event_stream(running) as stream_a,
        event_stream(running, session_b) as stream_b,
    ):
        running.bridge.events.publish_many(
            [
                Event("notification.created", {"chat_id": 1, "kind": "mention"}, manager_ids=frozenset({a})),
                Event("chat.updated", {"chat_id": 1}),  # for everyone: marks the end of the test
            ]
        )
        seen_by_a = [await stream_a.next(), await stream_a.next()]
        seen_by_b = await stream_b.next()
    assert [e.kind for e in seen_by_a if e] == ["notification.created", "chat.updated"]
    assert seen_by_a[0] is not None
    assert seen_by_a[0].data == {"chat_id": 1, "kind": "mention"}
    assert seen_by_b is not None
    assert seen_by_b.kind == "chat.updated"  # the broadcast came; the notification never did


async def test_the_stream_needs_a_valid_token(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    running = await start(make_bridge, sandbox_url, channel_plugin)
    async with aiohttp.ClientSession() as anonymous:
        for headers in ({}, {"Authorization": "Bearer bk_wrong"}):
            async with anonymous.get(f"{running.url}/api/v1/events", headers=headers) as resp:
                assert resp.status == 401
                assert "error" in await resp.json()
    assert running.bridge.events.subscriber_count == 0


async def test_an_idle_stream_gets_heartbeats(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proxies keep the connection open and the client can tell a dead one from a quiet one."""
    monkeypatch.setattr(api_realtime, "HEARTBEAT_SECONDS", 0.05)
    running = await start(make_bridge, sandbox_url, channel_plugin)
    async with event_stream(running) as stream:
        await stream.comment("heartbeat", timeout=5)
        running.bridge.events.publish(Event("chat.updated", {"chat_id": 7}))
        event = await stream.until(lambda e: True)  # events still flow between heartbeats
    assert (event.kind, event.data) == ("chat.updated", {"chat_id": 7})


async def test_a_burst_of_events_reaches_the_stream_whole_and_in_order(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """Under load events queue faster than one write each: they go out together, none lost."""
    running = await start(make_bridge, sandbox_url, channel_plugin)
    burst = min(3 * api_realtime.MAX_EVENTS_PER_WRITE + 7, QUEUE_LIMIT)  # none dropped as stalled
    async with event_stream(running) as stream:
        running.bridge.events.publish_many(Event("chat.updated", {"chat_id": n}) for n in range(burst))
        seen = [(await stream.until(lambda e: True)).data["chat_id"] for _ in range(burst)]
    assert seen == list(range(burst))


async def test_a_stream_too_far_behind_is_told_to_read_everything_again() -> None:
    """More than QUEUE_LIMIT unread events: the subscriber gets one resync order, not a gap."""
    bus = EventBus()
    async with bus.subscribe(1) as queue:
        bus.publish_many(Event("chat.updated", {"chat_id": n}) for n in range(QUEUE_LIMIT + 5))
        kinds = [queue.get_nowait().kind for _ in range(queue.qsize())]
    # The oldest were replaced by the order; what came after it is delivered as usual.
    assert kinds == [RESYNC, "chat.updated", "chat.updated", "chat.updated", "chat.updated"]


async def test_a_client_that_goes_away_is_unsubscribed(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    running = await start(make_bridge, sandbox_url, channel_plugin)
    async with event_stream(running):
        assert running.bridge.events.subscriber_count == 1
    await running.wait_for(lambda: running.bridge.events.subscriber_count == 0, timeout=5)
    # Publishing afterwards reaches nobody and breaks nothing.
    running.bridge.events.publish(Event("chat.updated", {"chat_id": 1}))
    assert (await running.api("GET", "/channels"))[0]["name"] == "testchat"


async def test_the_stream_ends_when_the_server_shuts_down(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """A connected inbox must not hold the server up: the stream ends and the bridge stops."""
    running = await start(make_bridge, sandbox_url, channel_plugin)
    async with event_stream(running) as stream:
        started = time.monotonic()
        closing = asyncio.create_task(running.server.close())
        try:
            ended = await stream.ended(timeout=5)
        except TimeoutError:
            ended = False
        finally:
            stream.response.close()  # if it did not end, let the shutdown finish anyway
            await closing
    assert ended, "the stream did not end on shutdown (is api_realtime.end_streams on app.on_shutdown?)"
    assert time.monotonic() - started < 5
    assert running.bridge.events.subscriber_count == 0


@pytest.mark.parametrize("revoke", ["rotate", "remove"])
async def test_the_stream_ends_when_its_token_is_rotated_or_its_manager_removed(
    make_bridge,
    sandbox_url: str,
    channel_plugin: TestChannelPlugin,
    monkeypatch: pytest.MonkeyPatch,
    revoke: str,
) -> None:
    """A leaked or retired token must stop reading the inbox, also on a stream opened before;
    the check reads the database, so ``bridgekit managers rotate`` in another process counts."""
    monkeypatch.setattr(api_realtime, "TOKEN_CHECK_SECONDS", 0.2)
    running = await start(make_bridge, sandbox_url, channel_plugin)
    kim_id, token = await create_manager(running.bridge.db, running.bridge.workspace_id, "Kim")
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as kim,
        event_stream(running, kim) as stream,
        event_stream(running) as other,
    ):
        running.bridge.events.publish(Event("chat.updated", {"chat_id": 1}))
        assert (await stream.until(lambda e: True)).data == {"chat_id": 1}
        if revoke == "rotate":
            await rotate_token(running.bridge.db, kim_id)
        else:
            async with running.bridge.db.write() as conn:
                await conn.execute(delete(s.managers).where(s.managers.c.id == kim_id))

        assert await stream.ended(timeout=5)

        running.bridge.events.publish(Event("chat.updated", {"chat_id": 2}))
        assert (await other.until(lambda e: e.data["chat_id"] == 2)).kind == "chat.updated"
    await running.wait_for(lambda: running.bridge.events.subscriber_count == 0, timeout=5)


async def test_a_stream_opened_with_the_session_cookie_ends_when_its_session_does(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The browser's stream (cookie, no token) is re-checked like a token's: signing out in
    another tab ends it."""
    monkeypatch.setattr(api_realtime, "TOKEN_CHECK_SECONDS", 0.2)
    running = await start(make_bridge, sandbox_url, channel_plugin)
    minji = await person(running)
    async with Browser(running) as browser, Browser(running) as other_tab:
        await browser.sign_in(minji.email)
        other_tab.session.cookie_jar.update_cookies({"bridgekit_session": browser.cookie()})
        async with event_stream(running, browser.session) as stream:
            running.bridge.events.publish(Event("chat.updated", {"chat_id": 1}))
            assert (await stream.until(lambda e: True)).data == {"chat_id": 1}
            await asyncio.sleep(0.6)  # several checks pass while the session lives
            running.bridge.events.publish(Event("chat.updated", {"chat_id": 2}))
            assert (await stream.until(lambda e: True)).data == {"chat_id": 2}
            signed_out = await other_tab.post_form("/sign-out", {"csrf_token": await other_tab.csrf()})
            assert signed_out.status == 303
            assert await stream.ended(timeout=5)
