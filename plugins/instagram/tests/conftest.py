"""Fixtures for the Instagram plugin tests: a running Meta sandbox and a fresh plugin."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from bridgekit_instagram.plugin import InstagramPlugin
from bridgekit_instagram.sandbox import MetaSandbox
from ig_helpers import integration_for

from bridgekit.model import Integration


@pytest_asyncio.fixture
async def meta() -> AsyncIterator[MetaSandbox]:
    sandbox = MetaSandbox()
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


@pytest_asyncio.fixture
async def ig_plugin() -> AsyncIterator[InstagramPlugin]:
    plugin = InstagramPlugin()
    yield plugin
    await plugin.aclose()


@pytest.fixture
def integration(meta: MetaSandbox) -> Integration:
    return integration_for(meta)
