"""Several Alimtalk integrations (two NHN app keys, each with the templates of its own Kakao
channel), in a real Chromium against a real bridgekit with the Kakao plugin and two NHN
Alimtalk sandboxes: the customer panel's Alimtalk form offers a picker of the integrations,
lists the chosen one's approved templates, and sends from it: the other sandbox receives
nothing. A reply typed into the Alimtalk chat is refused in favour of that form."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio
from bridgekit_kakao.plugin import KakaoPlugin
from bridgekit_kakao.sandbox import AlimtalkSandbox, integration
from bridgekit_kakao.testkit import AS_SENT, KOREAN, SHIPPED, SHIPPED_TEXT
from playwright.async_api import Browser, Page, expect

from bridgekit.testing.harness import RunningBridge
from tests.browser.conftest import fill_sign_in, operator_desk, phone_customer

BOOKED = "BOOKED_01"
BOOKED_TEXT = "#{name}님, #{day} 상담 예약이 확정되었습니다."
FILLED = "홍길동님, 12월 9일 상담 예약이 확정되었습니다."


@dataclass
class TwoAlimtalks:
    server: RunningBridge
    shop: AlimtalkSandbox  # integration "alimtalk_shop": the shipping templates
    care: AlimtalkSandbox  # integration "alimtalk_care": the booking template
    page: Page
    problems: list[str]


@pytest_asyncio.fixture
async def two_alimtalks(browser: Browser, tmp_path: Path) -> AsyncIterator[TwoAlimtalks]:
    async with AlimtalkSandbox() as shop, AlimtalkSandbox() as care:
        shop.add_template(SHIPPED, SHIPPED_TEXT, name="배송 안내")
        care.add_template(BOOKED, BOOKED_TEXT, name="예약 확정")
        care.add_template("DRAFT_01", "#{name}님, 곧 만나요.", status="TSC02", name="검수 중 안내")
        plugin = KakaoPlugin()
        integrations = {
            "alimtalk_shop": integration(shop, result_poll_seconds=0.05),
            "alimtalk_care": integration(care, result_poll_seconds=0.05),
        }
        async with operator_desk(browser, tmp_path, {"kakao": plugin}, integrations) as desk:
            await desk.server.wait_for(
                lambda: (
                    len(plugin.store.templates("alimtalk_shop")) == 1
                    and len(plugin.store.templates("alimtalk_care")) == 2
                )
            )
            yield TwoAlimtalks(desk.server, shop, care, desk.page, desk.problems)


async def test_the_manager_picks_which_alimtalk_integration_sends(two_alimtalks: TwoAlimtalks) -> None:
    server, page = two_alimtalks.server, two_alimtalks.page
    shop, care = two_alimtalks.shop, two_alimtalks.care
    customer_id = await phone_customer(server, "홍길동", KOREAN)
    # The shop's order system sends the first Alimtalk: the customer's Alimtalk chat.
    first = await server.api(
        "POST",
        "/kakao_alimtalk/messages",
        json={
            "integration": "alimtalk_shop",
            "customer_id": customer_id,
            "template_code": SHIPPED,
            "parameters": {"name": "홍길동", "invoice": "6079-1"},
        },
    )
    await server.wait_for(lambda: len(shop.sent) == 1)
    chat = next(c for c in await server.chats() if c["customer_id"] == customer_id)
    assert first["integration"] == "alimtalk_shop"

    await page.goto(f"{server.url}/chats/{chat['id']}")
    await fill_sign_in(page)
    form = page.locator("#alimtalk-form")
    await expect(form).to_be_visible()
    picker = form.get_by_label("Send from")
    # In the inbox's order (by name within the Kakao slot); the first is chosen.
    await expect(picker.locator("option")).to_have_text(["alimtalk_care", "alimtalk_shop"])
    templates = form.get_by_label("Kakao Alimtalk")
    await expect(templates.locator("option")).to_have_text(["예약 확정"])  # the one in review not offered
    await picker.select_option("alimtalk_shop")
    await expect(templates.locator("option")).to_have_text(["배송 안내"])

    # The care integration's own template, sent from it.
    await picker.select_option("alimtalk_care")
    await expect(templates.locator("option")).to_have_text(["예약 확정"])
    await expect(form.locator("#alimtalk-preview")).to_have_text(BOOKED_TEXT)
    await form.get_by_label("#{name}").fill("홍길동")
    await form.get_by_label("#{day}").fill("12월 9일")
    await form.get_by_role("button", name="Preview").click()
    await expect(form.locator("#alimtalk-preview")).to_have_text(FILLED)
    await form.get_by_role("button", name="Send Alimtalk").click()
    await expect(page.locator("#alimtalk-sent")).to_have_text(f"Queued: {FILLED}")
    await server.wait_for(lambda: len(care.sent) == 1)
    sent = care.sent[0]
    assert (sent["templateCode"], sent["recipientNo"], sent["templateParameter"]) == (
        BOOKED,
        AS_SENT,
        {"name": "홍길동", "day": "12월 9일"},
    )
    assert len(shop.sent) == 1  # the shop's sandbox got only the first
    await expect(
        page.locator("#customer-sent li").filter(has_text="12월 9일 상담 예약이 확정되었습니다.")
    ).to_have_count(1)

    # The customer's panel redrawn after the send keeps the manager's choice.
    await expect(picker).to_have_value("alimtalk_care")

    # Typed into the Alimtalk chat instead, a reply is refused in the manager's words and
    # given back to them; nothing reaches either sandbox.
    typed = page.locator("#compose-text")
    await typed.fill("예약 확인 부탁드려요.")
    await page.locator("#composer").get_by_role("button", name="Send", exact=True).click()
    await expect(page.locator("#compose-error")).to_have_text(
        "An Alimtalk chat takes only Kakao-approved templates: send one from the Alimtalk form in the"
        " customer panel."
    )
    await expect(typed).to_have_value("예약 확인 부탁드려요.")
    assert (len(shop.sent), len(care.sent)) == (1, 1)
    assert two_alimtalks.problems == []
