"""The admin pages in a real Chromium against a real bridgekit with the LINE sandbox: an admin
invites a manager and the link the page prints lets them set a password and sign in; a seat
given on the page lets that manager assign a chat they were refused a moment before; a macro,
a team and a tag changed on the pages are what the API then answers; a manager without the
permission sees no admin link and a readable refusal at /admin; the usage page shows a month's
charges."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest_asyncio
from bridgekit_line.plugin import LinePlugin
from bridgekit_line.sandbox import LineSandbox
from playwright.async_api import Browser, Dialog, Locator, expect

from bridgekit.inbox.managers import ADMIN
from bridgekit.model import Charge
from tests.browser.conftest import (
    NO_SEAT,
    PASSWORD,
    People,
    line_integration,
    running_bridge,
    sign_in,
    sign_up,
)

ADMIN_NAME = "Yamada Hanako"
ADMIN_EMAIL = "hanako@example.com"
NEWCOMER = "박지훈"
NEWCOMER_EMAIL = "jihoon@example.com"


Site = People


@pytest_asyncio.fixture
async def site(browser: Browser, tmp_path: Path) -> AsyncIterator[Site]:
    async with (
        LineSandbox() as line,
        running_bridge(tmp_path, {"line": LinePlugin()}, {"acme": line_integration(line)}) as server,
        AsyncExitStack() as pages,
    ):
        yield Site(server, line, browser, pages, [])


async def printed_link(place: Locator, url: str) -> str:
    """The set-password link for the newcomer that ``place`` prints, with the page's words."""
    await expect(place.get_by_role("status")).to_have_text(
        f"Send this link to {NEWCOMER}. It sets their password once, then stops working:"
    )
    link = await place.locator(".password-link").text_content()
    assert link is not None
    assert link.startswith(f"{url}/set-password/")
    return link


async def _accept(dialog: Dialog) -> None:
    await dialog.accept()


async def test_an_admin_invites_a_manager_gives_them_a_seat_and_edits_macros_teams_and_tags(
    site: Site,
) -> None:
    server = site.server
    await sign_up(server, ADMIN_NAME, ADMIN_EMAIL, operator=True, permissions=(ADMIN,))
    admin = await site.page()
    await sign_in(admin, server.url, ADMIN_EMAIL)
    await admin.get_by_role("link", name="Admin").click()
    await expect(admin).to_have_url(f"{server.url}/admin/managers")
    await expect(admin.get_by_role("heading", level=1)).to_have_text("Managers")

    # Invite, without the operator seat: the page prints the link once.
    invite = admin.locator("#invite")
    await invite.get_by_label("Name").fill(NEWCOMER)
    await invite.get_by_label("Email").fill(NEWCOMER_EMAIL)
    await invite.get_by_label("Operator seat").uncheck()
    await invite.get_by_role("button", name="Invite").click()
    link = await printed_link(invite, server.url)
    row = admin.locator("#managers tbody tr", has_text=NEWCOMER)
    await expect(row.locator(".email")).to_have_text(NEWCOMER_EMAIL)
    await expect(row.get_by_label("On")).not_to_be_checked()

    # The newcomer follows the printed link, sets a password and signs in: no admin link.
    newcomer = await site.page()
    await newcomer.goto(link)
    await newcomer.get_by_label("New password").fill(PASSWORD)
    await newcomer.get_by_label("Again").fill(PASSWORD)
    await newcomer.get_by_role("button", name="Set password").click()
    await expect(newcomer.get_by_role("status")).to_have_text("Your password is set. Sign in with it.")
    await sign_in(newcomer, server.url, NEWCOMER_EMAIL)
    await expect(newcomer.locator("#manager-name")).to_have_text(NEWCOMER)
    await expect(newcomer.locator("#admin-link")).to_have_count(0)

    # Without a seat their assign is refused; the admin gives the seat; now it is allowed.
    await expect(newcomer.locator("#live")).to_have_text("live")  # the new chat arrives live
    answer = await site.line.webhooks.post(
        f"{server.url}/hooks/acme", [site.line.webhooks.text(site.line.add_user("이서연"), "환불해 주세요")]
    )
    assert answer.status == 200, answer
    await newcomer.locator("#chats li.chat a").click()
    await newcomer.get_by_role("button", name="Assign to me").click()
    await expect(newcomer.locator("#action-error")).to_have_text(NO_SEAT)
    await row.get_by_label("On").check()
    await row.get_by_role("button", name="Save").click()
    await expect(row.get_by_role("status")).to_have_text("Saved.")
    await admin.reload()
    await expect(row.get_by_label("On")).to_be_checked()
    await newcomer.get_by_role("button", name="Assign to me").click()
    await expect(newcomer.locator("#chat-state")).to_contain_text(NEWCOMER)
    await expect(newcomer.locator("#action-error")).to_be_hidden()

    # A new set-password link for them, printed in their row.
    await row.get_by_role("button", name="New set-password link").click()
    again = await printed_link(row, server.url)
    assert again != link

    # A macro made on the page is what the API lists; edited, then deleted.
    await admin.get_by_role("link", name="Macros").click()
    create = admin.locator("#new-macro")
    await create.get_by_label("Shortcut").fill("인사")
    await create.get_by_label("Text").fill("안녕하세요 {customer.name}님")
    await create.get_by_role("button", name="Create").click()
    item = admin.locator("#macros .admin-item[data-macro='인사']")
    await expect(item.get_by_label("Text")).to_have_value("안녕하세요 {customer.name}님")
    macros = await server.api("GET", "/macros")
    assert [(m["shortcut"], m["text"]) for m in macros] == [("인사", "안녕하세요 {customer.name}님")]
    await create.get_by_label("Shortcut").fill("인사")
    await create.get_by_label("Text").fill("again")
    await create.get_by_role("button", name="Create").click()
    await expect(create.get_by_role("alert")).to_have_text("a macro #인사 already exists")
    await item.get_by_label("Text").fill("반갑습니다")
    await item.get_by_role("button", name="Save").click()
    await expect(item.get_by_role("status")).to_have_text("Saved.")
    assert [m["text"] for m in await server.api("GET", "/macros")] == ["반갑습니다"]
    admin.once("dialog", _accept)
    await item.get_by_role("button", name="Delete").click()
    await expect(admin.locator("#macros")).to_contain_text("No macros yet.")
    assert await server.api("GET", "/macros") == []

    # A team with the newcomer, renamed.
    await admin.get_by_role("link", name="Teams").click()
    new_team = admin.locator("#new-team")
    await new_team.get_by_label("Team name").fill("야간")
    await new_team.get_by_label(NEWCOMER).check()
    await new_team.get_by_role("button", name="Create").click()
    team = admin.locator("#teams form[data-team='야간']")
    await expect(team.get_by_label(NEWCOMER)).to_be_checked()
    await team.get_by_label("Team name").fill("Night shift")
    await team.get_by_role("button", name="Save").click()
    await expect(admin.locator("#teams form[data-team='Night shift']")).to_have_count(1)
    (listed,) = await server.api("GET", "/teams")
    newcomer_id = next(m["id"] for m in await server.api("GET", "/managers") if m["name"] == NEWCOMER)
    assert (listed["name"], listed["member_ids"]) == ("Night shift", [newcomer_id])
    await admin.get_by_role("link", name="Managers").click()
    await expect(row.locator(".teams")).to_have_text("Night shift")

    # Tags in use with their counts, renamed on every chat.
    chat_id = (await server.chats())[0]["id"]
    await server.api("PUT", f"/chats/{chat_id}/tags", json={"tags": ["환불", "vip"]})
    await admin.get_by_role("link", name="Tags").click()
    tag_row = admin.locator("#tags tr[data-tag='환불']")
    await expect(tag_row.locator(".count")).to_have_text(["1", "1"])
    await tag_row.get_by_label("New name").fill("refund")
    await tag_row.get_by_role("button", name="Rename").click()
    await expect(admin.locator("#tags tr[data-tag='refund'] .name")).to_have_text("#refund")
    assert (await server.api("GET", f"/chats/{chat_id}/info"))["tags"] == ["refund", "vip"]

    # The language switcher keeps the admin on the admin page.
    await admin.get_by_role("link", name="한국어").click()
    await expect(admin).to_have_url(f"{server.url}/admin/tags")
    await expect(admin.get_by_role("heading", level=1)).to_have_text("태그")
    assert site.problems == []


async def test_a_manager_without_the_permission_gets_no_admin_link_and_a_readable_refusal(site: Site) -> None:
    await sign_up(site.server, "Agent", "agent@example.com", operator=True)
    page = await site.page()
    await sign_in(page, site.server.url, "agent@example.com")
    await expect(page.locator("#manager-name")).to_have_text("Agent")
    await expect(page.get_by_role("link", name="Admin")).to_have_count(0)

    for path in ("/admin", "/admin/managers", "/admin/macros"):
        response = await page.goto(f"{site.server.url}{path}")
        assert response is not None
        assert response.status == 403
        await expect(page.get_by_role("heading", level=1)).to_have_text("Not for you")
        await expect(page.get_by_role("alert")).to_have_text(
            "The admin pages are for managers with the admin permission. Ask one of them to give it to you."
        )
    await page.get_by_role("link", name="Back to the inbox").click()
    await expect(page).to_have_url(f"{site.server.url}/")
    assert site.problems == []


async def test_an_admin_reads_a_months_usage_and_a_wrong_zone_is_said_on_the_page(site: Site) -> None:
    """F8, K7: the usage page shows what the ledger holds for the month, per integration, and
    says in the page's language what is wrong with a month or time zone."""
    server = site.server
    await sign_up(server, ADMIN_NAME, ADMIN_EMAIL, operator=True, permissions=(ADMIN,))
    for n in range(2):  # LINE charges push messages beyond the free quota
        assert await server.bridge.record_charge("acme", Charge(3, "push_message", f"push {n}"))
    now = datetime.now(UTC)
    this_month = now.strftime("%Y-%m")
    last_month = f"{now.year - 1}-12" if now.month == 1 else f"{now.year}-{now.month - 1:02d}"

    admin = await site.page()
    await sign_in(admin, server.url, ADMIN_EMAIL)
    await admin.get_by_role("link", name="Admin").click()
    await admin.get_by_role("navigation").get_by_role("link", name="Usage").click()
    await expect(admin).to_have_url(f"{server.url}/admin/usage")
    await expect(admin.get_by_role("heading", level=1)).to_have_text("Usage")
    table = admin.locator("#usage")
    await expect(table.locator("caption")).to_have_text(f"{this_month} in UTC")
    await expect(table.locator("tbody tr")).to_have_count(1)
    await expect(table.locator("tbody tr td, tbody tr th")).to_have_text(
        ["acme", "line", "push_message", "2", "6"]
    )
    await expect(table.locator("tfoot .count")).to_have_text(["2", "6"])

    await admin.get_by_label("Month").fill(last_month)
    await admin.get_by_role("button", name="Show").click()
    await expect(admin).to_have_url(f"{server.url}/admin/usage?month={last_month}&time_zone=UTC")
    await expect(table.locator("tbody")).to_have_text("Nothing was charged in this month.")
    await expect(table.locator("tfoot .count")).to_have_text(["0", "0"])

    await admin.get_by_label("Time zone").fill("Mars/Olympus")
    await admin.get_by_role("button", name="Show").click()
    await expect(admin.get_by_role("alert")).to_have_text(
        "Mars/Olympus is not a time zone: use a name such as Asia/Seoul or UTC."
    )
    await expect(admin.locator("#usage")).to_have_count(0)

    await admin.get_by_label("Time zone").fill("Asia/Seoul")
    await admin.get_by_label("Month").fill(datetime.now(ZoneInfo("Asia/Seoul")).strftime("%Y-%m"))
    await admin.get_by_role("button", name="Show").click()
    await expect(table.locator("tfoot .count")).to_have_text(["2", "6"])
    await admin.get_by_role("link", name="한국어").click()
    await expect(admin.get_by_role("heading", level=1)).to_have_text("사용량")
    await expect(table.locator("caption")).to_contain_text("Asia/Seoul 기준")
    assert site.problems == []


async def test_the_usage_page_lists_each_charge_newest_first_pages_back_and_links_its_chat(
    site: Site,
) -> None:
    """K7: every charge is in the month's history on the page, with the chat of the message a
    send delivered; fifty to a page, the older ones behind a link."""
    server = site.server
    await sign_up(server, ADMIN_NAME, ADMIN_EMAIL, operator=True, permissions=(ADMIN,))
    answer = await site.line.webhooks.post(
        f"{server.url}/hooks/acme", [site.line.webhooks.text(site.line.add_user("이서연"), "환불해 주세요")]
    )
    assert answer.status == 200, answer
    (chat,) = await server.chats()
    reply = await server.reply(chat["id"], "환불 도와드릴게요")
    assert await server.bridge.record_charge(
        "acme", Charge(20, "push_message", "push to 이서연"), message_id=reply["id"]
    )
    for n in range(50):
        assert await server.bridge.record_charge("acme", Charge(3, "push_message", f"push {n}"))

    admin = await site.page()
    await sign_in(admin, server.url, ADMIN_EMAIL)
    await admin.goto(f"{server.url}/admin/usage")
    await expect(admin.locator("#usage tfoot .count")).to_have_text(["51", "170"])
    rows = admin.locator("#charges tbody tr")
    await expect(rows).to_have_count(50)
    await expect(rows.first.locator("td").nth(3)).to_have_text("push 49")  # the newest first
    await expect(rows.last.locator("td").nth(3)).to_have_text("push 0")
    await expect(rows.first.locator("time")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$"))
    await expect(rows.get_by_role("link")).to_have_count(0)  # no charge of these is a send

    await admin.get_by_role("link", name="Older charges").click()
    await expect(rows).to_have_count(1)
    await expect(rows.locator("td")).to_have_text(
        [re.compile(r"^\d{4}-"), "acme", "push_message", "push to 이서연", "20", "Open the chat"]
    )
    await expect(admin.get_by_role("link", name="Older charges")).to_have_count(0)
    await rows.get_by_role("link", name="Open the chat").click()
    await expect(admin).to_have_url(f"{server.url}/chats/{chat['id']}")
    assert site.problems == []
