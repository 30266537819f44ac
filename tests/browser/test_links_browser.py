"""Seed 003's remaining inbox pieces in a real Chromium against a real bridgekit with the LINE
sandbox: "copy links" in the chat head (the manager link opens the chat for a teammate after
signing in; the customer link, with its warning, copies and is made anew after a
confirmation, the old one then answering 404), the sidebar's "notify me of unassigned chats"
switch (it sticks across a reload and moves the Sessions count as the seed says), the list's
titles following a customer renamed elsewhere, and the list falling back to All when the
Queue it shows empties."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from bridgekit.inbox.teams import create_team
from tests.browser.conftest import CUSTOMER, NAME, NO_SEAT, Inbox, fill_sign_in, take_the_seat


async def _customers_write(inbox: Inbox, *names: str) -> dict[str, int]:
    """One chat per name, in this order; their ids by name."""
    for name in names:
        await inbox.customer_writes(inbox.line.add_user(name), f"a question from {name}")
    return {chat["customer_name"]: chat["id"] for chat in await inbox.server.chats()}


async def _signed_in(inbox: Inbox, path: str = "/") -> Page:
    await inbox.page.goto(f"{inbox.server.url}{path}")
    await inbox.sign_in()
    await expect(inbox.page.locator("#live")).to_have_text("live")
    return inbox.page


async def _clipboard(page: Page) -> str:
    text: str = await page.evaluate("navigator.clipboard.readText()")
    return text


async def _status(inbox: Inbox, url: str) -> int:
    async with inbox.server.session.get(url) as response:
        return response.status


async def test_the_manager_link_opens_the_chat_for_a_teammate_after_signing_in(
    inbox: Inbox, browser: Browser
) -> None:
    chats = await _customers_write(inbox, CUSTOMER, "Other")
    chat_id = chats[CUSTOMER]
    page = await _signed_in(inbox, f"/chats/{chat_id}")
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=inbox.server.url)
    await expect(page.locator("#chat-title")).to_have_text(CUSTOMER)

    await page.get_by_text("Copy links").click()
    link = f"{inbox.server.url}/chats/{chat_id}"  # the page's origin: no public_url is set
    await expect(page.get_by_label("Manager link", exact=True)).to_have_value(link)
    await page.locator("#copy-manager").click()
    await expect(page.locator("#links-status")).to_have_text("Manager link copied.")
    assert await _clipboard(page) == link
    await page.keyboard.press("Escape")
    await expect(page.get_by_label("Manager link", exact=True)).to_be_hidden()

    # A teammate in another browser opens the link: sign-in first, then that chat.
    context = await browser.new_context()
    try:
        other = await context.new_page()
        await other.goto(link)
        await fill_sign_in(other)
        await expect(other.locator("#chat-title")).to_have_text(CUSTOMER)
        assert other.url == link
    finally:
        await context.close()
    assert inbox.problems == []


# A page served over plain http on a LAN is not a secure context: no navigator.clipboard. The
# test keeps the real one aside to read what was copied.
NO_CLIPBOARD_API = """
window.keptClipboard = navigator.clipboard;
Object.defineProperty(Navigator.prototype, "clipboard", { get: () => undefined });
"""


async def test_without_the_clipboard_api_the_selected_link_is_copied(inbox: Inbox) -> None:
    chat_id = (await _customers_write(inbox, CUSTOMER))[CUSTOMER]
    await inbox.page.context.add_init_script(NO_CLIPBOARD_API)
    page = await _signed_in(inbox, f"/chats/{chat_id}")
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=inbox.server.url)
    assert await page.evaluate("navigator.clipboard === undefined")

    await page.get_by_text("Copy links").click()
    await page.locator("#copy-manager").click()
    await expect(page.locator("#links-status")).to_have_text("Manager link copied.")
    assert await page.evaluate("window.keptClipboard.readText()") == f"{inbox.server.url}/chats/{chat_id}"
    assert inbox.problems == []


async def test_the_customer_link_copies_with_its_warning_and_a_new_one_ends_the_old(inbox: Inbox) -> None:
    chat_id = (await _customers_write(inbox, CUSTOMER))[CUSTOMER]
    page = await _signed_in(inbox, f"/chats/{chat_id}")
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=inbox.server.url)

    await page.get_by_text("Copy links").click()
    await expect(page.locator("#links-warning")).to_have_text(
        "Send this link only to this chat's customer: whoever has it reads and writes in this chat as them."
    )
    field = page.get_by_label("Customer link", exact=True)
    await expect(field).not_to_have_value("")
    old = await field.input_value()
    assert old.startswith(f"{inbox.server.url}/c/")
    await page.locator("#copy-customer").click()
    await expect(page.locator("#links-status")).to_have_text(
        "Customer link copied. Send it to this customer only."
    )
    assert await _clipboard(page) == old
    assert await _status(inbox, old) == 200  # the customer's view of the chat

    # Asked first; "keep" keeps it.
    await page.get_by_role("button", name="Make a new customer link…").click()
    dialog = page.get_by_role("dialog", name="Make a new customer link?")
    await expect(dialog).to_contain_text("The current customer link stops working at once.")
    await dialog.get_by_role("button", name="Keep the current link").click()
    await expect(dialog).to_be_hidden()
    await expect(field).to_have_value(old)
    assert await _status(inbox, old) == 200

    await page.get_by_role("button", name="Make a new customer link…").click()
    await dialog.get_by_role("button", name="Make a new link").click()
    await expect(page.locator("#links-status")).to_have_text(
        "New customer link made; the old one no longer works."
    )
    await expect(field).not_to_have_value(old)
    new = await field.input_value()
    assert new.startswith(f"{inbox.server.url}/c/")
    assert await _status(inbox, old) == 404
    assert await _status(inbox, new) == 200
    await page.locator("#copy-customer").click()
    await expect(page.locator("#links-status")).to_have_text(
        "Customer link copied. Send it to this customer only."
    )
    assert await _clipboard(page) == new
    # Asked again and dismissed with Escape: the answer given last time does not count.
    await page.get_by_role("button", name="Make a new customer link…").click()
    await expect(dialog).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#links-status")).to_have_text(
        "Customer link copied. Send it to this customer only."
    )
    # The page's own next request (after any it would have sent on closing) sees the same link.
    links = await page.evaluate(f"fetch('/api/v1/chats/{chat_id}/links').then((r) => r.json())")
    assert links["customer_link"].endswith(new.removeprefix(inbox.server.url))
    assert await field.input_value() == new
    assert await _status(inbox, new) == 200

    # Another chat opened: its own links, not the last chat's.
    other = (await _customers_write(inbox, "Other"))["Other"]
    await page.locator(f"#chats li[data-chat-id='{other}'] a").click()
    await expect(page.locator("#chat-title")).to_have_text("Other")
    await page.get_by_text("Copy links").click()
    manager_link = page.get_by_label("Manager link", exact=True)
    await expect(manager_link).to_have_value(f"{inbox.server.url}/chats/{other}")
    await expect(field).not_to_have_value("")
    assert await field.input_value() != new
    assert inbox.problems == []


async def test_a_customer_link_made_anew_is_refused_without_the_operator_seat(inbox: Inbox) -> None:
    chat_id = (await _customers_write(inbox, CUSTOMER))[CUSTOMER]
    await take_the_seat(inbox.server, inbox.manager_id)  # an administrator took the seat away
    page = await _signed_in(inbox, f"/chats/{chat_id}")
    await page.get_by_text("Copy links").click()
    field = page.get_by_label("Customer link", exact=True)
    await expect(field).not_to_have_value("")  # reading the links needs no seat
    old = await field.input_value()
    await page.get_by_role("button", name="Make a new customer link…").click()
    await page.get_by_role("button", name="Make a new link").click()
    await expect(page.locator("#links-error")).to_have_text(NO_SEAT)
    await expect(field).to_have_value(old)
    assert await _status(inbox, old) == 200


async def _notified_chats(page: Page) -> list[int]:
    """The chats of the signed-in manager's notifications, read as the page reads them."""
    found = await page.evaluate("fetch('/api/v1/notifications').then((r) => r.json())")
    return [n["chat_id"] for n in found["notifications"]]


async def test_the_unassigned_chats_switch_sticks_and_moves_the_sessions_count(inbox: Inbox) -> None:
    chats = await _customers_write(inbox, "Ana", "Ben", "Cho")
    await inbox.server.api("POST", f"/chats/{chats['Ana']}/assign", json={"manager_id": inbox.manager_id})
    page = await _signed_in(inbox)
    switch = page.get_by_role("switch", name="Notify me of unassigned chats")
    sessions = page.locator("#views li[data-view='sessions']")
    titles = page.locator("#chats li.chat .title")
    await expect(switch).not_to_be_checked()
    # Off: the chats I am assigned to or follow.
    await expect(sessions.locator(".count")).to_have_text("1")
    await sessions.click()
    await expect(titles).to_have_text(["Ana"])

    # On: the unassigned ones too, the list shown and the count follow at once.
    await switch.check()
    await expect(sessions.locator(".count")).to_have_text("3")
    await expect(titles).to_have_text(["Cho", "Ben", "Ana"])
    me = [m for m in await inbox.server.api("GET", "/managers") if m["id"] == inbox.manager_id]
    assert me[0]["notify_unassigned"] is True
    await page.reload()
    await expect(switch).to_be_checked()
    await expect(sessions.locator(".count")).to_have_text("3")

    # A new chat nobody is assigned to joins them, and its message notifies me (I1).
    await inbox.customer_writes(inbox.line.add_user("Dan"), "hello?")
    await expect(sessions.locator(".count")).to_have_text("4")
    dan = {c["customer_name"]: c["id"] for c in await inbox.server.chats()}["Dan"]
    assert dan in await _notified_chats(page)

    await switch.uncheck()
    await expect(sessions.locator(".count")).to_have_text("1")
    await page.reload()
    await expect(switch).not_to_be_checked()
    await expect(sessions.locator(".count")).to_have_text("1")
    # Off: a new unassigned chat neither joins Sessions nor notifies me.
    await inbox.customer_writes(inbox.line.add_user("Eun"), "anyone?")
    await expect(page.locator("#chats li.chat .title").first).to_have_text("Eun")
    await expect(page.locator("#views li[data-view='unassigned'] .count")).to_have_text("4")
    await expect(sessions.locator(".count")).to_have_text("1")
    eun = {c["customer_name"]: c["id"] for c in await inbox.server.chats()}["Eun"]
    assert eun not in await _notified_chats(page)
    assert inbox.problems == []


async def test_a_customer_renamed_elsewhere_is_renamed_in_the_list(inbox: Inbox) -> None:
    chats = await _customers_write(inbox, CUSTOMER, "Other")
    page = await _signed_in(inbox)
    titles = page.locator("#chats li.chat .title")
    await expect(titles).to_have_text(["Other", CUSTOMER])
    customer_id = (await inbox.server.api("GET", f"/chats/{chats[CUSTOMER]}"))["customer_id"]
    await inbox.server.api("PATCH", f"/customers/{customer_id}", json={"name": "이서연 (VIP)"})
    await expect(titles).to_have_text(["Other", "이서연 (VIP)"])  # no chat open, no reload
    assert inbox.problems == []


async def test_the_list_falls_back_to_all_when_the_queue_it_shows_empties(inbox: Inbox) -> None:
    chats = await _customers_write(inbox, "Ivy", "Jun")
    async with inbox.server.bridge.db.write() as conn:
        support = {"name": "Support", "auto_assign": True}
        team, _ = await create_team(conn, inbox.server.bridge.workspace_id, support)
    page = await _signed_in(inbox)
    await inbox.server.api("POST", f"/chats/{chats['Ivy']}/assign", json={"team_id": team})  # waits
    queue = page.locator("#views li[data-view='queue']")
    titles = page.locator("#chats li.chat .title")
    await queue.click()
    await expect(titles).to_have_text(["Ivy"])

    await inbox.server.api("POST", f"/chats/{chats['Ivy']}/assign", json={"manager_id": inbox.manager_id})
    await expect(queue).to_have_count(0)
    await expect(page.locator("#views li.selected")).to_have_attribute("data-view", "all")
    await expect(titles).to_have_text(["Jun", "Ivy"])
    await expect(page.locator(f"#views li[data-view='assignee:{inbox.manager_id}'] .name")).to_have_text(NAME)
    assert inbox.problems == []
