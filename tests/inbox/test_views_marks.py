"""Per-manager marks: Unread follows each manager's read marker (I1), favourites are per
manager and need no operator seat (I10)."""

from __future__ import annotations

from typing import Any

from bridgekit.testing.harness import RunningBridge
from tests.conftest import integration
from tests.inbox.views_helpers import Client, customer_writes, new_client, operator_client
from tests.support.testchannel import TestChannelPlugin


async def start(make_bridge: Any, sandbox_url: str) -> RunningBridge:
    running: RunningBridge = await make_bridge(
        plugins={"testchat": TestChannelPlugin()}, integrations={"acme": integration(sandbox_url)}
    )
    return running


async def unread_ids(client: Client) -> set[int]:
    return set(await client.ids("view=unread"))


async def test_i1_unread_follows_each_managers_own_read_marker(make_bridge, sandbox_url: str) -> None:
    running = await start(make_bridge, sandbox_url)
    me = await operator_client(running)
    kim = await new_client(running, "Kim")
    await customer_writes(running, "acme", "u-1", "first")
    await customer_writes(running, "acme", "u-2", "other")
    chats = {c["customer_id"]: c for c in (await me.page())["chats"]}
    first, other = sorted(c["id"] for c in chats.values())
    assert await unread_ids(me) == {first, other}  # never read + a customer message
    assert await unread_ids(kim) == {first, other}

    read = await me.ok("POST", f"/chats/{first}/read")  # default: up to the latest message
    assert read["unread"] is False
    assert await unread_ids(me) == {other}
    assert await unread_ids(kim) == {first, other}  # Kim has not read it
    assert (await me.views())["unread"] == 1
    assert (await kim.views())["unread"] == 2
    listed = {c["id"]: c["unread"] for c in (await me.page())["chats"]}
    assert listed == {first: False, other: True}
    assert (await me.ok("GET", f"/chats/{first}"))["unread"] is False
    assert (await kim.ok("GET", f"/chats/{first}"))["unread"] is True

    await customer_writes(running, "acme", "u-1", "second")  # a newer message: unread again
    assert await unread_ids(me) == {first, other}

    await me.ok("POST", f"/chats/{first}/read")
    await running.reply(first, "On it")  # the manager's own reply does not make it unread
    assert await unread_ids(me) == {other}
    assert first in await unread_ids(kim)
    await kim.ok("POST", f"/chats/{first}/read")
    assert first not in await unread_ids(kim)


async def test_read_markers_only_move_forward_and_stay_in_their_chat(make_bridge, sandbox_url: str) -> None:
    running = await start(make_bridge, sandbox_url)
    me = await operator_client(running)
    await customer_writes(running, "acme", "u-1", "one")
    await customer_writes(running, "acme", "u-1", "two")
    await customer_writes(running, "acme", "u-2", "elsewhere")
    chats = sorted(c["id"] for c in (await me.page())["chats"])
    chat, other = chats
    one, two = [m["id"] for m in await running.messages(chat)]
    (elsewhere,) = [m["id"] for m in await running.messages(other)]

    marked = await me.ok("POST", f"/chats/{chat}/read", json={"message_id": one})
    assert marked == {"chat_id": chat, "last_read_message_id": one, "unread": True}
    marked = await me.ok("POST", f"/chats/{chat}/read", json={"message_id": two})
    assert (marked["last_read_message_id"], marked["unread"]) == (two, False)
    marked = await me.ok("POST", f"/chats/{chat}/read", json={"message_id": one})  # not backward
    assert (marked["last_read_message_id"], marked["unread"]) == (two, False)

    status, body = await me.call("POST", f"/chats/{chat}/read", json={"message_id": elsewhere})
    assert status == 400
    assert "not in chat" in body["error"]
    status, body = await me.call("POST", f"/chats/{chat}/read", json={"message_id": "x"})
    assert status == 400
    status, body = await me.call("POST", "/chats/99999/read")
    assert status == 404


async def test_i10_stars_are_per_manager_and_need_no_operator_seat(make_bridge, sandbox_url: str) -> None:
    running = await start(make_bridge, sandbox_url)
    me = await operator_client(running)
    viewer = await new_client(running, "Viewer", operator=False)
    await customer_writes(running, "acme", "u-1", "hi")
    await customer_writes(running, "acme", "u-2", "hello")
    a, b = sorted(c["id"] for c in (await me.page())["chats"])

    assert await viewer.ok("PUT", f"/chats/{a}/star") == {"chat_id": a, "starred": True}
    assert await viewer.ok("PUT", f"/chats/{a}/star") == {"chat_id": a, "starred": True}  # idempotent
    await me.ok("PUT", f"/chats/{b}/star")
    assert set(await viewer.ids("view=favourites")) == {a}
    assert set(await me.ids("view=favourites")) == {b}
    assert {c["id"]: c["starred"] for c in (await viewer.page())["chats"]} == {a: True, b: False}
    assert (await me.ok("GET", f"/chats/{a}"))["starred"] is False
    assert (await viewer.ok("GET", f"/chats/{a}"))["starred"] is True
    assert (await viewer.views())["favourites"] == 1

    assert await viewer.ok("DELETE", f"/chats/{a}/star") == {"chat_id": a, "starred": False}
    assert await viewer.ok("DELETE", f"/chats/{a}/star") == {"chat_id": a, "starred": False}
    assert await viewer.ids("view=favourites") == []
    assert set(await me.ids("view=favourites")) == {b}
    status, _ = await me.call("PUT", "/chats/99999/star")
    assert status == 404
