from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from bridgekit.testing.conformance import MakeBridge
from bridgekit.testing.harness import RunningBridge
from tests.support.sandbox import SIGNATURE_HEADER, SandboxProvider, sign, webhook_body
from tests.support.testchannel import CHANNEL, TestChannelPlugin

SECRET = "s3cret"


@pytest.fixture
def sandbox() -> SandboxProvider:
    return SandboxProvider()


@pytest_asyncio.fixture
async def sandbox_url(sandbox: SandboxProvider, aiohttp_server: Callable[..., Awaitable[TestServer]]) -> str:
    server = await aiohttp_server(sandbox.app())
    return str(server.make_url("")).rstrip("/")


def signed(*events: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = webhook_body(*events)
    return body, {SIGNATURE_HEADER: sign(secret, body), "Content-Type": "application/json"}


def integration(sandbox_url: str, channel: str = CHANNEL, **settings: Any) -> dict[str, Any]:
    return {
        "channel": channel,
        "settings": {"api_base": sandbox_url, **settings},
        "secrets": {"secret": SECRET, "token": "test-token"},
    }


@pytest.fixture
def channel_plugin() -> TestChannelPlugin:
    return TestChannelPlugin()


#: ``await start_testchat(**make_bridge_options)``: see the fixture.
StartTestchat = Callable[..., Awaitable[RunningBridge]]


@pytest.fixture
def start_testchat(
    make_bridge: MakeBridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> StartTestchat:
    """Start bridgekit with the test channel alone and its ``acme`` integration on the
    sandbox; keyword arguments go to ``make_bridge`` (``config``, say)."""

    async def start(**options: Any) -> RunningBridge:
        return await make_bridge(
            plugins={"testchat": channel_plugin}, integrations={"acme": integration(sandbox_url)}, **options
        )

    return start


async def customer_writes(
    running: RunningBridge, text: str, *, event_id: str = "ev-1", user: str = "u-1"
) -> int:
    """The test channel's customer ``user`` writes ``text`` to ``acme``: the first chat's id."""
    body, headers = signed({"id": event_id, "user": user, "text": text})
    await running.post_hook("acme", body, headers)
    return int((await running.chats())[0]["id"])
