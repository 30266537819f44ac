"""The open chat's actions and its panels in a real Chromium against a real bridgekit with the
LINE plugin and its sandbox (the fixture of test_inbox_browser.py): assign to me and to a chosen
manager, team, goal, tags up to 8 (the ninth refused with its reason in the page's language), description with
#hashtags, snooze with a preset in the manager's time zone and a date past 180 days refused,
close, delete after a confirmation; a manager without the operator seat sees the refusal beside
the control; the chat-info and customer panels show the customer, keep a memo across a reload
and follow changes made elsewhere without a reload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, Page, expect
from sqlalchemy import update

from bridgekit.inbox.teams import create_team
from bridgekit.storage import schema as s
from tests.browser.conftest import CUSTOMER, NAME, Inbox, fill_sign_in, sign_up, watched_page

SEOUL = "Asia/Seoul"  # the manager's time zone in these tests: not the machine's (UTC)
TAGS = ["vip", "환불", "배송", "urgent", "b2b", "repeat", "kakao-ad", "신규"]
SEAT = (
    "This needs the operator seat. Ask an administrator to give you one."  # the refusal, as the page words it
)


async def _open_chat(inbox: Inbox, text: str = "주문한 상품이 아직 안 왔어요") -> tuple[int, str]:
    """A customer writes; the manager, in Seoul, signs in on the chat's manager link."""
    user = inbox.line.add_user(CUSTOMER)
    await inbox.customer_writes(user, text)
    chat_id = (await inbox.server.chats())[0]["id"]
    await _in_seoul(inbox.page)
    await inbox.page.goto(f"{inbox.server.url}/chats/{chat_id}")
    await inbox.sign_in()
    await expect(inbox.page.locator("#chat-title")).to_have_text(CUSTOMER)
    return chat_id, user


async def _in_seoul(page: Page) -> None:
    """What Playwright's ``timezone_id`` does, on the fixture's page: the browser runs in Seoul."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Emulation.setTimezoneOverride", {"timezoneId": SEOUL})
    await page.set_viewport_size({"width": 1600, "height": 1000})


def _tomorrow_nine_in_seoul() -> datetime:
    today = datetime.now(ZoneInfo(SEOUL)).date()
    return datetime(today.year, today.month, today.day, 9, tzinfo=ZoneInfo(SEOUL)) + timedelta(days=1)


async def test_an_operator_assigns_tags_describes_snoozes_and_closes_and_sees_each_refusal(
    inbox: Inbox,
) -> None:
    page, server = inbox.page, inbox.server
    async with server.bridge.db.write() as conn:
        team_id, _ = await create_team(conn, server.bridge.workspace_id, {"name": "배송팀"})
    chat_id, _ = await _open_chat(inbox)
    info = page.locator("#chat-info")
    await expect(info.locator("#info-state")).to_have_text("open")
    await expect(page.locator("#info-assignee")).to_have_value("")

    await page.get_by_role("button", name="Assign to me").click()
    await expect(page.locator("#chat-state")).to_have_text(f"open · {NAME}")
    await expect(page.locator("#info-assignee")).to_have_value(str(inbox.manager_id))
    await expect(page.locator("#info-followers li")).to_have_text([f"{NAME} (you)"])  # I16
    await expect(page.locator("#act-follow")).to_have_text("✓ Following")
    await expect(page.get_by_role("button", name="Assign to me")).to_be_hidden()

    await page.get_by_label("Assignee").select_option(label="Test Operator")  # a chosen manager
    await expect(page.locator("#chat-state")).to_have_text("open · Test Operator")
    await expect(page.locator("#info-followers li")).to_have_text(["Test Operator", f"{NAME} (you)"])
    await page.get_by_label("Team", exact=True).select_option(label="배송팀")
    await page.get_by_label("Goal").select_option("achieved")
    await server.wait_for(lambda: _info_has(inbox, chat_id, team_id=team_id, goal="achieved"))

    for n, tag in enumerate(TAGS, 1):
        await page.get_by_placeholder("Add a tag").fill(tag)
        await page.get_by_placeholder("Add a tag").press("Enter")
        await expect(page.locator("#info-tags li")).to_have_count(n)
        await expect(page.get_by_placeholder("Add a tag")).to_have_value("")
    await expect(page.locator("#info-tags li > span")).to_have_text(sorted(TAGS))
    await expect(page.locator("#info-tags li")).to_have_count(8)
    await page.get_by_placeholder("Add a tag").fill("ninth")
    await page.get_by_role("button", name="Add", exact=True).click()
    await expect(page.locator("#tag-error")).to_have_text(
        "A chat can have at most 8 tags. Remove one first."
    )  # I6
    await expect(page.locator("#info-tags li")).to_have_count(8)
    await expect(page.get_by_placeholder("Add a tag")).to_have_value("ninth")  # kept to retry
    await page.get_by_role("button", name="Remove the tag urgent").click()
    await expect(page.locator("#info-tags li")).to_have_count(7)
    await expect(page.locator("#tag-error")).to_be_hidden()
    await expect(page.locator("#views li[data-view='tag:환불'] .count")).to_have_text("1")

    await page.get_by_label("Description").fill("교환 말고 #환불 원함, order#1042 #vip")
    await page.locator("#description-form").get_by_role("button", name="Save").click()
    await expect(page.locator("#info-hashtags li")).to_have_text(["#환불", "#vip"])

    await page.locator(".chat-head summary").get_by_text("Snooze", exact=True).click()
    await expect(page.locator("#snooze-zone")).to_have_text(
        "Times are in Asia/Seoul; at most 180 days ahead."
    )
    await page.locator("#snooze-until").fill(
        (datetime.now(ZoneInfo(SEOUL)) + timedelta(days=200)).strftime("%Y-%m-%dT%H:%M")
    )
    await page.get_by_role("button", name="Snooze until then").click()
    await expect(page.locator("#snooze-error")).to_have_text("A chat can be snoozed for at most 180 days.")
    before = _tomorrow_nine_in_seoul()
    await page.get_by_role("button", name="Until tomorrow, 9:00").click()
    await expect(page.locator("#chat-state")).to_contain_text("snoozed until")
    await expect(page.locator(".snooze-menu")).to_be_hidden()
    snoozed = await server.api("GET", f"/chats/{chat_id}/info")
    until = datetime.fromisoformat(snoozed["snoozed_until"])
    assert until in {before.astimezone(UTC), _tomorrow_nine_in_seoul().astimezone(UTC)}, until
    assert until.astimezone(ZoneInfo(SEOUL)).hour == 9  # 9:00 where the manager is, not in UTC
    await expect(page.locator("#chat-state")).to_contain_text("9:00")  # shown in Seoul time too

    await page.get_by_role("button", name="Reopen").click()  # ends the snooze
    await expect(page.locator("#chat-state")).to_have_text("open · Test Operator")
    await page.get_by_role("button", name="Close").click()
    await expect(page.locator("#chat-state")).to_have_text("closed · Test Operator")
    await expect(page.locator("#info-state")).to_have_text("closed")
    await expect(page.get_by_role("button", name="Reopen")).to_be_visible()  # LINE allows it (E6)
    await expect(page.get_by_role("button", name="Delete…")).to_be_hidden()  # no permission
    assert inbox.problems == []


async def _info_has(inbox: Inbox, chat_id: int, **expected: object) -> bool:
    info = await inbox.server.api("GET", f"/chats/{chat_id}/info")
    return all(info[key] == value for key, value in expected.items())


async def test_without_the_operator_seat_assign_and_tags_are_refused_with_the_reason(
    inbox: Inbox, browser: Browser
) -> None:
    server = inbox.server
    user = inbox.line.add_user(CUSTOMER)
    await inbox.customer_writes(user, "hello")
    chat_id = (await server.chats())[0]["id"]
    viewer_id = await sign_up(server, "Viewer Park", "park@example.com")
    async with watched_page(browser, viewport={"width": 1600, "height": 1000}) as (page, problems):
        await page.goto(f"{server.url}/chats/{chat_id}")
        await fill_sign_in(page, "park@example.com")
        await expect(page.locator("#chat-title")).to_have_text(CUSTOMER)

        await page.get_by_role("button", name="Assign to me").click()
        await expect(page.locator("#action-error")).to_have_text(SEAT)  # I4
        await expect(page.locator("#chat-state")).to_have_text("open")
        await page.get_by_label("Assignee").select_option(label="Test Operator")
        await expect(page.locator("#info-error")).to_have_text(SEAT)
        await expect(page.locator("#info-assignee")).to_have_value("")  # the refused choice is undone
        await page.get_by_placeholder("Add a tag").fill("vip")
        await page.get_by_placeholder("Add a tag").press("Enter")
        await expect(page.locator("#tag-error")).to_have_text(SEAT)  # I18
        await expect(page.locator("#info-tags li")).to_have_count(0)

        await page.get_by_role("button", name="Follow").click()  # following yourself needs no seat
        await expect(page.locator("#act-follow")).to_have_text("✓ Following")
        await expect(page.locator("#info-followers li")).to_have_text(["Viewer Park (you)"])
        await expect(page.locator("#action-error")).to_be_hidden()
        info = await server.api("GET", f"/chats/{chat_id}/info")
        assert (info["assignee_id"], info["tags"], info["follower_ids"]) == (None, [], [viewer_id])
        assert problems == []


async def test_the_panels_show_the_customer_keep_a_memo_and_follow_changes_live(inbox: Inbox) -> None:
    page, server = inbox.page, inbox.server
    chat_id, user = await _open_chat(inbox)
    customer = page.locator("#customer-panel")
    await expect(page.locator("#customer-name")).to_have_value(CUSTOMER)
    await expect(customer.locator("#customer-contacts li")).to_have_text([f"line · {user} · verified"])
    await expect(customer.locator("#customer-chats li")).to_have_count(1)
    chat = await _chat(inbox, chat_id)
    # its last message at the manager's (Seoul) time, not the machine's (UTC)
    seoul = datetime.fromisoformat(str(chat["last_message_at"])).astimezone(ZoneInfo(SEOUL))
    await expect(customer.locator("#customer-chats li")).to_have_text(
        f"Chat {chat_id} (this chat) · line · open · {seoul:%I:%M %p}"
    )
    await expect(customer.locator("#customer-sent li")).to_have_text(["None"])  # LINE sends are not billed
    await expect(page.locator("#info-started time")).to_have_attribute(
        "datetime", (await _chat(inbox, chat_id))["created_at"]
    )

    memo = "VIP 고객 — 지난달 환불 1회, 전화 선호"
    await page.get_by_label("Memo (for the team)").fill(memo)
    await page.get_by_role("button", name="Save memo").click()
    await expect(page.locator("#memo-saved")).to_have_text("Saved.")
    await page.reload()
    await expect(page.get_by_label("Memo (for the team)")).to_have_value(memo)  # it stuck
    panel = await server.api("GET", f"/customers/{(await _chat(inbox, chat_id))['customer_id']}")
    assert panel["customer"]["profile"] == {"memo": memo}

    # Someone else changes the chat and the customer: the panels follow without a reload.
    await server.api(
        "PATCH", f"/chats/{chat_id}", json={"description": "#재문의 고객", "goal": "not_achieved"}
    )
    await server.api("POST", f"/chats/{chat_id}/tags/재문의")
    await expect(page.locator("#info-hashtags li")).to_have_text(["#재문의"])
    await expect(page.locator("#info-description")).to_have_value("#재문의 고객")
    await expect(page.locator("#info-goal")).to_have_value("not_achieved")
    await expect(page.locator("#info-tags li > span")).to_have_text(["재문의"])
    customer_id = (await _chat(inbox, chat_id))["customer_id"]
    await server.api("PATCH", f"/customers/{customer_id}", json={"name": "이서연 (VIP)"})
    await expect(page.locator("#customer-name")).to_have_value("이서연 (VIP)")
    await expect(page.locator("#chat-title")).to_have_text("이서연 (VIP)")

    # A text being written is not wiped by someone else's change; saving it wins.
    await page.get_by_label("Description").fill("내가 쓰는 중 #draft")
    await server.api("POST", f"/chats/{chat_id}/tags/second")
    await expect(page.locator("#info-tags li")).to_have_count(2)
    await expect(page.get_by_label("Description")).to_have_value("내가 쓰는 중 #draft")
    await page.locator("#description-form").get_by_role("button", name="Save").click()
    await expect(page.locator("#info-hashtags li")).to_have_text(["#draft"])

    await page.get_by_label("Name", exact=True).fill("Lee Seoyeon")
    await page.locator("#customer-name-form").get_by_role("button", name="Save").click()
    await expect(page.locator("#chat-title")).to_have_text("Lee Seoyeon")
    await expect(page.locator("#chats li.chat .title")).to_have_text(["Lee Seoyeon"])
    assert inbox.problems == []


async def _chat(inbox: Inbox, chat_id: int) -> dict[str, object]:
    chat: dict[str, object] = await inbox.server.api("GET", f"/chats/{chat_id}")
    return chat


async def test_delete_asks_first_and_removes_the_chat_for_a_manager_with_the_permission(
    inbox: Inbox,
) -> None:
    page, server = inbox.page, inbox.server
    async with server.bridge.db.write() as conn:
        await conn.execute(
            update(s.managers).where(s.managers.c.id == inbox.manager_id).values(permissions=["delete_chats"])
        )
    chat_id, _ = await _open_chat(inbox)
    await page.get_by_role("button", name="Delete…").click()
    dialog = page.get_by_role("dialog", name="Delete this chat permanently?")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Keep the chat").click()
    await expect(dialog).to_be_hidden()
    assert [c["id"] for c in await server.chats()] == [chat_id]  # nothing happened

    await page.get_by_role("button", name="Delete…").click()
    await dialog.get_by_role("button", name="Delete permanently").click()
    await expect(page).to_have_url(f"{server.url}/")
    await expect(page.locator("#placeholder")).to_be_visible()
    await expect(page.locator("#panels")).to_be_hidden()
    await expect(page.locator("#chats li.chat")).to_have_count(0)
    assert await server.chats() == []  # I12: gone for good
    assert inbox.problems == []
