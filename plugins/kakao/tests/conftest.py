"""Fixtures for the Kakao plugin tests: the Alimtalk sandbox and NHN Cloud SMS's sandbox on
127.0.0.1, and a running bridgekit with both plugins wired to them; the consultation-talk
reseller's sandbox and a bridgekit with a ``consult`` integration on it. Nothing is mocked: every
send is real HTTP, every row a real database's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from bridgekit.inbox.customers import new_lead
from bridgekit.runtime.clock import utcnow
from bridgekit.testing.conformance import MakeBridge
from bridgekit.testing.harness import RunningBridge
from bridgekit_sms.plugin import SmsPlugin
from bridgekit_sms.sandbox import NhnSandbox
from bridgekit_sms.sandbox import integration as sms_integration

from bridgekit_kakao.consult_sandbox import ConsultSandbox
from bridgekit_kakao.consult_sandbox import integration as consult_integration
from bridgekit_kakao.plugin import KakaoPlugin
from bridgekit_kakao.sandbox import AlimtalkSandbox, integration
from bridgekit_kakao.testkit import KOREAN, SHIPPED, SHIPPED_TEXT, MakeCustomer, StartBridge


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


@pytest.fixture
def make_customer() -> MakeCustomer:
    """A customer stored with ``phone`` as their phone number (None: an email address only),
    as a lead from another channel would be."""

    async def factory(running: RunningBridge, phone: str | None = KOREAN, name: str = "홍길동") -> int:
        bridge = running.bridge
        contact = ("phone", 0, phone) if phone else ("email", 0, "kim@example.co.kr")
        async with bridge.db.write() as conn:
            customer_id, _ = await new_lead(conn, bridge.workspace_id, name, contact, True, utcnow())
        return customer_id

    return factory


@pytest.fixture
async def consult_running(make_bridge: MakeBridge, reseller: ConsultSandbox) -> AsyncIterator[RunningBridge]:
    """A running bridgekit with the Kakao plugin's ``consult`` integration on ``reseller``."""
    plugin = KakaoPlugin()
    integrations = {"consult": consult_integration(reseller)}
    yield await make_bridge(plugins={"kakao": plugin}, integrations=integrations)
    await plugin.aclose()


@pytest.fixture
async def reseller() -> AsyncIterator[ConsultSandbox]:
    """The consultation-talk reseller's sandbox."""
    async with ConsultSandbox() as sandbox:
        yield sandbox
