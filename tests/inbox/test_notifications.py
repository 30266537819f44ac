"""Who is told about a customer's new message, and the notification list (I1 My sessions, I3)."""

from __future__ import annotations

from bridgekit.web.auth import ADMIN
from tests.conftest import integration, signed
from tests.inbox.chats_support import manager, notifications, open_chats
from tests.inbox.test_chats_queue import start, support_team
from tests.support.testchannel import TestChannelPlugin


async def write_again(running, user: str, event_id: str) -> None:  # type: ignore[no-untyped-def]
    body, headers = signed({"id": event_id, "user": user, "text": "any news?"})
    assert (await running.post_hook("support", body, headers))[0] == 200


async def test_the_assignee_and_followers_hear_about_a_new_message_and_can_mark_it_read(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    running = await start(make_bridge, sandbox_url, channel_plugin)
    admin = await manager(running, "Admin", permissions=(ADMIN,))
    kim = await manager(running, "Kim")
    lee = await manager(running, "Lee")
    park = await manager(running, "Park")
    await support_team(admin, [kim.manager_id])
    (chat,) = await open_chats(running, "support", ["u1"])  # auto-assigned to Kim
    await lee.ok("PUT", f"/chats/{chat}/followers/{lee.manager_id}")

    await write_again(running, "u1", "ev-2")
    told = [who for who, kind in await notifications(running, chat) if kind == "message"]
    assert sorted(told) == sorted([kim.manager_id, lee.manager_id])  # not Park

    page = await kim.ok("GET", "/notifications?unread=1")
    kinds = [(n["chat_id"], n["kind"]) for n in page["notifications"]]
    assert kinds == [(chat, "message"), (chat, "assigned")]
    customer_id = (await kim.ok("GET", f"/chats/{chat}"))["customer"]["id"]
    await kim.ok("PATCH", f"/customers/{customer_id}", {"name": "이서연"})
    page = await kim.ok("GET", "/notifications?unread=1")
    # Each names its chat as the list does (its customer), so the bell can say which chat.
    assert [n["chat_title"] for n in page["notifications"]] == ["이서연", "이서연"]
    assert (await park.ok("GET", "/notifications"))["notifications"] == []

    assert (await kim.ok("POST", "/notifications/read", {"all": True}))["updated"] == 2
    assert (await kim.ok("GET", "/notifications?unread=1"))["notifications"] == []
    status, _ = await kim.call("POST", "/notifications/read", {})
    assert status == 400
    # 40,000 ids were a 500 on PostgreSQL (more values than one statement binds).
    status, answer = await kim.call("POST", "/notifications/read", {"ids": list(range(1, 40_001))})
    assert (status, answer["error"]) == (400, 'at most 1000 ids at once; "all": true marks every one')


async def test_a_queued_chat_tells_nobody_when_the_customer_writes_again(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """I3: queued chats send no notifications until assigned, not even to watchers."""
    running = await start(make_bridge, sandbox_url, channel_plugin)
    admin = await manager(running, "Admin", permissions=(ADMIN,))
    kim = await manager(running, "Kim")
    watcher = await manager(running, "Watcher", operator=False)
    await watcher.ok("PATCH", f"/managers/{watcher.manager_id}", {"notify_unassigned": True})
    await support_team(admin, [kim.manager_id])
    await admin.ok("PATCH", f"/managers/{kim.manager_id}", {"max_auto_assign": 0})
    (chat,) = await open_chats(running, "support", ["u1"])
    assert (await kim.info(chat))["state"] == "queued"
    await write_again(running, "u1", "ev-2")
    assert await notifications(running, chat) == []


async def test_an_unassigned_chat_tells_the_managers_who_asked_for_it(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    running = await make_bridge(
        plugins={"testchat": channel_plugin}, integrations={"support": integration(sandbox_url)}
    )
    watcher = await manager(running, "Watcher", operator=False)
    quiet = await manager(running, "Quiet")
    await watcher.ok("PATCH", f"/managers/{watcher.manager_id}", {"notify_unassigned": True})
    (chat,) = await open_chats(running, "support", ["u1"])
    await write_again(running, "u1", "ev-2")
    told = [(who, kind) for who, kind in await notifications(running, chat) if kind == "message"]
    assert told == [(watcher.manager_id, "message")]
    assert quiet.manager_id not in [who for who, _ in await notifications(running, chat)]


async def test_a_closed_chat_the_customer_writes_to_again_reopens_and_its_assignee_hears_at_once(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """The message that reopens a chat is pushed like any live one (a message to a chat that
    stays closed is only listed): the chat's state as the message left it, not as it was."""
    running = await start(make_bridge, sandbox_url, channel_plugin)
    admin = await manager(running, "Admin", permissions=(ADMIN,))
    kim = await manager(running, "Kim")
    await support_team(admin, [kim.manager_id])
    (chat,) = await open_chats(running, "support", ["u1"])  # auto-assigned to Kim
    assert (await kim.ok("POST", f"/chats/{chat}/close"))["state"] == "closed"

    await write_again(running, "u1", "ev-2")
    assert (await kim.info(chat))["state"] == "open"
    page = await kim.ok("GET", "/notifications")
    told = [(n["chat_id"], n["push"]) for n in page["notifications"] if n["kind"] == "message"]
    assert told == [(chat, True)]
