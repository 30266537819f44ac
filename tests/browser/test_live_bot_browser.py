"""A bot's reply shows up in the chat a manager has open, without a reload, as soon as the bot
wrote it: before LINE has taken it (the "sent" update is not what shows it)."""

from __future__ import annotations

from pathlib import Path

from bridgekit_line.plugin import LinePlugin
from bridgekit_line.sandbox import LineSandbox
from playwright.async_api import Browser, expect

from tests.browser.conftest import CUSTOMER, fill_sign_in, line_integration, operator_desk
from tests.support.bots import GreeterBot

GREETING = "Thanks, we will answer soon."  # GreeterBot's words when a chat opens
GOODBYE = "Goodbye."  # and when it closes


async def test_a_bots_reply_appears_in_the_open_chat_before_it_is_sent(
    browser: Browser, tmp_path: Path
) -> None:
    async with LineSandbox() as line:
        # LINE will hold the goodbye for longer than the page's expectations wait, and the
        # plugin waits longer still: no delivery outcome reaches the page meanwhile.
        acme = {**line_integration(line), "settings": line.integration_settings(request_timeout=60)}
        plugins = {"line": LinePlugin(), "greeter": GreeterBot()}
        async with operator_desk(browser, tmp_path, plugins, {"acme": acme}) as desk:
            server, page = desk.server, desk.page
            user = line.add_user(CUSTOMER)
            answer = await line.webhooks.post(
                f"{server.url}/hooks/acme", [line.webhooks.text(user, "안녕하세요")]
            )
            assert answer.status == 200, answer
            await server.wait_for(lambda: [m.text for m in line.messages_to(user)] == [GREETING])
            chat_id = (await server.chats())[0]["id"]
            await page.goto(f"{server.url}/chats/{chat_id}")
            await fill_sign_in(page)
            bot = page.locator("#messages .msg-reply.by-bot .text")
            await expect(bot).to_have_text([GREETING])
            await expect(page.locator("#live")).to_have_text("live")  # the event stream is open

            # Every attempt: the test harness's outbox lease (5 s) runs out and sends it again.
            line.delay_next(30, times=10)
            await server.api("POST", f"/chats/{chat_id}/close")  # another manager closes it
            await expect(bot).to_have_text([GREETING, GOODBYE])  # no reload: the stream told the page
            assert [m.text for m in line.messages_to(user)] == [GREETING]  # not sent yet
            assert desk.problems == []
