"""What the message stream draws beyond a message's text, in a real Chromium against a real
bridgekit with the LINE sandbox: a note's @mentions highlighted, a reply's link buttons and form
as the customer sees them (then the customer's answers, live), a "download all" control for a
message with several files, and the composer's ":" emoji shortcut."""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import Dialog, Download, expect
from sqlalchemy import update

from bridgekit.inbox.managers import create_manager
from bridgekit.inbox.teams import create_team
from bridgekit.storage import schema as s
from tests.browser.conftest import CUSTOMER, Inbox

JIHOON = "박지훈 (Park Jihoon)"
RETURNS = "아래 버튼에서 반품을 신청해 주세요"


async def open_chat(inbox: Inbox, first_words: str) -> tuple[int, str]:
    """A LINE customer writes; the signed-in manager opens their chat. Its id and the user's."""
    user = inbox.line.add_user(CUSTOMER)
    await inbox.customer_writes(user, first_words)
    chat_id = int((await inbox.server.wait_for(inbox.server.chats))[0]["id"])
    await inbox.page.goto(f"{inbox.server.url}/chats/{chat_id}")
    await inbox.sign_in()
    await expect(inbox.page.locator("#live")).to_have_text("live")
    await expect(inbox.page.locator("#compose-text")).to_be_focused()
    return chat_id, user


async def test_a_notes_mentions_are_highlighted_and_nothing_else_is(inbox: Inbox) -> None:
    page, server = inbox.page, inbox.server
    await create_manager(server.bridge.db, server.bridge.workspace_id, JIHOON, operator=True)
    async with server.bridge.db.write() as conn:
        await create_team(conn, server.bridge.workspace_id, {"name": "VIP care"})
    await open_chat(inbox, "@vip-care 담당자 있나요?")  # a customer's "@" is no mention

    text = f"@{JIHOON} 확인 부탁해요, @vip-care 팀도요. @nobody 는 없고 메일은 jihoon@example.com"
    await page.get_by_label("Note").check()
    composer = page.locator("#compose-text")
    await composer.fill(text)
    await composer.press("Enter")
    note = page.locator("#messages .msg-note")
    await expect(note.locator(".text")).to_have_text(text)  # every character still there
    mentions = note.locator(".mention")
    await expect(mentions).to_have_text([f"@{JIHOON}", "@vip-care"])
    await expect(mentions.nth(0)).to_have_class("mention mention-manager")
    await expect(mentions.nth(1)).to_have_class("mention mention-team")
    await expect(mentions.nth(1)).to_have_attribute("title", "Mentioned team")
    await expect(page.locator("#messages .msg-customer .mention")).to_have_count(0)
    assert inbox.problems == []


async def test_a_replys_link_buttons_and_form_are_drawn_and_the_answers_arrive_live(inbox: Inbox) -> None:
    page, server = inbox.page, inbox.server
    chat_id, _ = await open_chat(inbox, "반품하고 싶어요")
    returns = "https://shop.example.com/returns?order=7&lang=ko"
    with pytest.raises(AssertionError, match="button 1 needs an http\\(s\\) URL"):  # 400
        await server.api(
            "POST",
            f"/chats/{chat_id}/messages",
            json={"text": RETURNS, "buttons": [{"text": "반품", "url": "javascript:alert(1)"}]},
        )
    reply = await server.api(
        "POST",
        f"/chats/{chat_id}/messages",
        json={
            "text": RETURNS,
            "buttons": [
                {"text": "반품 신청", "url": returns, "colour": "green"},
                {"text": "자주 묻는 질문", "url": "http://faq.example.com/", "colour": "#805ad5"},
            ],
            "form": {
                "fields": [
                    {"key": "order_no", "label": "주문 번호", "type": "number", "required": True},
                    {"key": "email", "label": "연락받을 이메일", "type": "email"},
                ]
            },
        },
    )
    message = page.locator("#messages .msg-reply")
    await expect(message.locator(".text")).to_have_text([RETURNS])  # live, from the stream
    button = message.get_by_role("link", name="반품 신청")
    await expect(button).to_have_attribute("href", returns)
    await expect(button).to_have_attribute("target", "_blank")
    await expect(button).to_have_attribute("rel", "noopener noreferrer")
    await expect(button).to_have_class("msg-button colour-green")
    faq = message.get_by_role("link", name="자주 묻는 질문")
    await expect(faq).to_have_attribute("href", "http://faq.example.com/")
    await expect(faq).to_have_css("background-color", "rgb(128, 90, 213)")  # #805ad5, as stored
    form = message.locator(".msg-form")
    await expect(form.locator(".form-title")).to_have_text("Form sent: waiting for the customer's answers")
    await expect(form.locator("dt")).to_have_text(["주문 번호 (required)", "연락받을 이메일"])
    await expect(form.locator("dd")).to_have_text(["no answer", "no answer"])

    # The customer answers through their link: the answers show up in the open chat.
    links = await server.api("GET", f"/chats/{chat_id}/links")
    async with aiohttp.ClientSession() as customer:
        answer = await customer.post(
            f"{links['customer_link']}/forms/{reply['id']}",
            json={"answers": {"order_no": "1234", "email": "seoyeon@example.com"}},
        )
        assert answer.status == 200, await answer.text()
    await expect(form.locator(".form-title")).to_have_text("Form: the customer's answers")
    await expect(form.locator("dd")).to_have_text(["1234", "seoyeon@example.com"])

    # The API refuses a javascript: URL (above); a row that holds one anyway (older or imported
    # data) is drawn as an inert label, never as a link.
    stored = (await server.messages(chat_id))[-1]
    async with server.bridge.db.write() as conn:
        meta = {
            "buttons": [{**stored["buttons"][0], "url": "javascript:alert(document.domain)"}],
            "form": stored["form"],
            "form_answers": stored["form_answers"],
        }
        await conn.execute(update(s.messages).where(s.messages.c.id == reply["id"]).values(meta=meta))
    dialogs: list[Dialog] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog))
    await page.reload()
    inert = page.locator("#messages .msg-reply .msg-button")
    await expect(inert).to_have_text(["반품 신청"])
    await expect(inert).to_have_class("msg-button colour-green inert")
    await expect(page.locator("#messages .msg-reply a.msg-button")).to_have_count(0)
    await inert.click()
    await expect(page).to_have_url(f"{server.url}/chats/{chat_id}")
    assert dialogs == []
    assert inbox.problems == []


async def test_a_message_with_several_files_downloads_them_all_from_one_button(inbox: Inbox) -> None:
    page, server = inbox.page, inbox.server
    chat_id, _ = await open_chat(inbox, "영수증 보내주세요")
    files = {"청구서.pdf": b"%PDF-1.4 invoice", "영수증.txt": "영수증 12,000원".encode()}
    form = aiohttp.FormData()
    form.add_field("payload", '{"kind": "note", "text": "청구서와 영수증"}', content_type="application/json")
    for name, data in files.items():
        form.add_field("file", data, filename=name, content_type="application/octet-stream")
    await server.api("POST", f"/chats/{chat_id}/messages", data=form)
    note = page.locator("#messages .msg-note")
    await expect(note.locator("a.file")).to_have_count(2)
    download_all = note.get_by_role("button", name="Download all (2)")
    await expect(download_all).to_be_hidden()  # seed 003: it appears on hover
    await note.hover()
    await expect(download_all).to_be_visible()

    downloads: list[Download] = []
    page.on("download", lambda download: downloads.append(download))
    await download_all.click()
    await server.wait_for(lambda: len(downloads) == 2)
    got = {}
    for download in downloads:
        path = await download.path()
        got[download.suggested_filename] = path.read_bytes()
    assert got == files
    single = await server.api("GET", f"/chats/{chat_id}/messages")
    assert len([m for m in single if len(m["attachments"]) > 1]) == 1
    await expect(page.get_by_role("button", name="Download all (1)")).to_have_count(0)
    assert inbox.problems == []


async def test_colon_completes_emoji_by_english_korean_and_japanese_words(inbox: Inbox) -> None:
    page, line = inbox.page, inbox.line
    _, user = await open_chat(inbox, "감사합니다")
    composer = page.locator("#compose-text")
    options = page.locator("#compose-complete li")

    await composer.press_sequentially("오전 10:30 ")  # a time is no shortcut
    await expect(page.locator("#compose-complete")).to_be_hidden()
    await composer.fill("")
    await composer.press_sequentially(":s")
    await expect(page.locator("#compose-complete")).to_be_hidden()  # one letter: not yet
    await composer.press_sequentially("mi")
    await expect(options.first.locator(".label")).to_have_text("😄")
    await expect(options.first.locator(".detail")).to_have_text(":smile:")
    await composer.press("Enter")  # picks, does not send
    await expect(composer).to_have_value("😄 ")
    await expect(page.locator("#compose-complete")).to_be_hidden()

    await composer.press_sequentially("문의 :감사")
    await expect(options.first.locator(".label")).to_have_text("🙏")
    await composer.press("Tab")
    await composer.press_sequentially("またね :えがお")
    await expect(options.first.locator(".label")).to_have_text("😄")
    await composer.press("Escape")  # closes the list, keeps the text
    await expect(composer).to_have_value("😄 문의 🙏 またね :えがお")
    await composer.press("Enter")
    await expect(page.locator("#messages .msg-reply .text")).to_have_text(["😄 문의 🙏 またね :えがお"])
    await inbox.server.wait_for(
        lambda: [m.text for m in line.messages_to(user)] == ["😄 문의 🙏 またね :えがお"]
    )
    assert inbox.problems == []
