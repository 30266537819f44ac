"""Every writer of a message announces it: a manager watching the chat sees a bot's reply or
note, a plugin's note and a chat another manager started at once, as they see a manager's
reply (``message.created`` on the stream, numbered in the chat's commit order on PostgreSQL).

Each test reads the stream over real HTTP from a running bridge on a real database, with the
bots of ``tests/support/bots.py`` run by the real flow worker.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from bridgekit.inbox.managers import create_manager
from bridgekit.model import Capabilities
from bridgekit.runtime.events import CHAT_SEQ
from bridgekit.testing.harness import RunningBridge
from bridgekit.text_units import UTF8_BYTES
from tests.conftest import customer_writes, integration
from tests.inbox.test_realtime_stream import SSE, EventStream, event_stream
from tests.support.bots import EchoBot, Gatekeeper
from tests.support.sandbox import SandboxProvider
from tests.support.testchannel import TestChannelPlugin


async def start(
    make_bridge: Any, sandbox_url: str, channel: TestChannelPlugin | None = None, **bots: object
) -> RunningBridge:
    running: RunningBridge = await make_bridge(
        plugins={"testchat": channel or TestChannelPlugin(), **bots},
        integrations={"acme": integration(sandbox_url)},
    )
    return running


async def created(stream: EventStream, direction: str) -> SSE:
    return await stream.until(lambda e: e.kind == "message.created" and e.data["direction"] == direction)


async def stored(running: RunningBridge, event: SSE) -> dict[str, Any]:
    """The message ``event`` announces, as the inbox reloads it."""
    (message,) = [
        m for m in await running.messages(event.data["chat_id"]) if m["id"] == event.data["message_id"]
    ]
    return message


async def test_a_bots_reply_reaches_the_stream_numbered_with_its_other_actions(
    make_bridge, sandbox: SandboxProvider, sandbox_url: str
) -> None:
    running = await start(make_bridge, sandbox_url, echo=EchoBot())
    async with event_stream(running) as stream:
        chat_id = await customer_writes(running, "Is it in stock?")
        customer = await created(stream, "inbound")
        reply = await created(stream, "outbound")
        tagged = await stream.until(lambda e: e.kind == "chat.updated")
    message = await stored(running, reply)
    assert (message["author_kind"], message["author_name"], message["text"]) == (
        "bot",
        "echo",
        "echo: Is it in stock?",
    )
    assert reply.data["chat_id"] == chat_id
    if running.bridge.db.is_sqlite:
        assert CHAT_SEQ not in reply.data
    else:
        # The bot's reply and its tag are one change of the chat, after the customer's message.
        assert reply.data[CHAT_SEQ] == tagged.data[CHAT_SEQ] > customer.data[CHAT_SEQ]
    await running.wait_for(lambda: sandbox.texts == ["echo: Is it in stock?"])


async def test_a_bots_note_reaches_the_stream(
    make_bridge, sandbox: SandboxProvider, sandbox_url: str
) -> None:
    running = await start(make_bridge, sandbox_url, gate=Gatekeeper())
    async with event_stream(running) as stream:
        await customer_writes(running, "stop sending me offers")
        note = await created(stream, "note")
    message = await stored(running, note)
    assert (message["kind"], message["author_kind"], message["text"]) == (
        "note",
        "bot",
        "stopped by gatekeeper",
    )
    assert sandbox.texts == []  # a note never reaches the customer


async def test_a_bots_refused_reply_is_announced_as_the_note_saying_why(
    make_bridge, sandbox: SandboxProvider, sandbox_url: str
) -> None:
    short = TestChannelPlugin(capabilities=Capabilities(max_text_length=12, text_unit=UTF8_BYTES))
    running = await start(make_bridge, sandbox_url, short, echo=EchoBot())
    async with event_stream(running) as stream:
        await customer_writes(running, "hello there")  # "echo: hello there" is 17 bytes
        note = await created(stream, "note")
    message = await stored(running, note)
    assert (message["author_kind"], message["author_name"]) == ("bot", "echo")
    assert message["text"].startswith("Reply from echo not sent: Testchat takes at most 12 bytes")
    assert sandbox.texts == []


async def test_a_plugins_note_reaches_the_stream(make_bridge, sandbox_url: str) -> None:
    running = await start(make_bridge, sandbox_url)
    chat_id = await customer_writes(running, "I was charged twice")
    async with event_stream(running) as stream:
        # What a plugin calls on the bridge it got at startup (BridgeAPI.add_note).
        note_id = await running.bridge.add_note(chat_id, "Refund 12,000 KRW issued", author_name="billing")
        note = await created(stream, "note")
    assert note.data["message_id"] == note_id
    assert note.data.get(CHAT_SEQ) == (None if running.bridge.db.is_sqlite else 2)
    message = await stored(running, note)
    assert (message["author_kind"], message["author_name"]) == ("plugin", "billing")


async def test_a_plugin_closing_its_chats_announces_each_note_with_the_closing(
    make_bridge, sandbox_url: str
) -> None:
    running = await start(make_bridge, sandbox_url)
    chat_id = await customer_writes(running, "hello")
    async with event_stream(running) as stream:
        closed = await running.bridge.close_chats("acme", "The shop's account was disconnected")
        note = await created(stream, "note")
        state = await stream.until(lambda e: e.kind == "chat.updated")
    assert closed == [chat_id]
    assert (await stored(running, note))["text"] == "The shop's account was disconnected"
    # One change of the chat: the note and the closing share its number.
    assert note.data.get(CHAT_SEQ) == state.data.get(CHAT_SEQ)


async def test_a_chat_one_manager_starts_reaches_another_managers_stream(
    make_bridge, sandbox_url: str
) -> None:
    running = await start(make_bridge, sandbox_url)
    await customer_writes(running, "hello")
    customer_id = (await running.chats())[0]["customer_id"]
    _, token_b = await create_manager(running.bridge.db, running.bridge.workspace_id, "Manager B")
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token_b}"}) as session_b,
        event_stream(running, session_b) as stream_b,
    ):
        started = await running.api(
            "POST",
            "/chats",
            json={"integration": "acme", "text": "Your order shipped", "customer_id": customer_id},
        )
        event = await created(stream_b, "outbound")
    assert (event.data["chat_id"], event.data["message_id"]) == (started["chat_id"], started["message_id"])
    assert event.data.get(CHAT_SEQ) == (None if running.bridge.db.is_sqlite else 1)
