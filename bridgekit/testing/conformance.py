"""The channel-plugin conformance suite.

Every channel plugin runs these tests against its own sandbox provider, through a real
bridgekit (``make_bridge``) over HTTP. A plugin's test module subclasses
:class:`ChannelConformance` and provides a ``kit`` fixture returning a
:class:`ConformanceKit`::

    from bridgekit.testing.conformance import ChannelConformance, ConformanceKit

    class TestLineConformance(ChannelConformance):
        @pytest.fixture
        async def kit(self, line_sandbox) -> ConformanceKit:
            return MyLineKit(line_sandbox)

The suite checks what every channel must do: declare its channel in its inbox slot with a
mark, refuse a forged delivery and store nothing, treat a redelivery as a no-op, carry a
customer's first message to a manager's reply received by the provider, retry a transient
send failure and send once, survive exceptions raised inside the plugin without losing the
message, and never show "read" on a channel that does not report reads.

A channel that does not come in over HTTP (mail over SMTP) posts its customer's messages its
own way and overrides :meth:`ConformanceKit.accepted` and
:meth:`ConformanceKit.asks_for_redelivery` to read its protocol's answers.
"""

from __future__ import annotations

import abc
import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest

import bridgekit
from bridgekit.model import ChannelSpec, InboxSlot
from bridgekit.testing.harness import RunningBridge

MakeBridge = Callable[..., Awaitable[RunningBridge]]
INTEGRATION = "conformance"


class ConformanceKit(abc.ABC):
    """What a plugin gives the suite: a fresh plugin, its integration, and sandbox controls.

    ``plugin`` must be a new instance per test (the suite wraps some of its hooks).
    """

    plugin: object
    channel: str
    inbox_slot: InboxSlot
    integration: Mapping[str, Any]  # {"channel": ..., "settings": {...}, "secrets": {...}}

    @abc.abstractmethod
    async def post_customer_message(self, hook_url: str, key: str, text: str) -> int:
        """Deliver a customer's text message to ``hook_url`` exactly as the provider would,
        signed; the provider's event id derives from ``key`` (same key = a redelivery).
        Returns the HTTP status bridgekit answered (a channel that does not come in over
        HTTP delivers its own way and returns its protocol's reply code)."""

    @abc.abstractmethod
    async def post_forged_message(self, hook_url: str, text: str) -> int:
        """Deliver a well-formed message with a wrong signature (or secret token); a channel
        that does not come in over HTTP posts it to ``hook_url``, where nothing vouches for it.
        Returns the HTTP status bridgekit answered."""

    @abc.abstractmethod
    def delivered_texts(self) -> list[str]:
        """Texts the sandbox provider accepted from bridgekit, in order."""

    @abc.abstractmethod
    def fail_next_sends(self, count: int) -> None:
        """Make the sandbox answer the next ``count`` sends with a transient error (5xx)."""

    def accepted(self, answer: int) -> bool:
        """Whether ``answer`` (from :meth:`post_customer_message`) acknowledges the message:
        an HTTP 2xx (SMTP: 250)."""
        return 200 <= answer < 300

    def asks_for_redelivery(self, answer: int) -> bool:
        """Whether ``answer`` tells the provider to deliver again later, as bridgekit answers
        when the plugin raised: HTTP 500 (SMTP: 451)."""
        return answer == 500


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _fail_once(plugin: object, hook: str) -> list[int]:
    """Make ``plugin``'s ``hook`` raise RuntimeError on its first call (before registration)."""
    original = getattr(plugin, hook)
    calls: list[int] = []

    # functools.wraps sets __wrapped__, from which pluggy reads the argument names.
    @functools.wraps(original)
    async def flaky(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError(f"conformance: simulated bug in {hook}")
        return await _maybe_await(original(**kwargs))

    setattr(plugin, hook, bridgekit.hookimpl(flaky))
    return calls


class ChannelConformance:
    """Subclass in a plugin's tests and provide the ``kit`` fixture."""

    @pytest.fixture
    def kit(self) -> ConformanceKit:
        raise NotImplementedError("provide a `kit` fixture returning a ConformanceKit")

    async def _start(self, make_bridge: MakeBridge, kit: ConformanceKit) -> RunningBridge:
        return await make_bridge(
            plugins={kit.channel: kit.plugin}, integrations={INTEGRATION: kit.integration}
        )

    def _spec(self, kit: ConformanceKit) -> ChannelSpec:
        specs: list[ChannelSpec] = list(getattr(kit.plugin, "bridgekit_channels")())  # noqa: B009
        found = [s for s in specs if s.name == kit.channel]
        assert found, f"the plugin does not declare channel {kit.channel!r}"
        return found[0]

    @staticmethod
    def hook_url(running: RunningBridge) -> str:
        return f"{running.url}/hooks/{INTEGRATION}"

    async def _only_chat(self, running: RunningBridge) -> dict[str, Any]:
        chats = await running.chats()
        assert len(chats) == 1, chats
        chat: dict[str, Any] = chats[0]
        return chat

    async def _status_of(self, running: RunningBridge, chat_id: int, message_id: int) -> str | None:
        for message in await running.messages(chat_id):
            if message["id"] == message_id:
                status: str | None = message["delivery_status"]
                return status
        return None

    # --- the suite -----------------------------------------------------------------------

    def test_declares_its_channel_in_its_inbox_slot_with_a_mark(self, kit: ConformanceKit) -> None:
        """P3 and I9: the slot fixes the inbox order; the mark shows on the channel's chats."""
        spec = self._spec(kit)
        assert spec.inbox_slot == kit.inbox_slot
        assert spec.title
        assert spec.mark

    async def test_a_forged_delivery_is_refused_and_nothing_is_stored(
        self, make_bridge: MakeBridge, kit: ConformanceKit
    ) -> None:
        running = await self._start(make_bridge, kit)
        status = await kit.post_forged_message(self.hook_url(running), "forged")
        assert status == 401
        assert await running.chats() == []
        metrics = await (await running.session.get(f"{running.url}/metrics")).text()
        assert f'bridgekit_ingest_total{{integration="{INTEGRATION}",outcome="bad_signature"}} 1' in metrics

    async def test_a_redelivery_adds_nothing(self, make_bridge: MakeBridge, kit: ConformanceKit) -> None:
        running = await self._start(make_bridge, kit)
        statuses = [
            await kit.post_customer_message(self.hook_url(running), "same-event", "only once")
            for _ in range(3)
        ]
        assert all(kit.accepted(s) for s in statuses), statuses
        chat = await self._only_chat(running)
        texts = [m["text"] for m in await running.messages(chat["id"])]
        assert texts == ["only once"]

    async def test_first_message_to_manager_reply_received_by_the_provider(
        self, make_bridge: MakeBridge, kit: ConformanceKit
    ) -> None:
        running = await self._start(make_bridge, kit)
        assert kit.accepted(await kit.post_customer_message(self.hook_url(running), "first", "hello there"))
        chat = await self._only_chat(running)
        assert chat["channel"] == kit.channel
        assert chat["mark"] == self._spec(kit).mark
        reply = await running.reply(chat["id"], "How can we help?")
        await running.wait_for(lambda: "How can we help?" in kit.delivered_texts())
        status = await running.wait_for(lambda: self._sent_status(running, chat["id"], reply["id"]))
        if not self._spec(kit).capabilities.reports_reads:
            assert status != "read"  # I19: "sent", never "read"
        assert kit.delivered_texts().count("How can we help?") == 1

    async def _sent_status(self, running: RunningBridge, chat_id: int, message_id: int) -> str | None:
        status = await self._status_of(running, chat_id, message_id)
        return status if status in ("sent", "delivered", "read") else None

    async def test_a_transient_send_failure_is_retried_and_sent_once(
        self, make_bridge: MakeBridge, kit: ConformanceKit
    ) -> None:
        running = await self._start(make_bridge, kit)
        await kit.post_customer_message(self.hook_url(running), "first", "hi")
        chat = await self._only_chat(running)
        kit.fail_next_sends(2)
        reply = await running.reply(chat["id"], "after two failures")
        await running.wait_for(lambda: self._sent_status(running, chat["id"], reply["id"]))
        assert kit.delivered_texts().count("after two failures") == 1

    async def test_exceptions_inside_the_plugin_are_isolated_and_lose_nothing(
        self, make_bridge: MakeBridge, kit: ConformanceKit
    ) -> None:
        ingest_calls = _fail_once(kit.plugin, "bridgekit_ingest")
        deliver_calls = _fail_once(kit.plugin, "bridgekit_deliver")
        running = await self._start(make_bridge, kit)
        url = self.hook_url(running)

        assert kit.asks_for_redelivery(await kit.post_customer_message(url, "e1", "survives a bug"))
        async with running.session.get(f"{running.url}/health") as resp:
            assert resp.status == 200
        assert kit.accepted(await kit.post_customer_message(url, "e1", "survives a bug"))
        chat = await self._only_chat(running)
        assert [m["text"] for m in await running.messages(chat["id"])] == ["survives a bug"]

        reply = await running.reply(chat["id"], "sent despite a bug")
        await running.wait_for(lambda: self._sent_status(running, chat["id"], reply["id"]))
        assert kit.delivered_texts().count("sent despite a bug") == 1
        assert len(ingest_calls) == 2
        assert len(deliver_calls) == 2
        metrics = await (await running.session.get(f"{running.url}/metrics")).text()
        assert (
            f'bridgekit_plugin_errors_total{{hook="bridgekit_deliver",plugin="{kit.channel}"}} 1' in metrics
        )
