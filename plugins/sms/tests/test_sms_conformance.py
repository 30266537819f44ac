"""The ``sms`` plugin passes bridgekit's channel conformance suite against the Twilio
sandbox over real HTTP (signed inbound texts in, Messages API calls out)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from bridgekit.model import InboxSlot
from bridgekit.testing.conformance import ChannelConformance, ConformanceKit

from bridgekit_sms.plugin import CHANNEL, SmsPlugin
from bridgekit_sms.sandbox import TwilioSandbox, integration

CUSTOMER = "+12025550143"


class SmsKit(ConformanceKit):
    __test__ = False
    plugin: SmsPlugin

    def __init__(self, sandbox: TwilioSandbox) -> None:
        self.sandbox = sandbox
        self.plugin = SmsPlugin()
        self.channel = CHANNEL
        self.inbox_slot = InboxSlot.PHONE
        self.integration = integration(None, sandbox)

    async def post_customer_message(self, hook_url: str, key: str, text: str) -> int:
        return await self.sandbox.post_inbound(hook_url, CUSTOMER, text, sid=f"SM{key}")

    async def post_forged_message(self, hook_url: str, text: str) -> int:
        return await self.sandbox.post_inbound(hook_url, CUSTOMER, text, token=self.sandbox.auth_token + "x")

    def delivered_texts(self) -> list[str]:
        return self.sandbox.texts

    def fail_next_sends(self, count: int) -> None:
        self.sandbox.fail_next(503, count)


@pytest.fixture
async def twilio_sandbox() -> AsyncIterator[TwilioSandbox]:
    async with TwilioSandbox() as sandbox:
        yield sandbox


class TestSmsConformance(ChannelConformance):
    @pytest.fixture
    async def kit(self, twilio_sandbox: TwilioSandbox) -> AsyncIterator[ConformanceKit]:
        kit = SmsKit(twilio_sandbox)
        yield kit
        await kit.plugin.aclose()
