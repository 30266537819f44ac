"""Bulk actions on selected chats and on all results of a search (I7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridgekit.testing.harness import RunningBridge
from bridgekit.web.auth import ADMIN
from tests.conftest import integration
from tests.inbox.chats_support import manager, notifications, open_chats
from tests.support.testchannel import TestChannelPlugin


async def start(make_bridge, sandbox_url: str) -> RunningBridge:
    return await make_bridge(
        plugins={"testchat": TestChannelPlugin()},
        integrations={"acme": integration(sandbox_url), "support": integration(sandbox_url, team="Support")},
    )


async def test_i7_bulk_tag_reports_per_chat_and_one_refusal_spares_the_others(
    make_bridge, sandbox_url: str
) -> None:
    """I7 + I6: a chat that already has 8 tags refuses a 9th; the others get the tag; an
    unknown chat is reported, not fatal."""
    running = await start(make_bridge, sandbox_url)
    kim = await manager(running, "Kim")
    full, plain, other = await open_chats(running, "acme", ["u1", "u2", "u3"])
    await kim.ok("PUT", f"/chats/{full}/tags", {"tags": [f"t{n}" for n in range(8)]})

    results = await kim.ok(
        "POST", "/chats/bulk", {"action": "tag", "tag": "vip", "chat_ids": [full, plain, 999999, other]}
    )

    assert results == [
        {
            "chat_id": full,
            "ok": False,
            "error": "a chat can have at most 8 tags",
            "code": "too_many_tags",  # a client words it in its own language
            "details": {"max": 8},
        },
        {"chat_id": plain, "ok": True},
        {"chat_id": 999999, "ok": False, "error": "no such chat"},
        {"chat_id": other, "ok": True},
    ]
    assert "vip" not in (await kim.info(full))["tags"]
    assert (await kim.info(plain))["tags"] == ["vip"]


async def test_i7_bulk_snooze_is_all_or_nothing_per_chat(make_bridge, sandbox_url: str) -> None:
    """A queued chat cannot be snoozed: it stays exactly as it was while the rest snooze."""
    running = await start(make_bridge, sandbox_url)
    admin = await manager(running, "Admin", permissions=(ADMIN,))
    await admin.ok("POST", "/teams", {"name": "Support", "auto_assign": True})  # nobody in it
    (queued,) = await open_chats(running, "support", ["q1"], prefix="q")
    first, second = await open_chats(running, "acme", ["u1", "u2"])
    until = (datetime.now(UTC) + timedelta(days=2)).isoformat()

    results = await admin.ok(
        "POST", "/chats/bulk", {"action": "snooze", "until": until, "chat_ids": [first, queued, second]}
    )

    assert [r["ok"] for r in results] == [True, False, True]
    assert "queued" in results[1]["error"]
    assert (await admin.info(queued))["state"] == "queued"
    assert [(await admin.info(c))["state"] for c in (first, second)] == ["snoozed", "snoozed"]


async def test_i7_bulk_assign_and_whole_request_refusals(make_bridge, sandbox_url: str) -> None:
    running = await start(make_bridge, sandbox_url)
    kim = await manager(running, "Kim")
    park = await manager(running, "Park")
    viewer = await manager(running, "Viewer", operator=False)
    chats = await open_chats(running, "acme", ["u1", "u2"])

    results = await kim.ok(
        "POST", "/chats/bulk", {"action": "assign", "manager_id": park.manager_id, "chat_ids": chats}
    )
    assert all(r["ok"] for r in results)
    for chat in chats:
        assert (await kim.info(chat))["assignee_id"] == park.manager_id
        assert await notifications(running, chat) == [(park.manager_id, "assigned")]

    refusals = [
        ({"action": "assign", "manager_id": viewer.manager_id, "chat_ids": chats}, "operator seat"),
        ({"action": "explode", "chat_ids": chats}, "action must be one of"),
        ({"action": "close"}, "either chat_ids or query"),
        ({"action": "tag", "tag": "", "chat_ids": chats}, "non-empty"),
        ({"action": "snooze", "until": "2001-01-01T00:00:00Z", "chat_ids": chats}, "in the future"),
        ({"action": "close", "query": {"view": "nonsense"}}, "view must be one of"),
        # A megabyte to search every message for is no search a person types: refused.
        ({"action": "close", "query": {"q": "x" * 1_000_000}}, "q can be at most 1000 characters"),
    ]
    for body, error in refusals:
        status, answer = await kim.call("POST", "/chats/bulk", body)
        assert status == 400, body
        assert error in answer["error"]
    assert [(await kim.info(c))["state"] for c in chats] == ["open", "open"]


async def test_i7_bulk_close_of_a_500_chat_search_result(make_bridge, sandbox_url: str) -> None:
    """I7: "select all" on a search closes every matching chat (across list pages), and
    only those; the operator sees the search come back empty."""
    running = await start(make_bridge, sandbox_url)
    kim = await manager(running, "Kim")
    matching = await open_chats(running, "acme", [f"r{n}" for n in range(500)], text="refund please")
    others = await open_chats(
        running, "acme", [f"o{n}" for n in range(20)], prefix="o", text="where is my parcel"
    )

    results = await kim.ok(
        "POST", "/chats/bulk", {"action": "close", "query": {"q": "refund", "state": "open"}}
    )

    assert sorted(r["chat_id"] for r in results) == sorted(matching)
    assert all(r["ok"] for r in results)
    assert (await kim.ok("GET", "/chats?q=refund&state=open"))["chats"] == []
    closed = await kim.ok("GET", "/chats?q=refund&state=closed&limit=100")
    assert len(closed["chats"]) == 100
    assert closed["next_cursor"] is not None  # more pages of closed refund chats follow
    assert {(await kim.info(c))["state"] for c in others} == {"open"}
    assert {(await kim.info(c))["state"] for c in matching[::50]} == {"closed"}
