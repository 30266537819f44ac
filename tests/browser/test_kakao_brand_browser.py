"""A Kakao brand message from the customer panel, in a real Chromium against a real bridgekit
with the Kakao plugin and its NHN sandbox: the manager sends one beside the customer's chat
(it reaches the sandbox with "(광고)" and lists among the sent messages), and a send at
21:00 KST is refused on the page in the manager's words, never reaching the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest_asyncio
from bridgekit_kakao.brand_sandbox import BrandSandbox, brand_integration
from bridgekit_kakao.plugin import KakaoPlugin
from playwright.async_api import Browser, expect

from tests.browser.conftest import (
    SandboxPage,
    fill_sign_in,
    operator_desk,
    phone_customer,
)

NOON_KST = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
NINE_PM_KST = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@dataclass
class BrandInbox(SandboxPage[BrandSandbox]):
    plugin: KakaoPlugin


@pytest_asyncio.fixture
async def brand_inbox(browser: Browser, tmp_path: Path) -> AsyncIterator[BrandInbox]:
    async with BrandSandbox() as brand:
        brand.friends.add("01012345678")
        brand.clock = lambda: NOON_KST
        plugin = KakaoPlugin()
        plugin.brand.clock = lambda: NOON_KST
        integrations = {"brand": brand_integration(brand, result_poll_seconds=0.05)}
        async with operator_desk(browser, tmp_path, {"kakao": plugin}, integrations) as desk:
            yield BrandInbox(desk.server, brand, desk.page, desk.problems, plugin)


async def test_a_brand_message_is_sent_from_the_customer_panel_and_refused_at_night(
    brand_inbox: BrandInbox,
) -> None:
    server, brand, page = brand_inbox.server, brand_inbox.sandbox, brand_inbox.page
    customer_id = await phone_customer(server, "홍길동", "010-1234-5678")
    brand_inbox.plugin.brand.store.set_friend("brand", customer_id, True, "event")
    # A campaign bot's first brand message starts the customer's brand chat.
    await server.bridge.send_to_customer(customer_id, "brand", "(광고) 겨울 세일", idempotency_key="bot-1")
    await server.wait_for(lambda: len(brand.brand_sent) == 1)
    (chat,) = await server.chats()

    await page.goto(f"{server.url}/chats/{chat['id']}")
    await fill_sign_in(page)
    form = page.locator("#brand-form")
    await expect(form).to_be_visible()
    await page.get_by_label("Kakao brand message").fill("봄 신상품 입고")
    await form.get_by_role("button", name="Send brand message").click()
    await expect(page.locator("#brand-sent")).to_have_text("Queued: (광고) 봄 신상품 입고")
    await server.wait_for(lambda: [m["content"] for m in brand.brand_sent][1:] == ["(광고) 봄 신상품 입고"])
    await expect(page.locator("#customer-sent li").filter(has_text="(광고) 봄 신상품 입고")).to_have_count(1)
    # The chat redrawn (a tag added, here) keeps the form and what it said.
    await page.locator("#tag-input").fill("광고")
    await page.locator("#tag-input").press("Enter")
    await expect(page.locator("#info-tags li", has_text="광고")).to_have_count(1)
    await expect(page.locator("#brand-sent")).to_have_text("Queued: (광고) 봄 신상품 입고")

    brand_inbox.plugin.brand.clock = lambda: NINE_PM_KST
    await page.get_by_label("Kakao brand message").fill("야간 특가")
    await form.get_by_role("button", name="Send brand message").click()
    await expect(page.locator("#brand-error")).to_have_text(
        "Brand messages are ads: none can be sent from 20:50 to 08:00 Korean time. Send it after 08:00."
    )
    assert brand.brand_requests == 2  # the night's send never reached NHN
    assert brand_inbox.problems == []
