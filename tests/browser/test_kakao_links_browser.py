"""The Kakao links admin page in a real Chromium against a real bridgekit with the Kakao
plugin and its NHN Cloud sandbox: an admin links a channel (the code from the admin phone's
KakaoTalk, a wrong one refused in words), sees a refusal the seed explains, is stopped from
switching off a default channel's service, and deletes a link once it is no longer default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from bridgekit_kakao.plugin import KakaoPlugin
from bridgekit_kakao.sandbox import AlimtalkSandbox, integration
from playwright.async_api import Browser, Dialog, expect

from bridgekit.inbox.managers import ADMIN
from tests.browser.conftest import SandboxPage, running_bridge, sign_in, sign_up, watched_page

EMAIL = "admin@example.co.kr"
PHONE = "01098765432"


Site = SandboxPage[AlimtalkSandbox]


@pytest_asyncio.fixture
async def site(browser: Browser, tmp_path: Path) -> AsyncIterator[Site]:
    async with (
        AlimtalkSandbox() as kakao,
        running_bridge(tmp_path, {"kakao": KakaoPlugin()}, {"alimtalk": integration(kakao)}) as server,
    ):
        await sign_up(server, "관리자 김", EMAIL, permissions=(ADMIN,))
        async with watched_page(browser) as (page, problems):
            yield Site(server, kakao, page, problems)


async def _accept(dialog: Dialog) -> None:
    await dialog.accept()


async def test_an_admin_links_a_kakao_channel_and_unlinks_it_by_the_rules(site: Site) -> None:
    page, url, kakao = site.page, site.server.url, site.sandbox
    kakao.senders.add_channel("@bridgeshop", PHONE)
    kakao.senders.add_channel("@hidden", PHONE, public=False)
    await sign_in(page, url, EMAIL)
    await page.goto(f"{url}/admin/managers")
    await page.get_by_role("link", name="Kakao").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Kakao")
    await expect(page.locator("#kakao-none")).to_be_visible()

    start = page.locator("#kakao-start")
    await expect(start.get_by_label("Business category")).to_contain_text("쇼핑 > 온라인쇼핑몰 > 종합쇼핑몰")
    await start.get_by_label("Kakao channel search ID").fill("@bridgeshop")
    await start.get_by_label("Business category").select_option(label="쇼핑 > 온라인쇼핑몰 > 종합쇼핑몰")
    await start.get_by_label("Admin phone number").fill("010-9876-5432")
    await start.get_by_role("button", name="Send the verification code").click()
    row = page.locator("#kakao-links tbody tr", has_text="@bridgeshop")
    await expect(row.locator(".state")).to_have_text("Waiting for token verification")

    # A wrong code: the row says so in words; the right one links the channel as the default.
    code = kakao.senders.codes_sent[PHONE]
    token = row.get_by_label("Code sent to the admin phone's KakaoTalk")
    await token.fill("1" if code != "1" else "2")
    await row.get_by_role("button", name="Verify").click()
    await expect(row.get_by_role("alert")).to_contain_text(
        "Waiting for token verification: this is not the code"
    )
    await token.fill(code)
    await row.get_by_role("button", name="Verify").click()
    await expect(row.locator(".state")).to_have_text("Linked")
    await expect(row.get_by_label("Show on front home")).to_be_checked()
    await expect(row.get_by_label("Follow-up Alimtalk")).to_be_checked()

    # K8: the default channel keeps its services; the refusal says why, the box stays on.
    await expect(row.get_by_label("Brand message")).not_to_be_checked()  # as chosen when linking
    await row.get_by_label("Alimtalk", exact=True).click()
    await expect(row.get_by_role("alert")).to_contain_text("@bridgeshop is the default Kakao channel")
    await expect(row.get_by_label("Alimtalk", exact=True)).to_be_checked()
    await expect(row.get_by_label("Alimtalk", exact=True)).to_be_enabled()

    # A refusal the seed explains, with its fix.
    await start.get_by_label("Kakao channel search ID").fill("@hidden")
    await start.get_by_label("Admin phone number").fill("010-9876-5432")
    await start.get_by_role("button", name="Send the verification code").click()
    await expect(start.get_by_role("alert")).to_contain_text("switch 'Public channel' on")
    await expect(page.locator("#kakao-links tbody tr")).to_have_count(1)

    # No longer a default: it can be deleted.
    for default in ("Show on front home", "Follow-up Alimtalk"):
        await row.get_by_label(default).uncheck()
        # Drawn again from the server: enabled (not waiting) and off.
        await expect(row.get_by_label(default)).to_be_enabled()
        await expect(row.get_by_label(default)).not_to_be_checked()
    page.once("dialog", _accept)
    await row.get_by_role("button", name="Delete").click()
    await expect(row.locator(".state")).to_have_text("Deleted")
    assert kakao.senders.deleted == [kakao.senders.channels["@bridgeshop"].sender_key]
    assert site.problems == []
