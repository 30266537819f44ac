"""The Alimtalk templates admin page in a real Chromium against a real bridgekit with the
Kakao plugin and its NHN Cloud sandbox: an admin sees every template with Kakao's review
state, its variables and whether it can be sent; after Kakao approves one and another is
deleted at NHN, Sync shows the new states, in the page's language."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from bridgekit_kakao.plugin import KakaoPlugin
from bridgekit_kakao.sandbox import AlimtalkSandbox, integration
from playwright.async_api import Browser, expect

from bridgekit.inbox.managers import ADMIN
from tests.browser.conftest import NO_SEAT, SandboxPage, running_bridge, sign_in, sign_up, watched_page

EMAIL = "admin@example.co.kr"


Site = SandboxPage[AlimtalkSandbox]


@pytest_asyncio.fixture
async def site(browser: Browser, tmp_path: Path) -> AsyncIterator[Site]:
    async with AlimtalkSandbox() as kakao:
        kakao.add_template(
            "SHIPPED_01", "#{name}님, 주문하신 상품이 발송되었습니다. 송장번호: #{invoice}", name="배송 안내"
        )
        kakao.add_template("COUPON_02", "#{name}님께 쿠폰이 도착했어요.", status="TSC02", name="쿠폰 안내")
        kakao.add_template("HELLO_03", "가입을 환영합니다.", status="TSC01", name="가입 환영")
        kakao.add_template("OLD_04", "<b>이벤트</b> 안내 #{event}", status="TSC04", name="이벤트")
        plugin = KakaoPlugin()
        async with running_bridge(tmp_path, {"kakao": plugin}, {"alimtalk": integration(kakao)}) as server:
            await server.wait_for(lambda: len(plugin.store.templates("alimtalk")) == 4)  # read at start
            await sign_up(server, "관리자 김", EMAIL, permissions=(ADMIN,), operator=True)
            async with watched_page(browser) as (page, problems):
                yield Site(server, kakao, page, problems)


async def test_an_admin_sees_the_templates_review_states_and_syncs_them(site: Site) -> None:
    page, url, kakao = site.page, site.server.url, site.sandbox
    await sign_in(page, url, EMAIL)
    await page.goto(f"{url}/admin/managers")
    await page.get_by_role("link", name="Alimtalk templates").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Alimtalk templates")

    section = page.get_by_role("region", name="alimtalk")
    rows = section.locator("tbody tr")
    await expect(rows).to_have_count(4)
    shipped = section.locator("tr[data-code='SHIPPED_01']")
    await expect(shipped.locator(".state")).to_have_text("Approved")
    await expect(shipped.locator(".variables")).to_have_text("#{name} #{invoice}")
    await expect(shipped.locator(".sendable")).to_have_text("Yes")
    await expect(shipped.locator(".name")).to_have_text("배송 안내")
    coupon = section.locator("tr[data-code='COUPON_02']")
    await expect(coupon.locator(".state")).to_have_text("In review")
    await expect(coupon.locator(".sendable")).to_have_text("No")
    await expect(section.locator("tr[data-code='HELLO_03'] .state")).to_have_text("Requested")
    await expect(section.locator("tr[data-code='HELLO_03'] .variables")).to_have_text("None")
    old = section.locator("tr[data-code='OLD_04']")
    await expect(old.locator(".state")).to_have_text("Rejected")
    await expect(old.locator(".content")).to_have_text("<b>이벤트</b> 안내 #{event}")  # text, not markup

    # Kakao approves the coupon; the welcome template is deleted at NHN. Sync shows both.
    kakao.templates["COUPON_02"].status = "TSC03"
    del kakao.templates["HELLO_03"]
    await section.get_by_role("button", name="Sync with NHN").click()
    await expect(section.get_by_role("status")).to_contain_text("Synced at")
    await expect(coupon.locator(".state")).to_have_text("Approved")
    await expect(coupon.locator(".sendable")).to_have_text("Yes")
    await expect(section.locator("tr[data-code='HELLO_03'] .state")).to_have_text("Deleted")

    # In Korean.
    await page.get_by_role("link", name="한국어").click()
    await expect(page).to_have_url(f"{url}/admin/kakao_templates")
    section = page.get_by_role("region", name="alimtalk")
    await expect(page.get_by_role("heading", level=1)).to_have_text("알림톡 템플릿")
    await expect(section.locator("tr[data-code='COUPON_02'] .state")).to_have_text("승인")
    await expect(section.locator("tr[data-code='OLD_04'] .state")).to_have_text("반려")
    assert site.problems == []


async def test_an_admin_without_the_operator_seat_reads_the_list_but_cannot_sync(
    site: Site, browser: Browser
) -> None:
    email = "viewer@example.co.kr"
    await sign_up(site.server, "관리자 박", email, permissions=(ADMIN,))
    url = site.server.url
    async with watched_page(browser) as (page, problems):
        await sign_in(page, url, email)
        await page.goto(f"{url}/admin/kakao_templates")
        section = page.get_by_role("region", name="alimtalk")
        await expect(section.locator("tbody tr")).to_have_count(4)
        site.sandbox.templates["COUPON_02"].status = "TSC03"
        await section.get_by_role("button", name="Sync with NHN").click()
        await expect(section.get_by_role("alert")).to_have_text(NO_SEAT)
        await expect(section.locator("tr[data-code='COUPON_02'] .state")).to_have_text("In review")
        assert problems == []
