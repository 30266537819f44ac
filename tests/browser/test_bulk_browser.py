"""Bulk actions in the inbox's chat list, in a real Chromium against a real bridgekit with the
LINE sandbox: ticking chats (a shift-click ticks a range) and closing them; every chat a
search matches ("select all matching", found by the server) closed and no other; a snooze
preset in the manager's time zone; assignment out of the queue, whose sidebar entry comes and
goes live; and the API's refusals (a ninth tag, no operator seat, a snooze past 180 days)
shown under the bar as the API words them."""

from __future__ import annotations

from datetime import datetime

from playwright.async_api import Browser, Locator, Page, expect

from bridgekit.inbox.managers import create_manager
from bridgekit.inbox.teams import create_team
from tests.browser.conftest import NAME, NO_SEAT, Inbox, fill_sign_in, take_the_seat


async def customers_write(inbox: Inbox, *names: str) -> None:
    """One chat per name; each later message than the one before (the list's first is the last)."""
    for name in names:
        await inbox.customer_writes(inbox.line.add_user(name), f"a question from {name}")


async def signed_in(inbox: Inbox) -> Page:
    await inbox.page.goto(f"{inbox.server.url}/sign-in")
    await inbox.sign_in()
    await expect(inbox.page.locator("#live")).to_have_text("live")
    return inbox.page


async def states(inbox: Inbox) -> dict[str, str]:
    """Each chat's state, by its customer's name."""
    return {chat["customer_name"]: chat["state"] for chat in await inbox.server.chats()}


def pick(page: Page, name: str) -> Locator:
    """The checkbox of the chat with this customer."""
    return page.get_by_label(f"Select {name}", exact=True)


def bulk_button(page: Page, name: str) -> Locator:
    """A button of the bulk bar ("Close" there, not the open chat's)."""
    return page.get_by_role("region", name="Bulk actions").get_by_role("button", name=name, exact=True)


async def test_ticked_chats_and_a_shift_click_range_are_closed_together(inbox: Inbox) -> None:
    await customers_write(inbox, "Ana", "Ben", "Cho", "Dan")
    page = await signed_in(inbox)
    titles = page.locator("#chats li.chat .title")
    await expect(titles).to_have_text(["Dan", "Cho", "Ben", "Ana"])
    bar = page.get_by_role("region", name="Bulk actions")
    await expect(bar).to_be_hidden()

    await pick(page, "Dan").check()
    await pick(page, "Ben").click(modifiers=["Shift"])  # the range Dan..Ben
    await expect(page.locator("#chats li.picked .title")).to_have_text(["Dan", "Cho", "Ben"])
    await expect(page.locator("#bulk-count")).to_have_text("3 chats selected")
    await expect(page.get_by_label("Select all chats shown")).to_have_js_property("indeterminate", True)
    await pick(page, "Cho").uncheck()
    await expect(page.locator("#bulk-count")).to_have_text("2 chats selected")

    await bulk_button(page, "Close").click()
    await expect(page.locator("#bulk-result")).to_have_text("Closed 2 chats.")
    await expect(titles).to_have_text(["Cho", "Ana"])  # closed chats leave the open list
    await expect(bar).to_be_hidden()  # the selection is done with
    await expect(page.locator("#views li[data-view='all'] .count")).to_have_text("2")
    assert await states(inbox) == {"Ana": "open", "Ben": "closed", "Cho": "open", "Dan": "closed"}
    assert inbox.problems == []


async def test_all_chats_matching_a_search_are_closed_and_no_other(inbox: Inbox) -> None:
    orders = [f"Order {n:02d}" for n in range(34)]
    others = ["Other A", "Other B", "Other C"]
    await customers_write(inbox, *others[:2], *orders, others[2])
    page = await signed_in(inbox)
    rows = page.locator("#chats li.chat")
    await expect(rows).to_have_count(30)  # one page of 37

    every = page.get_by_label("Select all chats shown")
    await every.check()
    await expect(page.locator("#bulk-count")).to_have_text("30 chats selected")
    # Without a search "all matching" is the view: the sidebar knows how many.
    await expect(page.locator("#bulk-all")).to_have_text("Select all 37 chats matching this view")
    await every.uncheck()
    await expect(page.locator("#bulk-bar")).to_be_hidden()

    await page.get_by_label("Search chats").fill("order")
    await expect(rows.first.locator(".title")).to_have_text("Order 33")
    await expect(rows).to_have_count(30)  # 34 match: more than a page
    await expect(page.locator("#more")).to_be_visible()
    await every.check()
    await page.get_by_role("button", name="Select every chat matching this search").click()
    await expect(page.locator("#bulk-count")).to_have_text(
        "Every chat matching this view and search is selected."
    )
    await bulk_button(page, "Close").click()
    await expect(page.locator("#bulk-result")).to_have_text("Closed 34 chats.")
    await expect(rows).to_have_count(0)
    await expect(page.locator("#views li[data-view='all'] .count")).to_have_text("3")
    await page.get_by_label("Search chats").fill("")
    await expect(page.locator("#chats li.chat .title")).to_have_text(["Other C", "Other B", "Other A"])
    found = await states(inbox)
    assert {name for name, state in found.items() if state == "closed"} == set(orders)
    assert {name for name, state in found.items() if state == "open"} == set(others)
    assert inbox.problems == []


async def test_a_snooze_preset_is_in_the_managers_time_zone_and_180_days_is_the_limit(
    inbox: Inbox, browser: Browser
) -> None:
    await customers_write(inbox, "Eun", "Fay")
    context = await browser.new_context(timezone_id="Asia/Seoul")  # not the server's UTC
    try:
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{inbox.server.url}/sign-in")
        await fill_sign_in(page)
        await expect(page.locator("#manager-name")).to_have_text(NAME)

        await pick(page, "Fay").check()
        await page.get_by_role("button", name="Snooze…").click()
        until = page.locator("#bulk-bar").get_by_label("Until")
        await until.fill("2099-01-01T09:00")  # far past 180 days: the API refuses, in its words
        await page.get_by_role("button", name="Snooze", exact=True).click()
        await expect(page.locator("#bulk-result")).to_have_text("A chat can be snoozed for at most 180 days.")
        await expect(page.locator("#bulk-result")).to_have_class("bulk-result error")
        await expect(page.locator("#chats li.chat .title")).to_have_text(["Fay", "Eun"])  # nothing changed

        await page.get_by_role("button", name="Tomorrow 9:00").click()
        await expect(page.locator("#bulk-result")).to_contain_text("Snoozed 1 chat until ")
        await expect(page.locator("#chats li.chat .title")).to_have_text(["Eun"])
        (fay,) = [c for c in await inbox.server.chats() if c["customer_name"] == "Fay"]
        chat = await inbox.server.api("GET", f"/chats/{fay['id']}")
        assert chat["state"] == "snoozed"
        # 9:00 tomorrow in Seoul, whatever the server's clock says
        expected = await page.evaluate(
            "() => { const d = new Date();"
            " return new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1, 9).getTime(); }"
        )
        snoozed = datetime.fromisoformat(chat["snoozed_until"].replace("Z", "+00:00"))
        assert snoozed.timestamp() * 1000 == expected
        assert snoozed.hour == 0  # 09:00 in Seoul is 00:00 UTC
        assert errors == []
    finally:
        await context.close()


async def test_refusals_are_shown_as_the_api_words_them(inbox: Inbox) -> None:
    await customers_write(inbox, "Gil", "Hana")
    chats = {c["customer_name"]: c["id"] for c in await inbox.server.chats()}
    eight = [f"t{n}" for n in range(8)]
    await inbox.server.api("PUT", f"/chats/{chats['Gil']}/tags", json={"tags": eight})
    page = await signed_in(inbox)

    await pick(page, "Gil").check()
    await pick(page, "Hana").check()
    await page.get_by_role("button", name="Tag…").click()
    await page.locator("#bulk-bar").get_by_label("Tag", exact=True).fill("#vip")
    await page.get_by_role("button", name="Add tag").click()
    await expect(page.locator("#bulk-result")).to_have_text(
        "Tagged 1 chat #vip. 1 chat refused: A chat can have at most 8 tags. Remove one first."
    )
    await expect(page.locator("#views li[data-view='tag:vip'] .count")).to_have_text("1")  # live
    assert (await inbox.server.api("GET", f"/chats/{chats['Hana']}"))["tags"] == ["vip"]
    assert (await inbox.server.api("GET", f"/chats/{chats['Gil']}"))["tags"] == eight

    await take_the_seat(inbox.server, inbox.manager_id)  # an administrator takes the seat away
    await pick(page, "Hana").check()
    await bulk_button(page, "Close").click()
    await expect(page.locator("#bulk-result")).to_have_text(NO_SEAT)
    await expect(page.locator("#bulk-count")).to_have_text("1 chat selected")  # kept, to try again
    await expect(page.locator("#chats li.chat .title")).to_have_text(["Hana", "Gil"])
    assert await states(inbox) == {"Gil": "open", "Hana": "open"}
    assert inbox.problems == []


async def test_the_queue_appears_live_and_a_bulk_assignment_empties_it(inbox: Inbox) -> None:
    await customers_write(inbox, "Ivy", "Jun")
    db = inbox.server.bridge.db
    await create_manager(db, inbox.server.bridge.workspace_id, "Lee Seat-less", operator=False)
    async with db.write() as conn:
        support = {"name": "Support", "auto_assign": True}
        team, _ = await create_team(conn, inbox.server.bridge.workspace_id, support)
    page = await signed_in(inbox)
    await expect(page.locator("#views li[data-view='queue']")).to_have_count(0)  # nothing waits

    chats = {c["customer_name"]: c["id"] for c in await inbox.server.chats()}
    for name in ("Ivy", "Jun"):  # the team has no operator free: both wait in its queue
        await inbox.server.api("POST", f"/chats/{chats[name]}/assign", json={"team_id": team})
    queue = page.locator("#views li[data-view='queue']")
    await expect(queue.locator(".count")).to_have_text("2")  # appeared without a reload
    await expect(page.locator(f"#views li[data-view='queue:team:{team}'] .name")).to_have_text("Support")

    await queue.click()
    await expect(page.locator("#chats li.chat .title")).to_have_text(["Jun", "Ivy"])
    await page.get_by_label("Select all chats shown").check()
    await page.get_by_role("button", name="Assign…").click()
    assignee = page.get_by_label("Assign to")
    # Operators only ("Lee Seat-less" cannot be assigned: not offered); the manager first chosen.
    await expect(assignee.locator("option")).to_have_text(
        ["Test Operator", f"{NAME} (me)", "Nobody (unassign)"]  # the harness's API operator too
    )
    await expect(assignee).to_have_value(str(inbox.manager_id))
    await page.get_by_role("button", name="Assign", exact=True).click()
    await expect(page.locator("#bulk-result")).to_have_text(f"Assigned 2 chats to {NAME}.")
    await expect(queue).to_have_count(0)  # empty: the entry is gone
    await expect(page.locator("#views li[data-view='mine'] .count")).to_have_text("2")
    await expect(page.locator(f"#views li[data-view='assignee:{inbox.manager_id}'] .count")).to_have_text("2")
    assert inbox.problems == []
