"""The Twilio sandbox as ``bridgekit demo``'s stand-in for SMS (customers text in from
international numbers; replies go back through the sandbox)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from bridgekit import DemoProvider

from bridgekit_sms.sandbox import TwilioSandbox, integration


class SmsDemo(DemoProvider):
    channel = "sms"

    def __init__(self) -> None:
        self.sandbox = TwilioSandbox()
        self.phones: dict[str, str] = {}  # customer name -> phone number

    async def start(self) -> tuple[Mapping[str, Any], Mapping[str, str]]:
        await self.sandbox.start()
        conf = integration(None, self.sandbox)
        return conf["settings"], conf["secrets"]

    def _phone(self, customer: str) -> str:
        digits = int(hashlib.sha256(customer.encode()).hexdigest()[:6], 16) % 10000
        return self.phones.setdefault(customer, f"+1202555{digits:04d}")

    async def customer_says(self, hook_url: str, customer: str, text: str) -> int:
        return await self.sandbox.post_inbound(hook_url, self._phone(customer), text)

    def replies(self) -> list[tuple[str, str]]:
        names = {phone: name for name, phone in self.phones.items()}
        return [(names.get(m["To"], m["To"]), m["Body"]) for m in self.sandbox.sent]

    async def stop(self) -> None:
        await self.sandbox.stop()
