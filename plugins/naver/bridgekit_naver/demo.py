"""The TalkTalk sandbox as ``bridgekit demo``'s stand-in for Naver TalkTalk."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from bridgekit import DemoProvider
from bridgekit_naver.sandbox import TalkTalkSandbox


class NaverDemo(DemoProvider):
    channel = "naver"

    def __init__(self) -> None:
        self.sandbox = TalkTalkSandbox(
            authorization_key="ct_" + secrets.token_hex(12), path_token="pt_" + secrets.token_hex(12)
        )
        self.users: dict[str, str] = {}  # customer name -> TalkTalk user id

    async def start(self) -> tuple[Mapping[str, Any], Mapping[str, str]]:
        await self.sandbox.start("127.0.0.1", 0)
        settings: dict[str, Any] = {"api_base": self.sandbox.api_base, "allowed_ips": ["127.0.0.0/8", "::1"]}
        keys = {
            "authorization_key": self.sandbox.authorization_key,
            "path_token": self.sandbox.path_token or "",
        }
        return settings, keys

    async def customer_says(self, hook_url: str, customer: str, text: str) -> int:
        user = self.users.setdefault(customer, "demo-" + hashlib.sha256(customer.encode()).hexdigest()[:22])
        event = self.sandbox.text_event(user, text)
        return (await self.sandbox.post_webhook(event, callback_url=hook_url)).status

    def replies(self) -> list[tuple[str, str]]:
        names = {user: name for name, user in self.users.items()}
        out = []
        for sent in self.sandbox.sends:
            content = sent.get("textContent")
            if (
                sent.get("event") == "send"
                and isinstance(content, dict)
                and isinstance(content.get("text"), str)
            ):
                out.append((names.get(str(sent.get("user")), str(sent.get("user"))), content["text"]))
        return out

    async def stop(self) -> None:
        await self.sandbox.stop()
