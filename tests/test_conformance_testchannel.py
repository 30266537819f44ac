"""The core's own test channel passes the shared plugin conformance suite."""

from __future__ import annotations

import aiohttp
import pytest

from bridgekit.model import InboxSlot
from bridgekit.testing.conformance import ChannelConformance, ConformanceKit
from tests.conftest import SECRET, integration, signed
from tests.support.sandbox import SandboxProvider
from tests.support.testchannel import CHANNEL, TestChannelPlugin


class TestChannelKit(ConformanceKit):
    __test__ = False

    def __init__(self, sandbox: SandboxProvider, sandbox_url: str) -> None:
        self.sandbox = sandbox
        self.plugin = TestChannelPlugin()
        self.channel = CHANNEL
        self.inbox_slot = InboxSlot.OTHER
        self.integration = integration(sandbox_url)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as resp:
            return resp.status

    async def post_customer_message(self, hook_url: str, key: str, text: str) -> int:
        return await self._post(hook_url, *signed({"id": key, "user": "u-1", "text": text}))

    async def post_forged_message(self, hook_url: str, text: str) -> int:
        return await self._post(
            hook_url, *signed({"id": "x", "user": "u-1", "text": text}, secret=SECRET + "x")
        )

    def delivered_texts(self) -> list[str]:
        return self.sandbox.texts

    def fail_next_sends(self, count: int) -> None:
        self.sandbox.fail_next(503, count)


class TestTestChannelConformance(ChannelConformance):
    @pytest.fixture
    def kit(self, sandbox: SandboxProvider, sandbox_url: str) -> ConformanceKit:
        return TestChannelKit(sandbox, sandbox_url)
