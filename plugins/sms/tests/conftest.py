"""Fixtures for the SMS plugin tests: both provider sandboxes on 127.0.0.1, a fresh plugin,
and a running bridgekit wired to them. Nothing is mocked: every send is real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from bridgekit.testing.conformance import MakeBridge
from bridgekit.testing.harness import RunningBridge

from bridgekit_sms.plugin import CHANNEL, SmsPlugin
from bridgekit_sms.sandbox import NhnSandbox, TwilioSandbox, integration
from bridgekit_sms.testkit import NAME, StartBridge


@pytest.fixture
async def nhn() -> AsyncIterator[NhnSandbox]:
    async with NhnSandbox() as sandbox:
        yield sandbox


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioSandbox]:
    async with TwilioSandbox() as sandbox:
        yield sandbox


@pytest.fixture
async def plugin() -> AsyncIterator[SmsPlugin]:
    instance = SmsPlugin()
    instance.clock = lambda: datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # 12:00 KST
    yield instance
    await instance.aclose()


@pytest.fixture
def start(make_bridge: MakeBridge, plugin: SmsPlugin, nhn: NhnSandbox, twilio: TwilioSandbox) -> StartBridge:
    async def factory(**settings: Any) -> RunningBridge:
        return await make_bridge(
            plugins={CHANNEL: plugin}, integrations={NAME: integration(nhn, twilio, **settings)}
        )

    return factory
