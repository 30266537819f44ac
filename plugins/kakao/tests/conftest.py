"""Fixtures for the Kakao plugin tests: the Alimtalk sandbox and NHN Cloud SMS's sandbox on
127.0.0.1, and a running bridgekit with both plugins wired to them. Nothing is mocked: every
send is real HTTP, every row a real database's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from bridgekit.testing.conformance import MakeBridge
from bridgekit.testing.harness import RunningBridge
from bridgekit_sms.plugin import SmsPlugin
from bridgekit_sms.sandbox import NhnSandbox
from bridgekit_sms.sandbox import integration as sms_integration

from bridgekit_kakao.plugin import KakaoPlugin
from bridgekit_kakao.sandbox import AlimtalkSandbox, integration
from bridgekit_kakao.testkit import SHIPPED, SHIPPED_TEXT, StartBridge


@pytest.fixture
async def kakao() -> AsyncIterator[AlimtalkSandbox]:
    async with AlimtalkSandbox() as sandbox:
        sandbox.add_template(SHIPPED, SHIPPED_TEXT, name="배송 안내")
        yield sandbox


@pytest.fixture
async def sms() -> AsyncIterator[NhnSandbox]:
    async with NhnSandbox() as sandbox:
        yield sandbox


@pytest.fixture
async def start(
    make_bridge: MakeBridge, kakao: AlimtalkSandbox, sms: NhnSandbox
) -> AsyncIterator[StartBridge]:
    kakao_plugin, sms_plugin = KakaoPlugin(), SmsPlugin()

    async def factory(**settings: Any) -> RunningBridge:
        return await make_bridge(
            plugins={"kakao": kakao_plugin, "sms": sms_plugin},
            integrations={
                "alimtalk": integration(kakao, result_poll_seconds=0.05, **settings),
                "sms": sms_integration(sms, None),
            },
        )

    yield factory
    await kakao_plugin.aclose()
    await sms_plugin.aclose()
