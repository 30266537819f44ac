"""A manager in a real Chromium (Debian's ``chromium``) answers a KakaoTalk consultation:
the chat is listed with the Kakao mark, a reply reaches the reseller sandbox, and a reply
after the customer's session expired is refused in the manager's language, with nothing
sent. Waits on the page, never on sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest_asyncio
from bridgekit_kakao.consult_sandbox import ConsultSandbox, integration
from bridgekit_kakao.plugin import KakaoPlugin
from playwright.async_api import Browser, expect

from bridgekit.testing.harness import RunningBridge
from tests.browser.conftest import SIGN_IN_WORDS_KO, fill_sign_in, running_bridge, sign_up, watched_page

EMAIL = "sujin@example.com"
EXPIRED_KO = (
    "고객의 카카오톡 상담 세션이 만료되었습니다(고객의 마지막 메시지 후 30일). "
    "고객이 다시 메시지를 보내면 답변할 수 있습니다."
)


@pytest_asyncio.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[RunningBridge, ConsultSandbox]]:
    async with (
        ConsultSandbox() as reseller,
        running_bridge(tmp_path, {"kakao": KakaoPlugin()}, {"consult": integration(reseller)}) as server,
    ):
        await sign_up(server, "이수진", EMAIL, operator=True)
        yield server, reseller


async def test_a_manager_answers_in_session_and_is_told_in_korean_when_it_expired(
    browser: Browser,
    served: tuple[RunningBridge, ConsultSandbox],
) -> None:
    server, reseller = served
    hook = f"{server.url}/hooks/consult"
    long_ago = int((datetime.now(UTC) - timedelta(days=31)).timestamp() * 1000)
    assert await reseller.customer_says(hook, "uk-old", "예전 문의입니다", at_ms=long_ago) == 200
    assert await reseller.customer_says(hook, "uk-new", "지금 문의합니다") == 200
    await server.wait_for(lambda: _two(server))
    by_text = {}
    for chat in await server.chats():
        by_text[(await server.messages(chat["id"]))[0]["text"]] = chat["id"]

    async with watched_page(browser) as (page, problems):
        await page.goto(f"{server.url}/lang/ko?next=/chats/{by_text['지금 문의합니다']}")
        await fill_sign_in(page, EMAIL, words=SIGN_IN_WORDS_KO)
        await expect(page.locator("#live")).to_have_attribute("data-state", "live")
        await expect(page.locator("#chats .mark")).to_have_text(["kakao", "kakao"])  # I9
        await expect(page.locator("#chat-mark")).to_have_text("kakao")

        composer = page.locator("#compose-text")
        await composer.fill("안녕하세요, 도와드리겠습니다")
        await composer.press("Enter")
        await expect(page.locator("#messages .msg-reply .text")).to_have_text(
            ["안녕하세요, 도와드리겠습니다"]
        )
        await server.wait_for(lambda: [m.text for m in reseller.sent] == ["안녕하세요, 도와드리겠습니다"])

        await page.goto(f"{server.url}/chats/{by_text['예전 문의입니다']}")
        await composer.fill("늦어서 죄송합니다")
        await composer.press("Enter")
        await expect(page.locator("#compose-error")).to_have_text(EXPIRED_KO)
        await expect(page.locator("#messages .msg-reply")).to_have_count(0)
        assert [m.text for m in reseller.sent] == ["안녕하세요, 도와드리겠습니다"]
        assert problems == []


async def _two(server: RunningBridge) -> bool:
    return len(await server.chats()) == 2
