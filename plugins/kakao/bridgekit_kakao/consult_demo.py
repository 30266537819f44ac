"""The consultation-talk reseller sandbox as ``bridgekit demo``'s stand-in for KakaoTalk."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridgekit import DemoProvider

from bridgekit_kakao.consult import CHANNEL
from bridgekit_kakao.consult_sandbox import ConsultSandbox


class ConsultDemo(DemoProvider):
    channel = CHANNEL

    def __init__(self) -> None:
        self.sandbox = ConsultSandbox()
        self.users: dict[str, str] = {}  # customer name -> Kakao user_key

    async def start(self) -> tuple[Mapping[str, Any], Mapping[str, str]]:
        await self.sandbox.start("127.0.0.1", 0)
        return self.sandbox.settings(), self.sandbox.secrets()

    async def customer_says(self, hook_url: str, customer: str, text: str) -> int:
        user_key = self.users.setdefault(customer, f"demo-{len(self.users) + 1}")
        return await self.sandbox.customer_says(hook_url, user_key, text)

    def replies(self) -> list[tuple[str, str]]:
        names = {user_key: name for name, user_key in self.users.items()}
        return [(names.get(m.user_key, m.user_key), m.text) for m in self.sandbox.sent if m.text is not None]

    async def stop(self) -> None:
        await self.sandbox.stop()
