"""The composer and the notifications in a real Chromium against a real bridgekit served over
HTTPS (LINE downloads a reply's image only from an https URL) with the LINE sandbox: a file
uploads with its progress shown and reaches LINE, a file too big for LINE is refused with
LINE's reason, what is typed while a reply travels is the next message (never wiped), a "#"
macro is picked from its completion list and sent expanded, and a note "@mentioning" a second
manager lights the bell in that manager's own browser, live, whose notification opens the
chat."""

from __future__ import annotations

import asyncio
import os
import re
import ssl
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest_asyncio
from bridgekit_line.plugin import LinePlugin
from bridgekit_line.sandbox import LineSandbox
from playwright.async_api import Browser, Page, Route, expect
from sqlalchemy import select

from bridgekit.inbox.macros import create_macro
from bridgekit.storage import schema as s
from bridgekit.testing.images import png_from_rows
from tests.browser.conftest import (
    People,
    fill_sign_in,
    line_integration,
    running_bridge,
    sign_up,
)

T = TypeVar("T")
CUSTOMER = "이서연"
MINJI = ("김민지 (Kim Minji)", "minji@example.com")
JIHOON = ("박지훈 (Park Jihoon)", "jihoon@example.com")
RETURNS = "아래 버튼에서 신청하실 수 있어요"
DELIVERY_MACRO = "{customer.name}님, 주문하신 상품은 오늘 발송됩니다."


def noisy_png(width: int, height: int) -> bytes:
    """A real greyscale PNG of random pixels, stored uncompressed (it would not compress
    anyway): its size is about ``width * height`` bytes."""
    return png_from_rows([os.urandom(width) for _ in range(height)], level=0)


async def _equal(found: Awaitable[T], expected: T) -> bool:
    return await found == expected


@dataclass
class Setup(People):
    tmp_path: Path

    async def customer_writes(self, user_id: str, text: str) -> int:
        answer = await self.line.webhooks.post(
            f"{self.server.url}/hooks/acme", [self.line.webhooks.text(user_id, text)]
        )
        assert answer.status == 200, answer
        chats = await self.server.wait_for(self.server.chats)
        return int(chats[0]["id"])

    async def manager(self, name: str, email: str) -> int:
        return await sign_up(self.server, name, email, operator=True)

    async def minji_opens_the_chat(self, question: str) -> tuple[str, int, Page]:
        """The customer asks ``question``; Minji (an operator) signs in at its chat. Returns
        the customer's LINE id, the chat's id and Minji's page."""
        user = self.line.add_user(CUSTOMER)
        chat_id = await self.customer_writes(user, question)
        await self.manager(*MINJI)
        return user, chat_id, await self.signed_in(MINJI[1], f"/chats/{chat_id}")

    async def signed_in(self, email: str, path: str = "/") -> Page:
        """A browser of its own (its own cookies) signed in as ``email``, at ``path``."""
        page = await self.page(ignore_https_errors=True)  # the test CA
        await page.goto(f"{self.server.url}{path}")
        await fill_sign_in(page, email)
        await expect(page.locator("#live")).to_have_text("live")
        if path.startswith("/chats/"):  # the chat is open once the composer has the cursor
            await expect(page.locator("#compose-text")).to_be_focused()
        return page


@pytest_asyncio.fixture
async def setup(
    browser: Browser, tmp_path: Path, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> AsyncIterator[Setup]:
    async with (
        LineSandbox(download_media=True, client_ssl=tls[1]) as line,
        running_bridge(tmp_path, {"line": LinePlugin()}, {"acme": line_integration(line)}, tls) as server,
        AsyncExitStack() as pages,
    ):
        yield Setup(server, line, browser, pages, [], tmp_path)


async def test_an_attachment_uploads_with_its_progress_and_reaches_line(setup: Setup) -> None:
    user, _chat_id, page = await setup.minji_opens_the_chat("사진 보내 주실 수 있나요?")
    await expect(page.locator("#chat-title")).to_have_text(CUSTOMER)
    # A slow uplink (250 KB/s), so the 1 MB upload takes long enough to watch it progress.
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 250 * 1024},
    )

    photo = noisy_png(1024, 1024)
    await page.locator("#compose-attach").set_input_files(
        files=[{"name": "상품 사진.png", "mimeType": "image/png", "buffer": photo}]
    )
    chip = page.locator("#compose-files li")
    await expect(chip.locator(".filename")).to_have_text("상품 사진.png")
    await expect(chip.locator(".size")).to_have_text("1 MB")
    composer = page.locator("#compose-text")
    await composer.fill("요청하신 사진입니다")
    await composer.press("Enter")
    status = page.locator("#compose-progress-text")
    await expect(status).to_have_text(re.compile(r"^Uploading… \d+%$"))
    await page.get_by_role("button", name="Cancel upload").click()  # changed their mind
    await expect(page.locator("#compose-error")).to_have_text(
        "The upload was cancelled; nothing was sent. The files are still attached."
    )
    await expect(page.locator("#compose-progress")).to_be_hidden()
    await expect(chip.locator(".filename")).to_have_text("상품 사진.png")
    await expect(composer).to_have_value("요청하신 사진입니다")
    await expect(page.locator("#messages .msg-reply")).to_have_count(0)

    await composer.press("Enter")  # and send it after all
    await expect(status).to_have_text(re.compile(r"^Uploading… ([1-9]|[1-9]\d)%$"))  # under way
    percent = await page.locator("#compose-progress-bar").get_attribute("value")
    assert percent is not None
    assert 0 < float(percent) < 100
    reply = page.locator("#messages .msg-reply")
    await expect(reply.locator(".text")).to_have_text(["요청하신 사진입니다"], timeout=20_000)
    await expect(reply.locator("a.file .filename")).to_have_text("상품 사진.png")
    await expect(page.locator("#compose-progress")).to_be_hidden()
    await expect(chip).to_have_count(0)  # sent: the composer is empty again
    await expect(composer).to_have_value("")

    line = setup.line
    await setup.server.wait_for(lambda: len(line.sent) == 2)
    text, image = line.sent
    assert (text.to, text.text) == (user, "요청하신 사진입니다")
    await setup.server.wait_for(lambda: bool(line.downloads))  # LINE fetches after accepting
    assert line.downloads == {image.message["originalContentUrl"]: photo}  # LINE got the bytes
    await expect(reply.locator(".delivery")).to_have_text("sent")
    assert setup.problems == []


async def test_a_file_too_big_for_line_is_refused_with_lines_reason(setup: Setup) -> None:
    user, _chat_id, page = await setup.minji_opens_the_chat("큰 사진도 되나요?")

    big = setup.tmp_path / "big.png"  # 10.4 MB: LINE sends images of at most 10 MB
    big.write_bytes(noisy_png(3300, 3300))
    await page.locator("#compose-attach").set_input_files(big)  # read by Chromium itself
    await page.locator("#compose-text").fill("원본 사진입니다")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#compose-error")).to_have_text("big.png is too large: the limit is 10 MB.")
    await expect(page.locator("#compose-files .filename")).to_have_text("big.png")  # nothing lost
    await expect(page.locator("#compose-text")).to_have_value("원본 사진입니다")
    await expect(page.locator("#messages .msg-reply")).to_have_count(0)

    await page.get_by_role("button", name="Remove big.png").click()  # without it, it goes
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#messages .msg-reply .text")).to_have_text(["원본 사진입니다"])
    await expect(page.locator("#compose-error")).to_be_hidden()
    await setup.server.wait_for(lambda: [m.text for m in setup.line.messages_to(user)] == ["원본 사진입니다"])
    assert setup.problems == []


async def test_a_hash_macro_is_picked_from_the_list_and_sent_with_the_customers_name(setup: Setup) -> None:
    user = setup.line.add_user(CUSTOMER)
    chat_id = await setup.customer_writes(user, "배송은 언제 되나요?")
    async with setup.server.bridge.db.write() as conn:
        workspace = setup.server.bridge.workspace_id
        await create_macro(conn, workspace, "배송", DELIVERY_MACRO)
        await create_macro(conn, workspace, "refund", "Refunds take 3-5 business days.")
    await setup.manager(*MINJI)
    page = await setup.signed_in(MINJI[1], f"/chats/{chat_id}")

    composer = page.locator("#compose-text")
    await composer.press_sequentially("#")
    options = page.locator("#compose-complete li")
    await expect(options.locator(".label")).to_have_text(["#refund", "#배송"])  # every macro
    await composer.press_sequentially("배")
    await expect(options.locator(".label")).to_have_text(["#배송"])  # narrowed as it is typed
    await expect(options.locator(".detail")).to_have_text(
        "{customer.name}님, 주문하신 상품은 오늘 발송됩니다."
    )
    await composer.press("Enter")  # picks it; it does not send
    await expect(page.locator("#compose-complete")).to_be_hidden()
    await expect(composer).to_have_value("#배송 ")
    await composer.press("Enter")  # sends: the API puts the macro's text in its place
    expanded = "이서연님, 주문하신 상품은 오늘 발송됩니다."
    await expect(page.locator("#messages .msg-reply .text")).to_have_text([expanded])
    await setup.server.wait_for(lambda: [m.text for m in setup.line.messages_to(user)] == [expanded])

    await composer.press_sequentially("환불은 #re")  # a macro inside a sentence, picked by a click
    await page.locator("#compose-complete li", has_text="#refund").click()
    await expect(composer).to_have_value("환불은 #refund ")
    await composer.press("Escape")
    assert setup.problems == []


async def test_what_is_typed_while_a_reply_travels_is_the_next_message_and_not_wiped(setup: Setup) -> None:
    user, _chat_id, page = await setup.minji_opens_the_chat("배송은 언제 되나요?")
    # The server's answer to a send is held back (a slow network): the reply shows already, by
    # the live event, while the composer still waits for that answer.
    released = asyncio.Event()

    async def held_back(route: Route) -> None:
        if route.request.method != "POST":
            await route.continue_()
            return
        response = await route.fetch()
        await released.wait()
        await route.fulfill(response=response)

    await page.route(re.compile(r"/api/v1/chats/\d+/messages$"), held_back)
    composer = page.locator("#compose-text")
    replies = page.locator("#messages .msg-reply .text")
    await composer.fill("오늘 발송됩니다")
    await composer.press("Enter")
    await expect(replies).to_have_text(["오늘 발송됩니다"])
    await expect(composer).to_have_value("")  # it left the composer as it went
    await composer.fill("송장번호는 곧 알려 드릴게요")
    await composer.press("Enter")  # the first one's answer has not come yet
    released.set()
    await expect(replies).to_have_text(["오늘 발송됩니다", "송장번호는 곧 알려 드릴게요"])
    await expect(composer).to_have_value("")
    await setup.server.wait_for(
        lambda: (
            [m.text for m in setup.line.messages_to(user)]
            == ["오늘 발송됩니다", "송장번호는 곧 알려 드릴게요"]
        )
    )
    assert setup.problems == []


async def test_a_note_mentioning_a_manager_lights_their_bell_live_and_opens_the_chat(setup: Setup) -> None:
    user = setup.line.add_user(CUSTOMER)
    chat_id = await setup.customer_writes(user, "환불 받을 수 있나요?")
    await setup.manager(*MINJI)
    jihoon_id = await setup.manager(*JIHOON)
    jihoon = await setup.signed_in(JIHOON[1])  # the second manager, in a browser of their own
    bell = jihoon.locator("#notify-badge")
    await expect(bell).to_be_hidden()  # nothing unread yet

    minji = await setup.signed_in(MINJI[1], f"/chats/{chat_id}")
    await minji.get_by_label("Note").check()
    composer = minji.locator("#compose-text")
    await composer.press_sequentially("@park")  # any word of the name completes it
    options = minji.locator("#compose-complete li")
    await expect(options.locator(".label")).to_have_text([f"@{JIHOON[0]}"])
    await composer.press("Enter")
    await expect(composer).to_have_value(f"@{JIHOON[0]} ")
    await composer.press_sequentially("환불 규정 확인 부탁드려요")
    await composer.press("Enter")
    note = minji.locator("#messages .msg-note .text")
    await expect(note).to_have_text([f"@{JIHOON[0]} 환불 규정 확인 부탁드려요"])

    await expect(bell).to_have_text("1")  # live: no reload in Jihoon's browser
    await expect(jihoon.locator("#notify-button")).to_have_attribute("aria-label", "Notifications: 1 unread")
    await expect(minji.locator("#notify-badge")).to_be_hidden()  # the author is not told
    await jihoon.locator("#notify-button").click()
    item = jihoon.locator("#notify-list li")
    await expect(item).to_have_count(1)
    await expect(item.locator(".what")).to_have_text("You were mentioned")
    await expect(item.locator(".chat")).to_have_text(CUSTOMER)
    await item.click()
    await expect(jihoon).to_have_url(f"{setup.server.url}/chats/{chat_id}")
    await expect(jihoon.locator("#chat-title")).to_have_text(CUSTOMER)
    await expect(jihoon.locator("#messages .msg-note .text")).to_have_text(
        [f"@{JIHOON[0]} 환불 규정 확인 부탁드려요"]
    )
    await expect(bell).to_be_hidden()  # read now
    await expect(jihoon.locator("#notify-panel")).to_be_hidden()
    await jihoon.reload()
    await expect(jihoon.locator("#live")).to_have_text("live")
    await expect(bell).to_be_hidden()  # read on the server, not only on the page

    # Mentioned again while the chat is open on Jihoon's screen: read where it arrives.
    await composer.fill(f"@{JIHOON[0]} 고객님께 안내 완료")
    await composer.press("Enter")
    await expect(jihoon.locator("#messages .msg-note .text")).to_have_count(2)

    async def jihoons_notifications() -> list[tuple[str, bool]]:
        async with setup.server.bridge.db.read() as conn:
            n = s.notifications
            rows = await conn.execute(select(n.c.kind, n.c.read_at).where(n.c.manager_id == jihoon_id))
            return [(row.kind, row.read_at is not None) for row in rows]

    await setup.server.wait_for(
        lambda: _equal(jihoons_notifications(), [("mention", True), ("mention", True)])
    )
    await expect(bell).to_be_hidden()
    assert [m.text for m in setup.line.messages_to(user)] == []  # a note never leaves
    assert setup.problems == []


async def test_a_reply_carries_a_link_button_and_a_form_and_bad_ones_are_refused_with_the_reason(
    setup: Setup,
) -> None:
    _user, chat_id, page = await setup.minji_opens_the_chat("반품 신청은 어디서 하나요?")
    composer = page.locator("#compose-text")
    refusal = page.locator("#compose-error")

    async def add_button(text: str, url: str, colour: str) -> None:
        await page.get_by_role("button", name="+ Link button").click()
        await page.get_by_label("Button text").fill(text)
        await page.get_by_label("Link", exact=True).fill(url)
        await page.get_by_label("Colour").select_option(colour)
        await page.get_by_role("button", name="Add button").click()

    async def add_field(question: str, key: str, kind: str, required: bool) -> None:
        await page.get_by_role("button", name="+ Form field").click()
        await page.get_by_label("Question").fill(question)
        await page.get_by_label("Saved to profile as").fill(key)
        await page.get_by_label("Answer type").select_option(kind)
        await page.get_by_label("required").set_checked(required)
        await page.get_by_role("button", name="Add field").click()

    await add_button("반품 신청", "ftp://shop.example.com/returns", "green")
    buttons = page.locator("#compose-buttons li")
    await expect(buttons.locator(".label")).to_have_text(["반품 신청"])
    await composer.fill(RETURNS)
    await composer.press("Enter")
    await expect(refusal).to_have_text("button 1 needs an http(s) URL")  # the API's reason
    await page.get_by_role("button", name="Remove 반품 신청").click()
    await add_button("반품 신청", "https://shop.example.com/returns", "green")

    await add_field("주문 번호", "주문번호", "number", True)  # a key the profile cannot take
    fields = page.locator("#compose-form-fields li")
    await expect(fields.locator(".type")).to_have_text(["number · required"])
    await composer.press("Enter")
    await expect(refusal).to_have_text("form field 1 needs a key of letters, digits, '_', '.' or '-'")
    await expect(page.locator("#messages .msg-reply")).to_have_count(0)
    await page.get_by_role("button", name="Remove 주문 번호").click()
    await add_field("주문 번호", "order_no", "number", True)
    await page.get_by_role("button", name="+ Form field").click()  # Enter adds, never sends
    await page.get_by_label("Question").fill("연락받을 이메일")
    await page.get_by_label("Saved to profile as").fill("email")
    await page.get_by_label("Answer type").select_option("email")
    await page.get_by_label("Saved to profile as").press("Enter")
    await expect(page.locator("#compose-form-builder")).to_be_hidden()
    await expect(fields.locator(".label")).to_have_text(["주문 번호", "연락받을 이메일"])

    await composer.press("Enter")
    await expect(page.locator("#messages .msg-reply .text")).to_have_text([RETURNS])
    await expect(refusal).to_be_hidden()
    await expect(buttons).to_have_count(0)
    await expect(fields).to_have_count(0)
    (reply,) = [m for m in await setup.server.messages(chat_id) if m["kind"] == "reply"]
    assert reply["buttons"] == [
        {"text": "반품 신청", "url": "https://shop.example.com/returns", "colour": "green"}
    ]
    assert reply["form"] == {
        "fields": [
            {"key": "order_no", "label": "주문 번호", "type": "number", "required": True},
            {"key": "email", "label": "연락받을 이메일", "type": "email", "required": False},
        ]
    }
    await page.get_by_label("Note").check()  # notes carry neither: the tools are not offered
    await expect(page.get_by_role("button", name="+ Link button")).to_be_hidden()
    await expect(page.get_by_role("button", name="+ Form field")).to_be_hidden()
    assert setup.problems == []
