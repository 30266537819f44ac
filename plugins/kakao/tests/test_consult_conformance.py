"""The consultation-talk channel (``kakao_consult``) passes bridgekit's shared channel
conformance suite against the reseller sandbox over real HTTP (token-checked calls in,
``/v1/chat/write`` out)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from bridgekit.model import InboxSlot
from bridgekit.testing.conformance import ChannelConformance, ConformanceKit

from bridgekit_kakao.consult import CHANNEL
from bridgekit_kakao.consult_sandbox import ConsultSandbox, integration
from bridgekit_kakao.plugin import KakaoPlugin

CUSTOMER = "uk-conformance"


class ConsultKit(ConformanceKit):
    """One KakaoTalk customer; a fresh plugin per test."""

    __test__ = False

    def __init__(self, sandbox: ConsultSandbox) -> None:
        self.sandbox = sandbox
        self.kakao_plugin = KakaoPlugin()
        self.plugin = self.kakao_plugin
        self.channel = CHANNEL
        self.inbox_slot = InboxSlot.KAKAO
        self.integration = integration(sandbox)
        # The call first sent under each key; posting the key again is the reseller's
        # redelivery of it (same serial_number and session).
        self._calls: dict[str, dict[str, Any]] = {}

    async def post_customer_message(self, hook_url: str, key: str, text: str) -> int:
        call = self._calls.get(key)
        if call is None:
            serial = hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
            call = self._calls[key] = self.sandbox.call(CUSTOMER, text, serial=serial)
        return await self.sandbox.post(hook_url, call)

    async def post_forged_message(self, hook_url: str, text: str) -> int:
        forged = self.sandbox.call(CUSTOMER, text)
        return await self.sandbox.post(hook_url, forged, token="forged-token-123456")

    def delivered_texts(self) -> list[str]:
        return [m.text for m in self.sandbox.sent if m.text is not None]

    def fail_next_sends(self, count: int) -> None:
        self.sandbox.fail_next(count)

    async def aclose(self) -> None:
        await self.kakao_plugin.aclose()


@pytest.fixture
async def consult_sandbox() -> AsyncIterator[ConsultSandbox]:
    async with ConsultSandbox() as sandbox:
        yield sandbox


class TestConsultConformance(ChannelConformance):
    @pytest.fixture
    async def kit(self, consult_sandbox: ConsultSandbox) -> AsyncIterator[ConformanceKit]:
        kit = ConsultKit(consult_sandbox)
        yield kit
        await kit.aclose()
