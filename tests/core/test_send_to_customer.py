"""``bridge.send_to_customer``: a plugin queues a message for a customer through the outbox,
its ``meta`` reaching ``bridgekit_deliver``; it joins the customer's latest chat on the
integration, else a chat started closed; a repeated idempotency key queues nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import select

import bridgekit
from bridgekit.exceptions import RequestRefused, UnknownIntegration
from bridgekit.inbox.customers import new_lead
from bridgekit.model import DeliveryResult, Integration, OutboundMessage
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s
from bridgekit.testing.conformance import MakeBridge
from bridgekit.testing.harness import RunningBridge
from tests.conftest import integration, signed
from tests.support.sandbox import SandboxProvider
from tests.support.testchannel import TestChannelPlugin


class Notifier(TestChannelPlugin):
    """The test channel, remembering what each delivery was handed."""

    __test__ = False

    def __init__(self) -> None:
        super().__init__()
        self.handed: list[tuple[str, str, Mapping[str, Any]]] = []

    @bridgekit.hookimpl
    async def bridgekit_deliver(self, integration: Integration, message: OutboundMessage) -> DeliveryResult:
        self.handed.append((message.author_kind, message.idempotency_key, dict(message.meta)))
        return await super().bridgekit_deliver(integration, message)


async def start(make_bridge: MakeBridge, sandbox_url: str, plugin: Notifier) -> RunningBridge:
    return await make_bridge(plugins={"testchat": plugin}, integrations={"acme": integration(sandbox_url)})


async def delivered(running: RunningBridge, chat_id: int, message_id: int) -> dict[str, Any]:
    async def sent() -> dict[str, Any] | None:
        found = next(m for m in await running.messages(chat_id) if m["id"] == message_id)
        return found if found["delivery_status"] in ("sent", "failed") else None

    result: dict[str, Any] = await running.wait_for(sent)
    return result


async def test_a_customer_without_a_chat_gets_one_started_closed_and_their_answer_reopens_it(
    make_bridge: MakeBridge, sandbox: SandboxProvider, sandbox_url: str
) -> None:
    plugin = Notifier()
    running = await start(make_bridge, sandbox_url, plugin)
    bridge = running.bridge
    acme = bridge.registry.get("acme").integration
    async with bridge.db.write() as conn:
        customer_id, _ = await new_lead(
            conn, bridge.workspace_id, "Park", ("testchat", acme.id, "u-9"), True, utcnow()
        )
    message_id = await bridge.send_to_customer(
        customer_id,
        "acme",
        "Your parcel ships tomorrow.",
        idempotency_key="order-1024-shipped",
        meta={"notifier": {"order": 1024}},
        author_name="Shop",
    )
    (chat,) = await running.chats()
    assert chat["state"] == "closed"  # nothing for a manager to answer: not in the open inbox
    message = await delivered(running, chat["id"], message_id)
    assert message["delivery_status"] == "sent"
    assert message["author_name"] == "Shop"
    assert sandbox.texts == ["Your parcel ships tomorrow."]
    assert next(iter(sandbox.accepted.values()))["to"] == "u-9"
    ((author_kind, key, meta),) = plugin.handed
    assert (author_kind, meta) == ("plugin", {"notifier": {"order": 1024}})
    # The same key again (a retried job of the plugin's own): the same message, nothing new.
    again = await bridge.send_to_customer(
        customer_id, "acme", "Your parcel ships tomorrow.", idempotency_key="order-1024-shipped"
    )
    assert again == message_id
    assert list(sandbox.accepted) == [key]
    # The customer answers: the chat reopens with their message in it.
    body, headers = signed({"id": "ev-1", "user": "u-9", "text": "Thanks!"})
    assert (await running.post_hook("acme", body, headers))[0] == 200
    (chat,) = await running.chats()
    assert chat["state"] == "open"
    assert [m["text"] for m in await running.messages(chat["id"])] == [
        "Your parcel ships tomorrow.",
        "Thanks!",
    ]


async def test_a_send_joins_the_customers_latest_chat_and_leaves_its_state(
    make_bridge: MakeBridge, sandbox: SandboxProvider, sandbox_url: str
) -> None:
    plugin = Notifier()
    running = await start(make_bridge, sandbox_url, plugin)
    body, headers = signed({"id": "ev-1", "user": "u-1", "text": "Where is my order?"})
    await running.post_hook("acme", body, headers)
    (chat,) = await running.chats()
    await running.api("POST", f"/chats/{chat['id']}/close")
    async with running.bridge.db.read() as conn:
        manager_id = (
            await conn.execute(select(s.managers.c.id).where(s.managers.c.name == "Test Operator"))
        ).scalar_one()
    message_id = await running.bridge.send_to_customer(
        chat["customer_id"], "acme", "It ships today.", idempotency_key="n-1", manager_id=manager_id
    )
    message = await delivered(running, chat["id"], message_id)
    assert (message["delivery_status"], message["author_name"]) == ("sent", "Test Operator")
    (after,) = await running.chats()
    assert (after["id"], after["state"]) == (chat["id"], "closed")
    assert plugin.handed[0][0] == "manager"
    assert plugin.handed[0][2] == {}


async def test_what_cannot_be_sent_is_refused_before_anything_is_queued(
    make_bridge: MakeBridge, sandbox: SandboxProvider, sandbox_url: str
) -> None:
    running = await start(make_bridge, sandbox_url, Notifier())
    bridge = running.bridge
    async with bridge.db.write() as conn:
        emailed, _ = await new_lead(
            conn, bridge.workspace_id, "Kim", ("email", 0, "kim@example.com"), True, utcnow()
        )
    with pytest.raises(UnknownIntegration):
        await bridge.send_to_customer(emailed, "nope", "hi", idempotency_key="k")
    for customer_id, kwargs, words in (
        (999_999, {}, "no customer 999999"),
        (emailed, {}, f"customer {emailed} has no handle on acme"),
        (emailed, {"idempotency_key": "k" * 201}, "idempotency_key must be"),
        (emailed, {"meta": {"when": utcnow()}}, "meta must be JSON"),
        (emailed, {"manager_id": 999_999}, "no manager 999999"),
    ):
        with pytest.raises(RequestRefused, match=words):
            await bridge.send_to_customer(customer_id, "acme", "hi", **({"idempotency_key": "k"} | kwargs))
    assert await running.chats() == []
    assert sandbox.accepted == {}


async def test_two_calls_with_one_key_at_once_queue_one_message(
    make_bridge: MakeBridge, sandbox: SandboxProvider, sandbox_url: str
) -> None:
    running = await start(make_bridge, sandbox_url, Notifier())
    bridge = running.bridge
    acme = bridge.registry.get("acme").integration
    async with bridge.db.write() as conn:
        customer_id, _ = await new_lead(
            conn, bridge.workspace_id, "Park", ("testchat", acme.id, "u-9"), True, utcnow()
        )
    ids = await asyncio.gather(
        *(bridge.send_to_customer(customer_id, "acme", "Paid.", idempotency_key="pay-1") for _ in range(4))
    )
    assert len(set(ids)) == 1
    (chat,) = await running.chats()
    await delivered(running, chat["id"], ids[0])
    assert [m["text"] for m in await running.messages(chat["id"])] == ["Paid."]
    assert sandbox.texts == ["Paid."]
