"""Sorting (I8) and keyset paging: every chat exactly once, in a strict order, on any page size."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from bridgekit.inbox.managers import Manager
from bridgekit.inbox.views import matching_chat_ids
from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from tests.conftest import integration
from tests.inbox.views_helpers import minutes, open_chats, operator_client, set_chat, tag
from tests.support.testchannel import TestChannelPlugin


async def start(make_bridge: Any, sandbox_url: str) -> RunningBridge:
    running: RunningBridge = await make_bridge(
        plugins={"testchat": TestChannelPlugin()}, integrations={"acme": integration(sandbox_url)}
    )
    return running


async def times(running: RunningBridge) -> dict[int, tuple[datetime, datetime]]:
    c = s.chats.c
    async with running.bridge.db.read() as conn:
        rows = await conn.execute(select(c.id, c.last_message_at, c.created_at).where(c.state == "open"))
        return {int(r.id): (r.last_message_at, r.created_at) for r in rows}


async def test_i8_chats_sort_by_latest_message_newest_or_oldest(make_bridge, sandbox_url: str) -> None:
    """I8: latest message first (default), newest created first, or oldest created first."""
    running = await start(make_bridge, sandbox_url)
    me = await operator_client(running)
    a, b, c = await open_chats(running, "acme", 3)
    # a started first but the customer wrote last; c is the newest chat.
    await set_chat(running, a, created_at=minutes(0), last_message_at=minutes(30))
    await set_chat(running, b, created_at=minutes(1), last_message_at=minutes(10))
    await set_chat(running, c, created_at=minutes(2), last_message_at=minutes(20))

    assert await me.ids("") == [a, c, b]
    assert await me.ids("sort=latest") == [a, c, b]
    assert await me.ids("sort=newest") == [c, b, a]
    assert await me.ids("sort=oldest") == [a, b, c]
    page = (await me.page())["chats"]
    assert [ch["last_message_at"] for ch in page] == [
        "2024-05-01T09:30:00Z",
        "2024-05-01T09:20:00Z",
        "2024-05-01T09:10:00Z",
    ]


async def test_cursor_paging_through_250_chats_has_no_duplicates_or_gaps(
    make_bridge, sandbox_url: str
) -> None:
    """Keyset paging with an id tiebreak: many chats share a timestamp, yet walking the pages
    yields each open chat exactly once, in exactly the sort order, for every sort."""
    running = await start(make_bridge, sandbox_url)
    me = await operator_client(running)
    chat_ids = await open_chats(running, "acme", 250)
    assert len(chat_ids) == 250
    for i, chat in enumerate(chat_ids):
        # Ties on purpose: groups of 7 share a latest-message time, groups of 5 a creation time.
        await set_chat(
            running, chat, last_message_at=minutes((i * 37 % 250) // 7), created_at=minutes(i // 5)
        )
    for tagged in chat_ids[::3]:  # tagged before the times and states change: the tag's rows follow
        await tag(running, tagged, "vip")
    for closed in chat_ids[:10]:
        await set_chat(running, closed, state="closed")
    known = await times(running)

    expected = {
        "latest": sorted(known, key=lambda i: (known[i][0], i), reverse=True),
        "newest": sorted(known, key=lambda i: (known[i][1], i), reverse=True),
        "oldest": sorted(known, key=lambda i: (known[i][1], i)),
    }
    for sort, order in expected.items():
        for limit in (1, 37, 100):
            if limit == 1 and sort != "latest":
                continue  # one full 240-request walk is enough
            walked = await me.ids(f"sort={sort}&limit={limit}")
            assert walked == order, (sort, limit)
        # The tag view pages by the tag rows' copies of the same keys (migration 0012).
        in_tag = [chat for chat in order if chat in chat_ids[::3]]
        assert await me.ids(f"view=tag&tag=vip&sort={sort}&limit=9") == in_tag, sort
    first = await me.page("limit=37")
    assert len(first["chats"]) == 37
    assert isinstance(first["next_cursor"], str)
    capped = await me.page("limit=200")  # more than 100 per page is served as 100
    assert len(capped["chats"]) == 100
    second = await me.page("limit=100&cursor=" + capped["next_cursor"])
    last = await me.page("limit=100&cursor=" + second["next_cursor"])
    assert (len(second["chats"]), len(last["chats"]), last["next_cursor"]) == (100, 40, None)


async def test_a_cursor_of_another_sort_is_refused(make_bridge, sandbox_url: str) -> None:
    running = await start(make_bridge, sandbox_url)
    me = await operator_client(running)
    await open_chats(running, "acme", 3)
    cursor = (await me.page("limit=1"))["next_cursor"]
    status, body = await me.call("GET", f"/chats?limit=1&sort=oldest&cursor={cursor}")
    assert status == 400
    assert "another sort" in body["error"]


async def test_i7_matching_chat_ids_are_every_result_of_a_list_request(make_bridge, sandbox_url: str) -> None:
    """I7: bulk actions on "all results of a search" act on exactly what the pages show."""
    running = await start(make_bridge, sandbox_url)
    me = await operator_client(running)
    chat_ids = await open_chats(running, "acme", 130)
    for chat in chat_ids[::2]:
        await tag(running, chat, "vip")
    await set_chat(running, chat_ids[0], state="closed")
    manager = Manager(me.id, "Test Operator", True, frozenset())
    query = {"view": "tag", "tag": "vip", "sort": "oldest", "limit": "10", "cursor": "ignored"}
    async with running.bridge.db.read() as conn:
        found = await matching_chat_ids(conn, manager, query)
        capped = await matching_chat_ids(conn, manager, query, limit=5)
    assert found == await me.ids("view=tag&tag=vip&sort=oldest&limit=10")
    assert found == chat_ids[2::2]
    assert capped == found[:5]
    async with running.bridge.db.read() as conn:
        assert await matching_chat_ids(conn, manager, {"q": "hello 12"}) == sorted(
            [chat_ids[12], *chat_ids[120:130]], reverse=True
        )
