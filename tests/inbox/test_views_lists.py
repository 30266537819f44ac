"""Inbox lists (I1-I3, I5, I6): which chats each view shows a manager."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from bridgekit.model import InboxSlot
from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from tests.conftest import integration
from tests.inbox.views_helpers import (
    Client,
    add_team,
    follow,
    new_client,
    open_chats,
    operator_client,
    set_chat,
    tag,
)
from tests.support.testchannel import TestChannelPlugin


async def start(make_bridge: Any, sandbox_url: str) -> RunningBridge:
    running: RunningBridge = await make_bridge(
        plugins={"testchat": TestChannelPlugin()}, integrations={"acme": integration(sandbox_url)}
    )
    return running


async def ids(client: Client, query: str) -> set[int]:
    return set(await client.ids(query))


async def test_i1_each_personal_view_shows_the_managers_own_chats(make_bridge, sandbox_url: str) -> None:
    """I1: All, My chats, Favourites and My sessions (mine + followed, plus unassigned ones
    only while "notify unassigned chats" is on), each for the calling manager."""
    running = await start(make_bridge, sandbox_url)
    me = await operator_client(running)
    kim = await new_client(running, "Kim")
    mine, followed, unassigned, kims, closed_mine, starred = await open_chats(running, "acme", 6)
    await set_chat(running, mine, assignee_id=me.id)
    await set_chat(running, followed, assignee_id=kim.id)
    await follow(running, followed, me.id)
    await set_chat(running, kims, assignee_id=kim.id)
    await set_chat(running, closed_mine, assignee_id=me.id, state="closed")
    await set_chat(running, starred, assignee_id=kim.id)
    await me.ok("PUT", f"/chats/{starred}/star")

    assert await ids(me, "view=all") == {mine, followed, unassigned, kims, starred}
    assert await ids(me, "view=mine") == {mine}
    assert await ids(me, "view=mine&state=closed") == {closed_mine}
    assert await ids(me, "view=favourites") == {starred}
    assert await ids(me, "view=sessions") == {mine, followed}
    assert await ids(kim, "view=mine") == {followed, kims, starred}
    assert await ids(kim, "view=favourites") == set()
    assert await ids(kim, "view=sessions") == {followed, kims, starred}
    assert await ids(me, f"view=assignee&manager={kim.id}") == {followed, kims, starred}

    async with running.bridge.db.write() as conn:
        await conn.execute(update(s.managers).where(s.managers.c.id == me.id).values(notify_unassigned=True))
    assert await ids(me, "view=sessions") == {mine, followed, unassigned}
    assert await ids(kim, "view=sessions") == {followed, kims, starred}

    views = await me.views()
    assert (views["all"], views["mine"], views["favourites"], views["sessions"]) == (5, 1, 1, 3)
    kim_views = await kim.views()
    assert (kim_views["mine"], kim_views["favourites"], kim_views["sessions"]) == (3, 0, 3)


async def test_i2_unassigned_lists_waiting_chats_without_assignee_and_per_team(
    make_bridge, sandbox_url: str
) -> None:
    """I2: Unassigned = open chats with no assignee; per team = team set, no assignee."""
    running = await start(make_bridge, sandbox_url)
    me = await operator_client(running)
    sales, support = await add_team(running, "Sales"), await add_team(running, "Support")
    no_team, sales_waiting, sales_taken, closed = await open_chats(running, "acme", 4)
    await set_chat(running, sales_waiting, team_id=sales)
    await set_chat(running, sales_taken, team_id=sales, assignee_id=me.id)
    await set_chat(running, closed, state="closed")

    assert await ids(me, "view=unassigned") == {no_team, sales_waiting}
    assert await ids(me, f"view=unassigned&team={sales}") == {sales_waiting}
    assert await ids(me, f"view=unassigned&team={support}") == set()
    assert await ids(me, f"view=all&team={sales}") == {sales_waiting, sales_taken}

    unassigned = (await me.views())["unassigned"]
    assert unassigned == {
        "count": 2,
        "teams": [
            {"id": sales, "name": "Sales", "count": 1},
            {"id": support, "name": "Support", "count": 0},
        ],
    }


async def test_i3_the_queue_lists_queued_chats_per_team_and_is_hidden_when_empty(
    make_bridge, sandbox_url: str
) -> None:
    """I3: queued chats are not in All or Unassigned; per-team counts; no queue key when empty."""
    running = await start(make_bridge, sandbox_url)
    me = await operator_client(running)
    sales, support = await add_team(running, "Sales"), await add_team(running, "Support")
    a, b, c, waiting = await open_chats(running, "acme", 4)

    views = await me.views()
    assert "queue" not in views
    assert await ids(me, "view=queue") == set()

    await set_chat(running, a, state="queued", team_id=sales)
    await set_chat(running, b, state="queued", team_id=sales)
    await set_chat(running, c, state="queued", team_id=support)
    assert await ids(me, "view=queue") == {a, b, c}
    assert await ids(me, f"view=queue&team={sales}") == {a, b}
    assert await ids(me, "view=all") == {waiting}
    assert await ids(me, "view=unassigned") == {waiting}
    assert await ids(me, "view=all&state=queued") == {a, b, c}
    assert (await me.views())["queue"] == {
        "count": 3,
        "teams": [
            {"id": sales, "name": "Sales", "count": 2},
            {"id": support, "name": "Support", "count": 1},
        ],
    }

    for chat in (a, b, c):  # assigned manually from the queue
        await set_chat(running, chat, state="open", assignee_id=me.id)
    assert "queue" not in await me.views()


async def test_i4_assignees_with_open_chats_are_counted_and_over_capacity_is_flagged(
    make_bridge, sandbox_url: str
) -> None:
    """I4: managers with at least one open chat; over their max auto-assignment is flagged."""
    running = await start(make_bridge, sandbox_url)
    me = await operator_client(running)
    lee = await new_client(running, "Lee", max_auto_assign=1)
    await new_client(running, "Idle")
    first, second, mine, closed = await open_chats(running, "acme", 4)
    for chat in (first, second):
        await set_chat(running, chat, assignee_id=lee.id)
    await set_chat(running, mine, assignee_id=me.id)
    await set_chat(running, closed, assignee_id=me.id, state="closed")

    assert (await me.views())["assignees"] == [
        {"id": lee.id, "name": "Lee", "count": 2, "max_auto_assign": 1, "over_capacity": True},
        {"id": me.id, "name": "Test Operator", "count": 1, "max_auto_assign": 10, "over_capacity": False},
    ]


async def test_i5_integrations_are_listed_in_the_fixed_order_even_with_no_open_chats(
    make_bridge, sandbox_url: str
) -> None:
    """I5/P3: one entry per linked integration, phone - email - ... - LINE - others, with counts."""
    plugins = {
        "other": TestChannelPlugin("aaother"),
        "line": TestChannelPlugin("bbline", InboxSlot.LINE),
        "mail": TestChannelPlugin("ccmail", InboxSlot.EMAIL),
        "phone": TestChannelPlugin("ddphone", InboxSlot.PHONE),
    }
    running: RunningBridge = await make_bridge(
        plugins=plugins,
        integrations={
            "a-other": integration(sandbox_url, "aaother"),
            "b-line": integration(sandbox_url, "bbline"),
            "c-mail": integration(sandbox_url, "ccmail"),
            "d-phone": integration(sandbox_url, "ddphone"),
        },
    )
    me = await operator_client(running)
    line_chats = await open_chats(running, "b-line", 2, "l")
    (closed_other,) = await open_chats(running, "a-other", 1, "o")
    await set_chat(running, closed_other, state="closed")

    listed = (await me.views())["integrations"]
    assert [(i["name"], i["count"]) for i in listed] == [
        ("d-phone", 0),
        ("c-mail", 0),
        ("b-line", 2),
        ("a-other", 0),
    ]
    assert listed[2] == {"name": "b-line", "channel": "bbline", "title": "Bbline", "mark": "T", "count": 2}
    assert await ids(me, "view=integration&integration=b-line") == set(line_chats)
    assert await ids(me, "view=integration&integration=d-phone") == set()
    status, body = await me.call("GET", "/chats?view=integration&integration=nope")
    assert status == 400
    assert "nope" in body["error"]


async def test_i6_tags_count_open_chats_and_filter_the_list(make_bridge, sandbox_url: str) -> None:
    """I6: open-chat count per tag; the tag view and tag= filter show only tagged chats."""
    running = await start(make_bridge, sandbox_url)
    me = await operator_client(running)
    a, b, c, closed = await open_chats(running, "acme", 4)
    await tag(running, a, "refund", "vip")
    await tag(running, b, "vip")
    await tag(running, closed, "vip")
    await set_chat(running, closed, state="closed")
    await set_chat(running, b, assignee_id=me.id)

    assert (await me.views())["tags"] == [{"tag": "refund", "count": 1}, {"tag": "vip", "count": 2}]
    assert await ids(me, "view=tag&tag=vip") == {a, b}
    assert await ids(me, "view=mine&tag=vip") == {b}
    assert await ids(me, "view=tag&tag=vip&state=closed") == {closed}
    page = await me.page("view=tag&tag=refund")
    assert [(ch["id"], ch["tags"]) for ch in page["chats"]] == [(a, ["refund", "vip"])]
    assert await ids(me, "view=tag&tag=none") == set()
    assert c not in await ids(me, "view=tag&tag=vip")


async def test_list_items_keep_the_chat_fields_and_add_marks(make_bridge, sandbox_url: str) -> None:
    """I9: the messenger mark; plus team, tags, starred and unread for the caller."""
    running = await start(make_bridge, sandbox_url)
    me = await operator_client(running)
    team = await add_team(running, "Sales")
    (chat,) = await open_chats(running, "acme", 1)
    await set_chat(running, chat, team_id=team)
    page = await me.page()
    assert page["next_cursor"] is None
    (item,) = page["chats"]
    assert item["id"] == chat
    assert {"title", "state", "customer_id", "created_at", "last_message_at", "assignee_id"} <= set(item)
    assert (item["integration"], item["channel"], item["mark"]) == ("acme", "testchat", "T")
    assert (item["team_id"], item["tags"], item["starred"], item["unread"]) == (team, [], False, True)
    assert item["state"] == "open"


async def test_bad_list_requests_are_refused_with_a_reason(make_bridge, sandbox_url: str) -> None:
    running = await start(make_bridge, sandbox_url)
    me = await operator_client(running)
    for query, error in [
        ("view=nope", "view must be one of"),
        ("state=nope", "state must be one of"),
        ("sort=nope", "sort must be one of"),
        ("limit=x", "limit must be an integer"),
        ("limit=0", "limit must be at least 1"),
        ("cursor=%%%", "cursor is not valid"),
        ("view=tag", "needs tag="),
        ("view=assignee", "needs manager="),
        ("view=integration", "needs integration="),
        ("view=queue&state=open", "queued chats only"),
        ("team=abc", "team must be an integer"),
    ]:
        status, body = await me.call("GET", f"/chats?{query}")
        assert status == 400, query
        assert error in body["error"], (query, body)


async def test_list_items_preview_the_last_message_on_one_line(make_bridge, sandbox_url: str) -> None:
    """The inbox list's preview line: the newest message's kind and text, shortened."""
    running = await start(make_bridge, sandbox_url)
    me = await operator_client(running)
    first, second = await open_chats(running, "acme", 2)
    await running.api(
        "POST", f"/chats/{second}/messages", json={"kind": "note", "text": "환불\n확인 " + "x" * 200}
    )
    items = {item["id"]: item for item in (await me.page())["chats"]}
    assert items[first]["last_message"] == {"kind": "customer", "text": "hello 0"}
    note = items[second]["last_message"]
    assert note["kind"] == "note"
    assert note["text"].startswith("환불 확인 xxx")
    assert note["text"].endswith("…")
    assert len(note["text"]) == 120
