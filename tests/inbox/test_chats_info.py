"""Chat info (I16): tags (at most 8, I6), description with #hashtags, goal, followers; and
permanent delete (I12)."""

from __future__ import annotations

import asyncio
import base64
import os

from sqlalchemy import func, select

from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from bridgekit.web.auth import DELETE_CHATS
from tests.conftest import integration, signed
from tests.inbox.chats_support import manager, open_chats
from tests.support.testchannel import TestChannelPlugin

# I6: the ninth tag is refused with its code, so the browser can say it in the manager's language
NINTH_TAG = {"error": "a chat can have at most 8 tags", "code": "too_many_tags", "details": {"max": 8}}


async def start(make_bridge, sandbox_url: str) -> RunningBridge:
    return await make_bridge(
        plugins={"testchat": TestChannelPlugin()}, integrations={"acme": integration(sandbox_url)}
    )


async def test_i6_a_ninth_tag_is_refused(make_bridge, sandbox_url: str) -> None:
    running = await start(make_bridge, sandbox_url)
    kim = await manager(running, "Kim")
    (chat,) = await open_chats(running, "acme", ["u1"])
    eight = [f"t{n}" for n in range(1, 9)]

    info = await kim.ok("PUT", f"/chats/{chat}/tags", {"tags": [*eight, "t1"]})  # duplicates collapse
    assert info["tags"] == eight
    status, body = await kim.call("POST", f"/chats/{chat}/tags/ninth")
    assert (status, body) == (400, NINTH_TAG)
    status, body = await kim.call("PUT", f"/chats/{chat}/tags", {"tags": [*eight, "ninth"]})
    assert (status, body) == (400, NINTH_TAG)
    assert (await kim.info(chat))["tags"] == eight

    assert (await kim.ok("POST", f"/chats/{chat}/tags/t3"))["tags"] == eight  # has it: no-op
    assert "t3" not in (await kim.ok("DELETE", f"/chats/{chat}/tags/t3"))["tags"]
    assert (
        "환불 요청"
        in (await kim.ok("POST", f"/chats/{chat}/tags/%ED%99%98%EB%B6%88%20%EC%9A%94%EC%B2%AD"))["tags"]
    )


async def test_i16_description_hashtags_goal_and_followers(make_bridge, sandbox_url: str) -> None:
    """I16: the description keeps #hashtags; the goal's state; the assignee always follows
    and cannot be removed, other followers can."""
    running = await start(make_bridge, sandbox_url)
    kim = await manager(running, "Kim")
    park = await manager(running, "Park")
    (chat,) = await open_chats(running, "acme", ["u1"])

    info = await kim.ok(
        "PATCH", f"/chats/{chat}", {"description": "#환불 wants a #refund", "goal": "achieved"}
    )
    assert (info["description"], info["hashtags"], info["goal"]) == (
        "#환불 wants a #refund",
        ["환불", "refund"],
        "achieved",
    )
    status, _ = await kim.call("PATCH", f"/chats/{chat}", {"goal": "maybe"})
    assert status == 400

    await kim.ok("POST", f"/chats/{chat}/assign", {"manager_id": kim.manager_id})
    info = await kim.ok("PUT", f"/chats/{chat}/followers/{park.manager_id}")
    assert info["follower_ids"] == [kim.manager_id, park.manager_id]
    status, body = await kim.call("DELETE", f"/chats/{chat}/followers/{kim.manager_id}")
    assert status == 400
    assert "assignee is always a follower" in body["error"]
    info = await kim.ok("DELETE", f"/chats/{chat}/followers/{park.manager_id}")
    assert info["follower_ids"] == [kim.manager_id]


async def test_i16_both_chat_routes_show_the_same_panel_with_one_hashtag_rule(
    make_bridge, sandbox_url: str
) -> None:
    """``GET /chats/{id}`` and ``GET /chats/{id}/info`` answer from one reader: a hashtag's
    "#" starts a word (not ``order#1042``, not ``##vip``), and both list the same followers,
    tags and hashtags."""
    running = await start(make_bridge, sandbox_url)
    kim = await manager(running, "Kim")
    park = await manager(running, "Park")
    (chat,) = await open_chats(running, "acme", ["u1"])
    await kim.ok("PATCH", f"/chats/{chat}", {"description": "order#1042 refund ##vip #환불 (#later) #환불"})
    await kim.ok("POST", f"/chats/{chat}/assign", {"manager_id": kim.manager_id})
    await kim.ok("PUT", f"/chats/{chat}/followers/{park.manager_id}")
    await kim.ok("PUT", f"/chats/{chat}/tags", {"tags": ["vip", "refund"]})

    info = await kim.info(chat)
    detail = await kim.ok("GET", f"/chats/{chat}")
    assert info["hashtags"] == detail["hashtags"] == ["환불", "later"]
    assert info["tags"] == detail["tags"] == ["refund", "vip"]
    assert info["follower_ids"] == [f["id"] for f in detail["followers"]] == [kim.manager_id, park.manager_id]
    assert (info["assignee_id"], detail["assignee"]["id"]) == (kim.manager_id, kim.manager_id)


async def test_i12_delete_needs_the_permission_and_removes_messages_and_files(
    make_bridge, sandbox_url: str
) -> None:
    """I12: only a manager with delete_chats deletes, one chat at a time, for good: its
    messages, attachments and their files (unless another chat still has the same file)."""
    running = await start(make_bridge, sandbox_url)
    kim = await manager(running, "Kim")
    remover = await manager(running, "Remover", operator=False, permissions=(DELETE_CHATS,))
    own = {"name": "a.txt", "type": "text/plain", "data": base64.b64encode(b"only here").decode()}
    shared = {"name": "b.txt", "type": "text/plain", "data": base64.b64encode(b"in both chats").decode()}
    body, headers = signed(
        {"id": "e1", "user": "u1", "text": "files", "files": [own, shared]},
        {"id": "e2", "user": "u2", "text": "same file", "files": [shared]},
    )
    assert (await running.post_hook("acme", body, headers))[0] == 200
    async with running.bridge.db.read() as conn:
        rows = (await conn.execute(select(s.messages.c.chat_id, s.messages.c.event_id))).all()
        found = await conn.execute(select(s.attachments.c.filename, s.attachments.c.storage_path))
        paths = {r.filename: r.storage_path for r in found}
    chat = next(r.chat_id for r in rows if r.event_id == "e1")
    other = next(r.chat_id for r in rows if r.event_id == "e2")
    await kim.ok("POST", f"/chats/{chat}/messages", {"text": "a note", "kind": "note"})

    status, answer = await kim.call("DELETE", f"/chats/{chat}")
    assert (status, answer) == (
        403,
        {
            "error": "this needs the delete_chats permission",
            "code": "permission",
            "details": {"permission": "delete_chats"},
        },
    )

    deleted = await remover.ok("DELETE", f"/chats/{chat}")
    assert deleted == {"chat_id": chat, "deleted_messages": 2, "deleted_attachments": 2, "removed_files": 1}
    assert (await kim.call("GET", f"/chats/{chat}/info"))[0] == 404
    assert (await remover.call("DELETE", f"/chats/{chat}"))[0] == 404
    assert await message_count(running, chat) == 0
    assert not await asyncio.to_thread(os.path.exists, paths["a.txt"])
    assert await asyncio.to_thread(os.path.exists, paths["b.txt"])  # the other chat still shows it
    assert await message_count(running, other) == 1
    assert (await kim.info(other))["state"] == "open"


async def message_count(running: RunningBridge, chat_id: int) -> int:
    m = s.messages
    async with running.bridge.db.read() as conn:
        query = select(func.count()).select_from(m).where(m.c.chat_id == chat_id)
        return int((await conn.execute(query)).scalar_one())
