"""Small bot plugins used by the flow tests."""

from __future__ import annotations

import bridgekit
from bridgekit.flow import ChatStateEvent, MessageEvent


class EchoBot:
    """Replies "echo: <text>" and tags the chat, unless the text says "quiet"."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.sent: list[int] = []
        self.states: list[tuple[str | None, str]] = []

    @bridgekit.hookimpl
    async def bridgekit_message_received(self, event: MessageEvent) -> None:
        assert event.message is not None
        self.seen.append(event.message.text)
        if "quiet" in event.message.text:
            return
        event.reply(f"echo: {event.message.text}")
        event.tag("echoed")

    @bridgekit.hookimpl
    def bridgekit_message_sent(self, event: MessageEvent) -> None:
        assert event.message is not None
        self.sent.append(event.message.id)

    @bridgekit.hookimpl
    def bridgekit_chat_state_changed(self, event: ChatStateEvent) -> None:
        self.states.append((event.old_state, event.new_state))


class Gatekeeper:
    """Stops further processing for texts starting with "stop"."""

    @bridgekit.hookimpl(tryfirst=True)
    def bridgekit_message_received(self, event: MessageEvent) -> None:
        assert event.message is not None
        if event.message.text.startswith("stop"):
            event.note("stopped by gatekeeper")
            event.stop()


class CrashingBot:
    @bridgekit.hookimpl
    def bridgekit_message_received(self, event: MessageEvent) -> None:
        raise RuntimeError("bot bug")


echo_bot = EchoBot()
"""Instance loadable with ``[plugins] modules = ["tests.support.bots:echo_bot"]``."""


class GreeterBot:
    """Greets every chat that opens and says goodbye when one closes: the typical automatic
    answers of a support inbox."""

    @bridgekit.hookimpl
    def bridgekit_chat_state_changed(self, event: ChatStateEvent) -> None:
        if event.old_state is None and event.new_state == "open":
            event.reply("Thanks, we will answer soon.")
            event.tag("greeted")
        elif event.new_state == "closed":
            event.reply("Goodbye.")
