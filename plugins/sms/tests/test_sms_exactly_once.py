"""A send the provider accepted is sent once: the plugin's record of it (committed together
with the other sends answered in the same turn of the event loop) answers a later attempt
with the same idempotency key, as after a crash before the outbox recorded the send."""

from __future__ import annotations

import asyncio

from bridgekit.model import Contact, Integration, OutboundMessage

from bridgekit_sms.plugin import CHANNEL, SmsPlugin
from bridgekit_sms.sandbox import TwilioSandbox, integration
from bridgekit_sms.testkit import ABROAD, NAME


async def test_sends_answered_together_are_each_recorded_and_a_retry_sends_nothing(
    plugin: SmsPlugin, twilio: TwilioSandbox
) -> None:
    conf = integration(None, twilio)
    target = Integration(1, NAME, CHANNEL, conf["settings"], conf["secrets"])
    messages = [
        OutboundMessage(i, 1, f"key-{i}", Contact("phone", ABROAD), ABROAD, f"text {i}") for i in range(1, 9)
    ]
    first = await asyncio.gather(*(plugin.bridgekit_deliver(target, m) for m in messages))
    again = await asyncio.gather(*(plugin.bridgekit_deliver(target, m) for m in messages))
    assert len({r.provider_message_id for r in first}) == 8
    assert [r.provider_message_id for r in again] == [r.provider_message_id for r in first]
    assert sorted(twilio.texts) == sorted(f"text {i}" for i in range(1, 9))  # each went out once
    assert [s.segments for m in messages for s in plugin.store.sends_of(m.message_id)] == [1] * 8
