"""The inbox screen in a real Chromium against a real bridgekit with the LINE plugin and its
sandbox: a customer's message shows up live, the manager opens it, replies (the reply reaches
LINE), writes a note, and sees a refusal next to the composer; a chat's manager link opens the
chat after signing in. Every step waits on the page, never on a sleep."""

from __future__ import annotations

from playwright.async_api import expect

from bridgekit.testing.images import png_from_rows
from tests.browser.conftest import CUSTOMER, EMAIL, HELP, NAME, PASSWORD, Inbox, take_the_seat


async def test_a_customer_message_arrives_live_and_the_manager_replies_notes_and_sees_refusals(
    inbox: Inbox,
) -> None:
    page, line = inbox.page, inbox.line
    await page.goto(f"{inbox.server.url}/sign-in")
    await inbox.sign_in()
    await expect(page.locator("#manager-name")).to_have_text(NAME)
    await expect(page.locator("#views li[data-view='integration:acme'] .mark")).to_have_text("LINE")
    await expect(page.locator("#live")).to_have_text("live")  # the event stream is open
    await expect(page.locator("#chats li")).to_have_count(0)

    user = line.add_user(CUSTOMER)
    await inbox.customer_writes(user, "주문한 상품이 아직 안 왔어요")
    row = page.locator("#chats li.chat")
    await expect(row).to_have_count(1)  # no reload: the stream told the page
    await expect(row.locator(".title")).to_have_text(CUSTOMER)
    await expect(row.locator(".preview")).to_have_text("주문한 상품이 아직 안 왔어요")
    await expect(row.locator(".mark")).to_have_text("LINE")
    await expect(row).to_have_class("chat unread")
    await expect(page.locator("#views li[data-view='all'] .count")).to_have_text("1")

    await row.locator("a").click()
    chat_id = (await inbox.server.chats())[0]["id"]
    await expect(page).to_have_url(f"{inbox.server.url}/chats/{chat_id}")
    await expect(page.locator("#chat-title")).to_have_text(CUSTOMER)
    await expect(row).to_have_class("chat open")  # read now: the unread mark is gone
    await expect(page.locator("#views li[data-view='unread'] .count")).to_have_text("0")
    await expect(page.locator("#messages .msg-customer .text")).to_have_text(["주문한 상품이 아직 안 왔어요"])

    composer = page.locator("#compose-text")
    await composer.fill("확인해 보겠습니다.")
    await composer.press("Shift+Enter")  # a new line, not a send
    await composer.press_sequentially("잠시만요!")
    await composer.press("Enter")
    await expect(page.locator("#messages .msg-reply .text")).to_have_text(["확인해 보겠습니다.\n잠시만요!"])
    await expect(composer).to_have_value("")
    await inbox.server.wait_for(
        lambda: [m.text for m in line.messages_to(user)] == ["확인해 보겠습니다.\n잠시만요!"]
    )

    await page.get_by_label("Note").check()
    await composer.fill("환불 가능 여부 확인 필요 <b>not bold</b>")
    await composer.press("Enter")
    note = page.locator("#messages .msg-note")
    await expect(note.locator(".text")).to_have_text("환불 가능 여부 확인 필요 <b>not bold</b>")
    await expect(note.locator(".author")).to_contain_text("note")
    await expect(note.locator("b")).to_have_count(0)  # text, never markup

    await page.get_by_label("Reply").check()
    await composer.fill("😀" * 12_501)  # 25,002 UTF-16 units: over LINE's limit
    await composer.press("Enter")
    await expect(page.locator("#compose-error")).to_have_text(
        "LINE takes at most 25000 characters (UTF-16 code units: an emoji counts 2) per message; "
        "this text is 25002"
    )
    await expect(composer).to_have_value("😀" * 12_501)  # nothing lost to the refusal

    await inbox.customer_writes(user, "네 감사합니다")  # the open chat follows the stream
    await expect(page.locator("#messages .msg-customer .text")).to_have_text(
        ["주문한 상품이 아직 안 왔어요", "네 감사합니다"]
    )
    await expect(row.locator(".preview")).to_have_text("네 감사합니다")
    await expect(row).to_have_class("chat open")  # read where it arrived: not unread
    assert [m.text for m in line.messages_to(user)] == [
        "확인해 보겠습니다.\n잠시만요!"
    ]  # the note stayed home
    assert inbox.problems == []


async def test_a_chats_manager_link_opens_the_chat_after_signing_in_and_actions_show_refusals(
    inbox: Inbox,
) -> None:
    page = inbox.page
    await inbox.customer_writes(inbox.line.add_user(CUSTOMER), "hello")
    chat_id = (await inbox.server.chats())[0]["id"]
    links = await inbox.server.api("GET", f"/chats/{chat_id}/links")

    await page.goto(links["manager_link"])
    await expect(page).to_have_url(f"{inbox.server.url}/sign-in?next=/chats/{chat_id}")
    await inbox.sign_in()
    await expect(page).to_have_url(f"{inbox.server.url}/chats/{chat_id}")
    await expect(page.locator("#messages .msg-customer .text")).to_have_text(["hello"])

    await page.get_by_role("button", name="☆ Star").click()
    await expect(page.locator("#act-star")).to_have_text("★ Starred")
    await expect(page.locator("#views li[data-view='favourites'] .count")).to_have_text("1")
    await page.get_by_role("button", name="Assign to me").click()
    await expect(page.locator("#chat-state")).to_contain_text(NAME)
    await page.get_by_role("button", name="Close").click()
    await expect(page.locator("#chat-state")).to_contain_text("closed")
    await expect(page.locator("#act-reopen")).to_be_visible()

    await take_the_seat(inbox.server, inbox.manager_id)  # an administrator takes the seat away
    await page.get_by_role("button", name="Reopen").click()
    await expect(page.locator("#action-error")).to_have_text(
        "This needs the operator seat. Ask an administrator to give you one."
    )
    await expect(page.locator("#chat-state")).to_contain_text("closed")
    assert inbox.problems == []


def _png(width: int, height: int) -> bytes:
    """A real (grey) PNG, so the browser can draw the preview."""
    return png_from_rows([b"\x80" * width] * height)


async def test_attachments_are_download_links_and_images_are_previewed(inbox: Inbox) -> None:
    page, line = inbox.page, inbox.line
    user = line.add_user(CUSTOMER)
    await inbox.post(line.webhooks.image(user, _png(40, 30), "image/png"))
    await inbox.post(line.webhooks.file(user, b"%PDF-1.4 invoice", "청구서.pdf"))
    chat_id = (await inbox.server.chats())[0]["id"]
    await page.goto(f"{inbox.server.url}/chats/{chat_id}")
    await inbox.sign_in()
    files = page.locator("#messages a.file")
    await expect(files).to_have_count(2)
    await expect(files.nth(1).locator(".filename")).to_have_text("청구서.pdf")
    assert await files.nth(1).get_attribute("download") == "청구서.pdf"
    preview = files.nth(0).locator("img.preview")
    await expect(preview).to_have_count(1)
    await page.wait_for_function(
        "img => img.complete && img.naturalWidth === 40", arg=await preview.element_handle()
    )
    await expect(files.nth(1).locator("img")).to_have_count(0)  # only images are previewed
    assert inbox.problems == []


async def test_the_list_pages_as_it_scrolls_sorts_and_searches(inbox: Inbox) -> None:
    page, line = inbox.page, inbox.line
    users = [line.add_user(f"Customer {n:02d}") for n in range(35)]
    for user in users:  # one delivery each: each chat's last message is later than the one before
        await inbox.customer_writes(user, f"question from {user[-4:]}")
    await page.goto(f"{inbox.server.url}/sign-in")
    await inbox.sign_in()
    titles = page.locator("#chats li.chat .title")
    await expect(titles).to_have_count(30)  # one page
    await expect(titles.first).to_have_text("Customer 34")  # latest message first
    await page.locator("#more").scroll_into_view_if_needed()
    await expect(titles).to_have_count(35)  # the next page, loaded as the list scrolled
    await expect(page.locator("#more")).to_be_hidden()

    await page.get_by_label("Sort").select_option("oldest")
    await expect(titles.first).to_have_text("Customer 00")
    await page.get_by_label("Search chats").fill("Customer 07")
    await expect(titles).to_have_text(["Customer 07"])
    await page.locator("#views li[data-view='mine']").click()
    await expect(titles).to_have_count(0)
    assert inbox.problems == []


async def test_a_bots_answer_is_drawn_apart_from_the_customer_and_the_managers(inbox: Inbox) -> None:
    page, line = inbox.page, inbox.line
    user = line.add_user(CUSTOMER)
    await inbox.customer_writes(user, HELP)
    await inbox.server.wait_for(lambda: [m.text for m in line.messages_to(user)] == ["무엇을 도와드릴까요?"])
    chat_id = (await inbox.server.chats())[0]["id"]
    await page.goto(f"{inbox.server.url}/chats/{chat_id}")
    await inbox.sign_in()
    await expect(page.locator("#messages .msg-customer .text")).to_have_text([HELP])
    bot = page.locator("#messages .msg-reply.by-bot")
    await expect(bot.locator(".text")).to_have_text("무엇을 도와드릴까요?")
    await expect(page.locator("#messages .msg-reply.by-manager")).to_have_count(0)
    assert inbox.problems == []


async def test_switching_to_korean_shows_the_inbox_in_korean(inbox: Inbox) -> None:
    page = inbox.page
    user = inbox.line.add_user(CUSTOMER)
    await inbox.customer_writes(user, "안녕하세요")
    await page.goto(f"{inbox.server.url}/sign-in")
    await page.get_by_role("link", name="日本語").click()  # on the sign-in page first
    await expect(page.locator("html")).to_have_attribute("lang", "ja")
    await expect(page.locator("h1")).to_have_text("bridgekitにログイン")
    await page.get_by_label("メールアドレス").fill(EMAIL)
    await page.get_by_label("パスワード").fill(PASSWORD)
    await page.get_by_role("button", name="ログイン").click()
    await expect(page.locator("#live")).to_have_text("ライブ")

    await page.locator("header.top").get_by_role("link", name="한국어").click()
    await expect(page.locator("html")).to_have_attribute("lang", "ko")
    await expect(page.locator("#live")).to_have_text("실시간")
    await expect(page.locator("#views li[data-view='all'] .name")).to_have_text("진행 중인 전체")
    await expect(page.locator("#views li[data-view='unread'] .name")).to_have_text("읽지 않음")
    await expect(page.locator("#sort option:checked")).to_have_text("최근 메시지순")
    await expect(page.locator("#search")).to_have_attribute("placeholder", "채팅 검색")
    await expect(page.locator("#placeholder")).to_have_text("목록에서 채팅을 선택하세요.")
    await expect(page.get_by_role("button", name="로그아웃")).to_be_visible()

    await page.locator("#chats li.chat a").click()
    await expect(page.locator("#messages .msg-customer .text")).to_have_text(["안녕하세요"])
    await expect(page.locator("#messages .msg-customer .author")).to_have_text(CUSTOMER)
    await expect(page.get_by_role("button", name="닫기")).to_be_visible()
    await expect(page.get_by_role("button", name="☆ 즐겨찾기")).to_be_visible()
    await expect(page.get_by_label("답장")).to_be_checked()
    await page.get_by_label("메모").check()
    await expect(page.locator("#compose-text")).to_have_attribute(
        "placeholder", "팀을 위한 메모입니다. 고객에게는 보이지 않습니다"
    )
    await page.get_by_role("button", name="나에게 배정").click()
    await expect(page.locator("#chat-state")).to_have_text(f"진행 중 · {NAME}")
    # the time is drawn by Intl in Korean, in the browser's time zone
    stamp = await page.locator("#messages .msg-customer time").get_attribute("datetime")
    assert stamp
    korean_time = (
        '(iso) => new Intl.DateTimeFormat("ko", {hour: "2-digit", minute: "2-digit"}).format(new Date(iso))'
    )
    expected = await page.evaluate(korean_time, stamp)
    await expect(page.locator("#messages .msg-customer time")).to_have_text(expected)
    assert any("\uac00" <= ch <= "\ud7a3" for ch in expected)  # 오전/오후: Korean, not "AM"
    await page.get_by_role("link", name="English").click()
    chat_id = (await inbox.server.chats())[0]["id"]
    await expect(page).to_have_url(f"{inbox.server.url}/chats/{chat_id}")  # back to the open chat
    await expect(page.locator("#views li[data-view='all'] .name")).to_have_text("All open")
    await expect(page.get_by_role("button", name="Close")).to_be_visible()
    assert inbox.problems == []
