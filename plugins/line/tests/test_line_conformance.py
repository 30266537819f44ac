"""The ``line`` plugin passes bridgekit's shared channel conformance suite, against the LINE
sandbox over real HTTP on 127.0.0.1 (signed webhooks in, reply/push API calls out)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from bridgekit_line.plugin import CHANNEL, LinePlugin
from bridgekit_line.sandbox import LineSandbox
from bridgekit_line.sandbox_webhooks import WebhookFactory
from bridgekit_line.signature import sign

from bridgekit.model import InboxSlot
from bridgekit.testing.conformance import ChannelConformance, ConformanceKit

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def event_id_for(key: str) -> str:
    """A ULID-shaped ``webhookEventId`` derived from ``key`` alone (same key, same id)."""
    value = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:16], "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


class LineKit(ConformanceKit):
    """Drives :class:`LineSandbox` for the suite; one customer, one fresh plugin per test."""

    __test__ = False

    def __init__(self, sandbox: LineSandbox) -> None:
        self.sandbox = sandbox
        self.line_plugin = LinePlugin()
        self.plugin = self.line_plugin
        self.channel = CHANNEL.name
        self.inbox_slot = InboxSlot.LINE
        self.integration = {
            "channel": "line",
            "settings": sandbox.integration_settings(),
            "secrets": sandbox.integration_secrets(),
        }
        self.customer = sandbox.add_user("Conformance Customer")
        # The event first sent under each key; a later post of the key is LINE's redelivery
        # of it (same webhookEventId, message id and reply token, ``isRedelivery: true``).
        self._events: dict[str, dict[str, Any]] = {}

    @property
    def webhooks(self) -> WebhookFactory:
        return self.sandbox.webhooks

    async def post_customer_message(self, hook_url: str, key: str, text: str) -> int:
        event = self._events.get(key)
        redelivery = event is not None
        if event is None:
            event = self.webhooks.text(self.customer, text)
            event["webhookEventId"] = event_id_for(key)
            self._events[key] = event
        response = await self.webhooks.post(hook_url, [event], redelivery=redelivery)
        return response.status

    async def post_forged_message(self, hook_url: str, text: str) -> int:
        event = self.webhooks.text(self.customer, text)
        body = self.webhooks.body([event])
        forged = sign(self.sandbox.channel_secret + "-wrong", body)
        response = await self.webhooks.post(hook_url, [event], body=body, signature=forged)
        return response.status

    def delivered_texts(self) -> list[str]:
        return [m.text for m in self.sandbox.sent if m.text is not None]

    def fail_next_sends(self, count: int) -> None:
        # Any endpoint: after the customer's message is in (profile looked up and cached),
        # the only calls bridgekit makes are sends, through the reply or the push API.
        self.sandbox.fail_next(503, count)

    async def aclose(self) -> None:
        await self.line_plugin.aclose()


@pytest.fixture
async def line_sandbox() -> AsyncIterator[LineSandbox]:
    async with LineSandbox() as sandbox:
        yield sandbox


class TestLineConformance(ChannelConformance):
    @pytest.fixture
    async def kit(self, line_sandbox: LineSandbox) -> AsyncIterator[ConformanceKit]:
        kit = LineKit(line_sandbox)
        yield kit
        await kit.aclose()
