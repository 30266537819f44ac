"""The Instagram plugin passes bridgekit's shared channel conformance suite, driven through
the Meta sandbox: signed webhooks in, Send API calls out (P1-P3, I5, I9, I13, I19)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator

import pytest_asyncio
from bridgekit_instagram.plugin import CHANNEL, InstagramPlugin
from bridgekit_instagram.sandbox import MetaSandbox
from bridgekit_instagram.signature import sign
from ig_helpers import secrets_for, settings_for

from bridgekit.model import InboxSlot
from bridgekit.testing.conformance import ChannelConformance, ConformanceKit

CUSTOMER = "IGSID-conformance-1"
"""The one customer (Instagram-scoped user id) every suite message comes from."""


class InstagramKit(ConformanceKit):
    __test__ = False

    def __init__(self, meta: MetaSandbox) -> None:
        self.meta = meta
        meta.add_profile(CUSTOMER, name="Conformance Customer", username="conformance.customer")
        self.plugin: InstagramPlugin = InstagramPlugin()
        self.channel = CHANNEL
        self.inbox_slot = InboxSlot.INSTAGRAM
        self.integration = {
            "channel": CHANNEL,
            "settings": settings_for(meta),
            "secrets": secrets_for(meta),
        }

    def mid_for(self, key: str) -> str:
        """A Meta-shaped message id (the webhook's event id) that depends only on ``key``."""
        digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:16], "big")
        raw = f"ig_item:1:IGMessage:{self.meta.ig_user_id}:{digest}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    async def post_customer_message(self, hook_url: str, key: str, text: str) -> int:
        # deliver() envelopes, encodes and signs like Meta and opens the messaging window
        event = self.meta.text_event(CUSTOMER, text, mid=self.mid_for(key))
        return (await self.meta.deliver(hook_url, event)).status

    async def post_forged_message(self, hook_url: str, text: str) -> int:
        body = self.meta.encode(self.meta.envelope(self.meta.text_event(CUSTOMER, text)))
        forged = sign(self.meta.app_secret + "-forged", body)  # well formed, wrong secret
        return (await self.meta.post_webhook(hook_url, body, signature=forged)).status

    def delivered_texts(self) -> list[str]:
        return [sent.text for sent in self.meta.sent if sent.text is not None]

    def fail_next_sends(self, count: int) -> None:
        if count > 0:
            # HTTP 500 with Graph code 2 and is_transient, as Meta answers during an outage
            self.meta.fail_next("server_error", endpoint="send", times=count)


class TestInstagramConformance(ChannelConformance):
    @pytest_asyncio.fixture
    async def kit(self, meta: MetaSandbox) -> AsyncIterator[ConformanceKit]:
        kit = InstagramKit(meta)
        yield kit
        await kit.plugin.aclose()
