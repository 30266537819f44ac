"""Fixtures for the email plugin's tests: a local SMTP sink standing in for the outbound relay
(nothing is mocked: a reply really travels over SMTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from bridgekit_email_forward.sandbox import SmtpSink


@pytest_asyncio.fixture
async def relay() -> AsyncIterator[SmtpSink]:
    """The outbound relay: a local SMTP sink."""
    async with SmtpSink() as server:
        yield server


@pytest.fixture
def sink(relay: SmtpSink) -> SmtpSink:
    """The same sink, by the name the SMTP tests give it."""
    return relay
