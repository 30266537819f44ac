"""The inbox as a new team sees it, in English and in Korean: customers writing in Korean,
Japanese and English over LINE, tags, a reply and a note. The screenshots it takes are
the README's (``scripts/screenshots`` writes them to docs/screenshots/); elsewhere they go to
the test's own folder. Either way the test checks the screens a person would look at."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import expect

from tests.browser.conftest import Inbox

WHERE = "BRIDGEKIT_SCREENSHOTS"  # a folder to keep the screenshots in (docs/screenshots)
SIZE = {"width": 1440, "height": 900}
PNG = b"\x89PNG\r\n\x1a\n"

CUSTOMERS = (
    ("이서연", "주문한 상품이 아직 안 왔어요. 배송 조회 부탁드려요."),
    ("山田太郎", "注文した商品のサイズを交換できますか。"),
    ("Ann Lee", "Hi! Can I still change the delivery address of order #1042?"),
    ("박서준", "쿠폰 코드가 적용이 안 돼요."),
    ("佐藤花子", "領収書を発行していただけますか。"),
)


def _folder(tmp_path: Path) -> Path:
    folder = Path(os.environ.get(WHERE) or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def test_the_inbox_screens_in_english_and_korean(inbox: Inbox, tmp_path: Path) -> None:
    page, server = inbox.page, inbox.server
    users = [inbox.line.add_user(name) for name, _ in CUSTOMERS]
    for user, (_, text) in zip(users, CUSTOMERS, strict=True):
        await inbox.customer_writes(user, text)

    await page.set_viewport_size(SIZE)
    await page.goto(f"{server.url}/sign-in")
    await inbox.sign_in()
    await expect(page.locator("#live")).to_have_text("live")
    await expect(page.locator("#chats li.chat")).to_have_count(len(CUSTOMERS))

    await page.locator("#chats li.chat", has_text="이서연").locator("a").click()
    await expect(page.locator("#messages .msg-customer .text")).to_have_text([CUSTOMERS[0][1]])
    await page.locator("#compose-text").fill("확인해 보니 내일 도착 예정입니다. 조금만 기다려 주세요!")
    await page.keyboard.press("Enter")
    await expect(page.locator("#messages .msg-reply .text")).to_have_count(1)
    await page.get_by_label("Note").check()
    await page.locator("#compose-text").fill("택배사에 확인 완료 — 내일 오전 배송")
    await page.keyboard.press("Enter")
    await expect(page.locator("#messages .msg-note .text")).to_have_count(1)
    for tag in ("배송", "vip"):
        await page.locator("#tag-input").fill(tag)
        await page.locator("#tag-input").press("Enter")
        await expect(page.locator("#info-tags li", has_text=tag)).to_have_count(1)
    await expect(page.locator("#tag-error")).to_be_hidden()
    await expect(page.locator("#views li[data-view='tag:vip'] .count")).to_have_text("1")
    await expect(page.locator("#chat-title")).to_have_text("이서연")

    folder = _folder(tmp_path)
    english = folder / "inbox-en.png"
    await page.screenshot(path=english)

    await page.locator("header.top").get_by_role("link", name="한국어").click()
    await expect(page.locator("html")).to_have_attribute("lang", "ko")
    await expect(page.locator("#views li[data-view='all'] .name")).to_have_text("진행 중인 전체")
    await expect(page.locator("#messages .msg-note .text")).to_have_text(
        ["택배사에 확인 완료 — 내일 오전 배송"]
    )
    await expect(page.locator("#live")).to_have_text("실시간")
    await expect(page.locator("#views li[data-view='tag:vip'] .count")).to_have_text("1")
    korean = folder / "inbox-ko.png"
    await page.screenshot(path=korean)

    for shot in (english, korean):
        data = shot.read_bytes()
        assert data.startswith(PNG)
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (width, height) == (SIZE["width"], SIZE["height"])
    assert inbox.problems == []
