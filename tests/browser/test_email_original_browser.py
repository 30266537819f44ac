"""An email's original in a real Chromium against a real bridgekit with the email plugin: the
mail arrives over SMTP (the plugin's aiosmtpd listener), the manager opens its original, and
neither its script nor its tracking pixel reaches the outside until the manager asks for
remote images, which loads the pixel and still runs no script. A refusal of the API reads in
the manager's language. Every step waits on the page or on the recorder, never on a sleep."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest_asyncio
from aiohttp import web
from bridgekit_email_forward.plugin import EmailForwardPlugin
from bridgekit_email_forward.sandbox import SmtpSink, forward_mail
from playwright.async_api import Browser, Page, expect
from sqlalchemy import update

from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from tests.browser.conftest import (
    SIGN_IN_WORDS_KO,
    fill_sign_in,
    operator_desk,
    take_the_seat,
)

ADDRESS = "acme@in.bridgekit.test"
CUSTOMER = "이서연 <seoyeon@example.com>"
SUBJECT = "[주문문의] 똠양꿍 밀키트 배송 문의"
PIXEL = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"  # noqa: E501


class Recorder:
    """An outside web server that notes every request: the tracking pixel and anything a
    script in the mail would call."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def record(request: web.Request) -> web.Response:
            self.hits.append(request.path_qs)
            if request.path == "/pixel.gif":
                return web.Response(body=PIXEL, content_type="image/gif")
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def scripts(self) -> list[str]:
        return [hit for hit in self.hits if hit.startswith("/script")]


def the_mail(outside: str) -> bytes:
    """A customer's HTML mail with a script, an event handler, a javascript: link (each would
    call the recorder, or retitle the inbox) and a remote tracking pixel."""
    mail = EmailMessage()
    mail["From"] = CUSTOMER
    mail["To"] = "support@acme.example"
    mail["Subject"] = SUBJECT
    mail["Message-ID"] = "<original-1@example.com>"
    mail.set_content("주문한 밀키트가 아직 안 왔어요.")
    mail.add_alternative(
        f"""<html><head>
<script>
fetch("{outside}/script?via=head");
document.title = "pwned";
top.document.title = "pwned";
</script>
</head><body>
<h1 style="color:#c53030">주문 확인 요청</h1>
<table border="1"><tr><td>상품</td><td>똠양꿍 밀키트</td></tr></table>
<p>주문한 밀키트가 아직 안 왔어요.</p>
<img src="{outside}/pixel.gif" alt="tracker" width="1" height="1">
<img src="data:," onerror="fetch('{outside}/script?via=onerror')">
<a href="javascript:fetch('{outside}/script?via=link')">자세히</a>
<script>fetch("{outside}/script?via=body")</script>
</body></html>""",
        subtype="html",
        cte="8bit",  # the source shows the markup as it is
    )
    return mail.as_bytes()


@dataclass
class Inbox:
    server: RunningBridge
    plugin: EmailForwardPlugin
    outside: Recorder
    page: Page
    manager_id: int
    problems: list[str]

    async def customer_mails(self) -> None:
        port = self.plugin.smtp.port_for(ADDRESS)
        raw = the_mail(self.outside.url)
        await forward_mail(raw, host="127.0.0.1", port=port, mail_from="seoyeon@example.com", rcpt_to=ADDRESS)

    async def sign_in(self) -> None:
        await fill_sign_in(self.page)


@pytest_asyncio.fixture
async def inbox(browser: Browser, tmp_path: Path) -> AsyncIterator[Inbox]:
    relay, outside = SmtpSink(), Recorder()
    await relay.start()
    await outside.start()
    plugin = EmailForwardPlugin()
    integration = {
        "channel": "email",
        "settings": {
            "address": ADDRESS,
            "smtp_host": "127.0.0.1",
            "smtp_port": 0,
            "relay_host": "127.0.0.1",
            "relay_port": relay.port,
            "relay_tls": "none",
            "default_from": "ACME 고객센터 <support@bridgekit.test>",
        },
    }
    try:
        async with operator_desk(browser, tmp_path, {"email_forward": plugin}, {"acme": integration}) as desk:
            yield Inbox(desk.server, plugin, outside, desk.page, desk.manager_id, desk.problems)
    finally:
        await outside.stop()
        await relay.stop()


async def test_the_original_runs_no_script_and_loads_remote_images_only_when_asked(inbox: Inbox) -> None:
    page, outside = inbox.page, inbox.outside
    await page.goto(f"{inbox.server.url}/sign-in")
    await inbox.sign_in()
    await expect(page.locator("#live")).to_have_text("live")

    await inbox.customer_mails()  # over SMTP, as a forwarding mailbox sends it
    row = page.locator("#chats li.chat")
    await expect(row.locator(".mark")).to_have_text("email")
    await row.locator("a").click()
    message = page.locator("#messages .msg-customer")
    await expect(message.locator(".text")).to_have_text("주문한 밀키트가 아직 안 왔어요.")

    await message.get_by_role("button", name="Show original").click()
    frame_element = message.locator("iframe.original-frame")
    await expect(frame_element).to_have_attribute("sandbox", "allow-popups allow-popups-to-escape-sandbox")
    original = message.frame_locator("iframe.original-frame")
    await expect(original.locator("h1")).to_have_text("주문 확인 요청")  # the mail as written
    await expect(original.locator("td")).to_have_text(["상품", "똠양꿍 밀키트"])  # tables kept
    await expect(original.locator("h1")).to_have_css("color", "rgb(197, 48, 48)")  # and its styles
    await expect(original.locator("a")).to_have_text("자세히")
    await original.locator("a").click()  # a javascript: link would call out now

    # The frame has drawn the whole mail: its script would have run, its pixel been fetched.
    assert outside.hits == []
    await expect(page).to_have_title("Inbox · bridgekit")
    assert await page.evaluate("document.title") == "Inbox · bridgekit"

    # The manager's consent: the pixel loads. Scripts still do not run.
    await message.get_by_role("button", name="Show remote images").click()
    await expect(message.locator(".original-remote-shown")).to_have_text("Remote images shown")
    await expect(original.locator("h1")).to_have_text("주문 확인 요청")
    await inbox.server.wait_for(lambda: "/pixel.gif" in outside.hits)
    assert outside.scripts() == []  # the pixel came after the head's script would have
    await expect(page).to_have_title("Inbox · bridgekit")

    # The source: the mail's bytes as text, its script shown, not run.
    await message.get_by_role("button", name="Source").click()
    source = message.frame_locator("iframe.original-frame")
    await expect(source.locator("body")).to_contain_text("Message-ID: <original-1@example.com>")
    await expect(source.locator("body")).to_contain_text('fetch("http://127.0.0.1')
    assert outside.scripts() == []

    await message.get_by_role("button", name="Hide original").click()
    await expect(message.locator("iframe")).to_have_count(0)
    assert inbox.problems == []


async def test_the_original_stays_open_while_the_stream_is_redrawn_and_needs_a_session(
    inbox: Inbox, browser: Browser
) -> None:
    page, outside = inbox.page, inbox.outside
    await inbox.customer_mails()
    chat_id = (await inbox.server.chats())[0]["id"]
    await page.goto(f"{inbox.server.url}/chats/{chat_id}")
    await inbox.sign_in()
    message = page.locator("#messages .msg-customer")
    await message.get_by_role("button", name="Show original").click()
    original = message.frame_locator("iframe.original-frame")
    await expect(original.locator("h1")).to_have_text("주문 확인 요청")

    await page.locator("#compose-text").fill("확인해 보겠습니다.")  # redraws the stream
    await page.locator("#compose-text").press("Enter")
    await expect(page.locator("#messages .msg-reply .text")).to_have_text(["확인해 보겠습니다."])
    # the reply left through the relay: its mark at its foot says so, live
    await expect(page.locator("#messages .msg-reply .marks .delivery")).to_have_text("sent")
    await expect(original.locator("h1")).to_have_text("주문 확인 요청")  # still open
    await expect(message.get_by_role("button", name="Hide original")).to_be_visible()
    assert outside.hits == []

    # The route is the API's: another browser without a session gets nothing of the mail.
    stranger = await browser.new_context()
    try:
        message_id = await message.get_attribute("data-message-id")
        answer = await stranger.request.get(f"{inbox.server.url}/api/v1/email/messages/{message_id}/original")
        assert answer.status == 401
        assert "똠양꿍" not in await answer.text()
    finally:
        await stranger.close()
    assert inbox.problems == []


async def test_a_refusal_reads_in_the_managers_language(inbox: Inbox) -> None:
    page = inbox.page
    await inbox.customer_mails()
    chat_id = (await inbox.server.chats())[0]["id"]
    await page.goto(f"{inbox.server.url}/lang/ko?next=/chats/{chat_id}")
    await fill_sign_in(page, words=SIGN_IN_WORDS_KO)
    message = page.locator("#messages .msg-customer")
    await expect(message.get_by_role("button", name="원본 보기")).to_be_visible()

    await take_the_seat(inbox.server, inbox.manager_id)  # an administrator takes the seat away
    await page.get_by_role("button", name="닫기").click()
    await expect(page.locator("#action-error")).to_have_text(
        "오퍼레이터 시트가 켜져 있어야 할 수 있어요. 관리자에게 요청해 주세요."
    )
    async with inbox.server.bridge.db.write() as conn:
        await conn.execute(
            update(s.managers).where(s.managers.c.id == inbox.manager_id).values(operator=True)
        )

    # Refusals without a control on this screen yet, through the page's own api.js: the
    # catalogue's words for codes it knows, the API's English for one it does not.
    refusals = await page.evaluate(
        """async (chatId) => {
            const { api } = await import("/static/api.js");
            const refused = async (method, path, body) => {
                try { await api(method, path, body); return "accepted"; }
                catch (e) { return [e.code, e.message]; }
            };
            const tags = ["1", "2", "3", "4", "5", "6", "7", "8", "9"];
            const far = new Date(Date.now() + 200 * 86400 * 1000).toISOString();
            return [
                await refused("PUT", `/chats/${chatId}/tags`, { tags }),
                await refused("POST", `/chats/${chatId}/snooze`, { until: far }),
                await refused("POST", `/chats/${chatId}/close`),
                await refused("POST", `/chats/${chatId}/reopen`),
                await refused("DELETE", `/chats/${chatId}`),
                await refused("POST", "/chats", { integration: "nope", text: "hi" }),
            ];
        }""",
        chat_id,
    )
    assert refusals == [
        ["too_many_tags", "채팅 하나에 태그는 최대 8개까지 붙일 수 있어요. 먼저 하나를 지워 주세요."],
        ["snooze_too_far", "채팅은 최대 180일까지 보류할 수 있어요."],
        "accepted",
        [
            "chat_closed",
            "종료된 Email 채팅은 다시 열 수 없어요. 고객이 다음 메시지를 보내면 새 채팅이 시작돼요.",
        ],
        ["permission", "delete_chats 권한이 있어야 할 수 있어요."],
        [None, "no integration named 'nope'"],
    ]
    assert inbox.problems == []
