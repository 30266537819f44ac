"""The Meta sandbox as ``bridgekit demo``'s stand-in for Instagram messaging."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from bridgekit import DemoProvider

from .sandbox import MetaSandbox


class InstagramDemo(DemoProvider):
    channel = "instagram"

    def __init__(self) -> None:
        self.meta = MetaSandbox(
            app_secret=secrets.token_hex(16),
            verify_token=secrets.token_urlsafe(12),
            access_token=secrets.token_urlsafe(24),
        )
        self.users: dict[str, str] = {}  # customer name -> Instagram-scoped id

    async def start(self) -> tuple[Mapping[str, Any], Mapping[str, str]]:
        await self.meta.start("127.0.0.1", 0)
        settings = {"graph_base": self.meta.url, "ig_user_id": self.meta.ig_user_id}
        keys = {
            "app_secret": self.meta.app_secret,
            "verify_token": self.meta.verify_token,
            "access_token": self.meta.access_token,
        }
        return settings, keys

    async def customer_says(self, hook_url: str, customer: str, text: str) -> int:
        igsid = self.users.get(customer)
        if igsid is None:
            igsid = "IGSID-" + hashlib.sha256(customer.encode()).hexdigest()[:16]
            handle = "".join(ch for ch in customer.lower() if ch.isascii() and ch.isalnum()) or "customer"
            self.meta.add_profile(igsid, name=customer, username=f"{handle}.demo")
            self.users[customer] = igsid
        return (await self.meta.deliver(hook_url, self.meta.text_event(igsid, text))).status

    def replies(self) -> list[tuple[str, str]]:
        names = {igsid: name for name, igsid in self.users.items()}
        return [(names.get(s.recipient_id, s.recipient_id), s.text) for s in self.meta.sent if s.text]

    async def stop(self) -> None:
        await self.meta.stop()
