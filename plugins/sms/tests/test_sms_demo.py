"""``bridgekit demo``'s stand-in for SMS carries a customer's message in and the
manager's reply back out, through a real bridgekit."""

from __future__ import annotations

from bridgekit.testing.conformance import MakeBridge

from bridgekit_sms.demo import SmsDemo
from bridgekit_sms.plugin import CHANNEL, SmsPlugin


async def test_the_demo_stand_in_carries_messages_both_ways(make_bridge: MakeBridge) -> None:
    demo = SmsDemo()
    plugin = SmsPlugin()
    settings, secrets = await demo.start()
    try:
        running = await make_bridge(
            plugins={CHANNEL: plugin},
            integrations={"demo": {"channel": CHANNEL, "settings": settings, "secrets": secrets}},
        )
        assert await demo.customer_says(f"{running.url}/hooks/demo", "Kim", "Is my order on its way?") == 200
        [chat] = await running.chats()
        assert chat["channel"] == CHANNEL  # a text carries no name: the customer is their number
        await running.reply(chat["id"], "It left this morning.")
        await running.wait_for(lambda: demo.replies() == [("Kim", "It left this morning.")])
    finally:
        await plugin.aclose()
        await demo.stop()
