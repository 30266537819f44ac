"""Fixtures for the LINE plugin tests: a running LINE sandbox and a fresh plugin instance.

The plugin talks real HTTP to the sandbox on 127.0.0.1; nothing is mocked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from bridgekit_line.plugin import LinePlugin
from bridgekit_line.sandbox import LineSandbox

from bridgekit.model import Integration


class FakeClock:
    """A settable clock shared by the plugin and the sandbox, to age reply tokens."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def line(clock: FakeClock) -> AsyncIterator[LineSandbox]:
    async with LineSandbox(clock=clock) as sandbox:
        yield sandbox


@pytest.fixture
async def plugin(clock: FakeClock) -> AsyncIterator[LinePlugin]:
    instance = LinePlugin(clock=clock)
    yield instance
    await instance.aclose()


MakeIntegration = Callable[..., Integration]


@pytest.fixture
def make_integration(line: LineSandbox) -> MakeIntegration:
    def factory(**settings: Any) -> Integration:
        return Integration(
            id=1,
            name="acme",
            channel="line",
            settings=line.integration_settings(**settings),
            secrets=line.integration_secrets(),
        )

    return factory


@pytest.fixture
def integration(make_integration: MakeIntegration) -> Integration:
    return make_integration()
