"""The NHN Cloud sandboxes as ``bridgekit demo``'s stand-ins for Kakao's send-only channels:
Alimtalk (approved templates to try) and brand messages (the demo's customer a friend of the
channel). Nobody writes in through them; the demo seeds a customer with a phone number and
a manager sends from that customer's panel."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bridgekit import DemoCustomer, SendOnlyDemoProvider
from bridgekit.channelkit import ProviderSession

from bridgekit_kakao.brand_sandbox import BrandSandbox, brand_integration
from bridgekit_kakao.sandbox import AlimtalkSandbox, integration
from bridgekit_kakao.templates import VARIABLE

#: The demo's templates: (code, name, content, NHN status). One in review shows what
#: "only approved templates send" looks like.
TEMPLATES = (
    (
        "WELCOME_01",
        "가입 환영",
        "#{name}님, 회원가입을 환영합니다. 궁금한 점은 언제든 문의해 주세요.",
        "TSC03",
    ),
    ("SHIPPED_01", "배송 안내", "#{name}님, 주문하신 상품이 발송되었습니다. 송장번호: #{invoice}", "TSC03"),
    ("COUPON_01", "쿠폰 발급", "#{name}님, #{coupon} 쿠폰이 발급되었습니다.", "TSC02"),
)


def _as_sent(phone: str) -> str:
    """A number as NHN's ``recipientNo`` carries it (digits only)."""
    return re.sub(r"\D", "", phone)


async def _call(customer: DemoCustomer, method: str, path: str, body: Mapping[str, Any]) -> None:
    """Call the demo's API as its operator (a site's back end would, with its token)."""
    headers = {"Authorization": f"Bearer {customer.token}"}
    http = ProviderSession(timeout=30)
    try:
        url = f"{customer.api_url}{path}"
        async with http.get().request(method, url, json=body, headers=headers) as resp:
            if resp.status >= 400:
                raise RuntimeError(f"{method} {path} answered {resp.status}: {await resp.text()}")
    finally:
        await http.aclose()


class AlimtalkDemo(SendOnlyDemoProvider):
    channel = "kakao_alimtalk"

    def __init__(self) -> None:
        self.sandbox = AlimtalkSandbox()
        for code, name, content, status in TEMPLATES:
            self.sandbox.add_template(code, content, status=status, name=name)
        self.names: dict[str, str] = {}  # recipientNo -> customer name

    async def start(self) -> tuple[Mapping[str, Any], Mapping[str, str]]:
        await self.sandbox.start("127.0.0.1", 0)
        conf = integration(self.sandbox, sms_fallback=False)  # the demo may have no SMS stand-in
        return conf["settings"], conf["secrets"]

    async def customer_added(self, integration: str, customer: DemoCustomer) -> None:
        # A welcome Alimtalk, as a site would send on sign-up: it gives the customer the chat
        # whose panel the demo points at.
        self.names[_as_sent(customer.phone)] = customer.name
        body = {
            "integration": integration,
            "customer_id": customer.customer_id,
            "template_code": "WELCOME_01",
            "parameters": {"name": customer.name},
            "idempotency_key": "demo-welcome",
        }
        await _call(customer, "POST", "/kakao_alimtalk/messages", body)

    def replies(self) -> list[tuple[str, str]]:
        def text(sent: Mapping[str, Any]) -> str:
            parameters = sent.get("templateParameter") or {}
            content = self.sandbox.templates[str(sent["templateCode"])].content
            return VARIABLE.sub(lambda m: str(parameters.get(m.group(1), m.group(0))), content)

        return [
            (self.names.get(str(s["recipientNo"]), str(s["recipientNo"])), text(s)) for s in self.sandbox.sent
        ]

    async def stop(self) -> None:
        await self.sandbox.stop()


class BrandDemo(SendOnlyDemoProvider):
    channel = "kakao_brand"

    def __init__(self) -> None:
        self.sandbox = BrandSandbox()
        self.names: dict[str, str] = {}  # recipientNo -> customer name

    async def start(self) -> tuple[Mapping[str, Any], Mapping[str, str]]:
        await self.sandbox.start("127.0.0.1", 0)
        conf = brand_integration(self.sandbox)
        return conf["settings"], conf["secrets"]

    async def customer_added(self, integration: str, customer: DemoCustomer) -> None:
        # The customer added the channel as a friend: Kakao knows it, and the site relays
        # Kakao's "added" webhook to bridgekit (README, "Who is a friend").
        number = _as_sent(customer.phone)
        self.names[number] = customer.name
        self.sandbox.friends.add(number)
        body = {"integration": integration, "customer_id": customer.customer_id, "friend": True}
        await _call(customer, "PUT", "/kakao_brand/friends", body)

    def replies(self) -> list[tuple[str, str]]:
        return [
            (self.names.get(str(s["recipientNo"]), str(s["recipientNo"])), str(s["content"]))
            for s in self.sandbox.brand_sent
            if self.sandbox.brand_results.get((str(s["requestId"]), 1), {}).get("messageStatus")
            == "COMPLETED"
        ]

    async def stop(self) -> None:
        await self.sandbox.stop()
