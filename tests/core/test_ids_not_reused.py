"""Ids of deleted chats and messages are never handed out again (issue 12, item 13): SQLite
allocated max(id) + 1, so after the newest chat was deleted the next one took its ids, and a
link, notification or bookmark kept from before opened someone else's conversation."""

from __future__ import annotations

from bridgekit.web.auth import DELETE_CHATS
from tests.conftest import integration, signed
from tests.inbox.chats_support import manager
from tests.support.testchannel import TestChannelPlugin


async def test_after_a_chat_is_deleted_new_chats_and_messages_get_new_ids(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    running = await make_bridge(
        plugins={"testchat": channel_plugin}, integrations={"acme": integration(sandbox_url)}
    )
    for n in range(3):
        await running.post_hook("acme", *signed({"id": f"ev-{n}", "user": "u-1", "text": f"hi {n}"}))
    [old_chat] = await running.chats()
    note = await running.note(old_chat["id"], "VIP, call back")  # through the API, not the ingest
    old_ids = [m["id"] for m in await running.messages(old_chat["id"])]
    assert note["id"] == max(old_ids)
    remover = await manager(running, "Remover", permissions=(DELETE_CHATS,))
    status, _ = await remover.call("DELETE", f"/chats/{old_chat['id']}")
    assert status == 200
    assert await running.chats() == []

    # The ingest (plain SQL, its own id allocation) and the API (the database's) alike.
    await running.post_hook("acme", *signed({"id": "ev-new", "user": "u-2", "text": "new customer"}))
    [new_chat] = await running.chats()
    assert new_chat["id"] > old_chat["id"]
    [first] = await running.messages(new_chat["id"])
    assert first["id"] > max(old_ids)
    reply = await running.reply(new_chat["id"], "hello")
    assert reply["id"] > first["id"]
