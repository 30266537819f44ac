from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

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
