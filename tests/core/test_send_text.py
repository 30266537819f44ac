"""``bridge.send_text``: the core and plugins text a customer's phone through whichever plugin
sends texts (``bridgekit_send_text``); without one, a clear refusal."""

from __future__ import annotations

import pytest

import bridgekit
from bridgekit.exceptions import PermanentDeliveryError
from bridgekit.model import DeliveryResult
from bridgekit.testing.conformance import MakeBridge


class Texter:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str, str]] = []

    @bridgekit.hookimpl
    async def bridgekit_send_text(
        self, phone: str, text: str, idempotency_key: str, purpose: str
    ) -> DeliveryResult:
        self.sent.append((phone, text, idempotency_key, purpose))
        return DeliveryResult(provider_message_id="t-1", meta={"charge": {"amount_pu": 20}})


class Declines:
    @bridgekit.hookimpl
    def bridgekit_send_text(self) -> None:
        return None


async def test_send_text_reaches_the_plugin_that_sends_texts(make_bridge: MakeBridge) -> None:
    texter = Texter()
    running = await make_bridge(plugins={"texter": texter, "declines": Declines()})
    result = await running.bridge.send_text("+821012345678", "Your answer is ready", idempotency_key="f-1")
    assert result.provider_message_id == "t-1"
    assert texter.sent == [("+821012345678", "Your answer is ready", "f-1", "notice")]


async def test_send_text_without_a_texting_plugin_is_refused(make_bridge: MakeBridge) -> None:
    running = await make_bridge(plugins={"declines": Declines()})
    with pytest.raises(PermanentDeliveryError, match="no plugin sends texts"):
        await running.bridge.send_text("+821012345678", "hi", idempotency_key="f-1")
