"""The LINE sandbox as ``bridgekit demo``'s stand-in for the LINE platform."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from bridgekit import DemoProvider
from bridgekit_line.sandbox import LineSandbox


class LineDemo(DemoProvider):
    channel = "line"

    def __init__(self) -> None:
        self.sandbox = LineSandbox(
            channel_secret=secrets.token_hex(16), access_token=secrets.token_urlsafe(24)
        )
        self.users: dict[str, str] = {}  # customer name -> LINE userId

    async def start(self) -> tuple[Mapping[str, Any], Mapping[str, str]]:
        await self.sandbox.start("127.0.0.1", 0)
        return self.sandbox.integration_settings(), self.sandbox.integration_secrets()

    async def customer_says(self, hook_url: str, customer: str, text: str) -> int:
        if customer not in self.users:
            self.users[customer] = self.sandbox.add_user(customer)
        event = self.sandbox.webhooks.text(self.users[customer], text)
        return (await self.sandbox.webhooks.post(hook_url, [event])).status

    def replies(self) -> list[tuple[str, str]]:
        names = {user_id: name for name, user_id in self.users.items()}
        return [(names.get(m.to, m.to), m.text) for m in self.sandbox.sent if m.text is not None]

    async def stop(self) -> None:
        await self.sandbox.stop()
