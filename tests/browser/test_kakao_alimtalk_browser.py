"""An Alimtalk from the customer panel, in a real Chromium against a real bridgekit with the
Kakao plugin and its NHN Alimtalk sandbox: the manager picks an approved template (one still
in review is not offered), fills its variables, previews and sends; the sandbox receives the
template with those values and the send lists among the customer's sent messages. A variable
left empty is refused on the page in the manager's words, and nothing reaches the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from bridgekit_kakao.plugin import KakaoPlugin
from bridgekit_kakao.sandbox import AlimtalkSandbox, integration
from bridgekit_kakao.testkit import AS_SENT, KOREAN, SHIPPED, SHIPPED_TEXT, sent_alimtalk
from playwright.async_api import Browser, expect

from tests.browser.conftest import (
    SandboxPage,
    fill_sign_in,
    operator_desk,
    phone_customer,
)

PAID = "PAID_01"


AlimtalkInbox = SandboxPage[AlimtalkSandbox]


@pytest_asyncio.fixture
async def alimtalk_inbox(browser: Browser, tmp_path: Path) -> AsyncIterator[AlimtalkInbox]:
    async with AlimtalkSandbox() as kakao:
        kakao.add_template(SHIPPED, SHIPPED_TEXT, name="배송 안내")
        kakao.add_template(PAID, "#{name}님, 결제가 완료되었습니다.", name="결제 안내")
        kakao.add_template("DRAFT_01", "#{name}님, 곧 만나요.", status="TSC02", name="검수 중 안내")
        plugin = KakaoPlugin()
        integrations = {"alimtalk": integration(kakao, result_poll_seconds=0.05)}
        async with operator_desk(browser, tmp_path, {"kakao": plugin}, integrations) as desk:
            # The plugin reads the templates' review states from NHN when it starts.
            await desk.server.wait_for(lambda: len(plugin.store.templates("alimtalk")) == 3)
            yield AlimtalkInbox(desk.server, kakao, desk.page, desk.problems)


async def test_an_alimtalk_is_sent_from_the_customer_panel_and_a_missing_variable_refused(
    alimtalk_inbox: AlimtalkInbox,
) -> None:
    server, kakao, page = alimtalk_inbox.server, alimtalk_inbox.sandbox, alimtalk_inbox.page
    customer_id = await phone_customer(server, "홍길동", KOREAN)
    # An order system's first Alimtalk starts the customer's Alimtalk chat.
    first = await sent_alimtalk(server, customer_id, SHIPPED, name="홍길동", invoice="6079-1")
    await server.wait_for(lambda: len(kakao.sent) == 1)

    await page.goto(f"{server.url}/chats/{first['chat_id']}")
    await fill_sign_in(page)
    form = page.locator("#alimtalk-form")
    await expect(form).to_be_visible()
    choice = page.get_by_label("Kakao Alimtalk")
    # Only the approved templates are offered.
    await expect(choice.locator("option")).to_have_text(["결제 안내", "배송 안내"])
    await choice.select_option(label="결제 안내")
    await expect(form.locator("#alimtalk-preview")).to_have_text("#{name}님, 결제가 완료되었습니다.")

    # Left empty, the variable is refused in words, before NHN.
    await form.get_by_role("button", name="Send Alimtalk").click()
    await expect(page.locator("#alimtalk-error")).to_have_text(
        "Fill in #{name}: every variable of the template needs a value."
    )
    assert len(kakao.sent) == 1

    await form.get_by_label("#{name}").fill("김철수")
    await form.get_by_role("button", name="Preview").click()
    await expect(form.locator("#alimtalk-preview")).to_have_text("김철수님, 결제가 완료되었습니다.")
    await expect(page.locator("#alimtalk-error")).to_be_hidden()
    await form.get_by_role("button", name="Send Alimtalk").click()
    await expect(page.locator("#alimtalk-sent")).to_have_text("Queued: 김철수님, 결제가 완료되었습니다.")
    await server.wait_for(lambda: len(kakao.sent) == 2)
    sent = kakao.sent[1]
    assert (sent["templateCode"], sent["recipientNo"], sent["templateParameter"]) == (
        PAID,
        AS_SENT,
        {"name": "김철수"},
    )
    await expect(
        page.locator("#customer-sent li").filter(has_text="김철수님, 결제가 완료되었습니다.")
    ).to_have_count(1)
    assert alimtalk_inbox.problems == []
