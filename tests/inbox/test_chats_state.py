"""Chat states: close, reopen, snooze and its end, also across a restart (I10, E6, I18)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from bridgekit.model import Capabilities
from bridgekit.testing.harness import RunningBridge
from tests.conftest import integration
from tests.inbox.chats_support import StateRecorder, manager, notifications, open_chats
from tests.support.testchannel import TestChannelPlugin


def at(seconds: float = 0, days: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds, days=days)).isoformat()


async def start(make_bridge, sandbox_url: str, **plugins: object) -> RunningBridge:
    return await make_bridge(
        plugins={"testchat": TestChannelPlugin(), **plugins},
        integrations={"acme": integration(sandbox_url)},
    )


async def test_i10_close_snooze_reopen_and_bots_see_each_change(make_bridge, sandbox_url: str) -> None:
    """I10: close, snooze and reopen change the chat's state; every change is a
    chat_state_changed flow event a bot sees."""
    recorder = StateRecorder()
    running = await start(make_bridge, sandbox_url, recorder=recorder)
    kim = await manager(running, "Kim")
    (chat,) = await open_chats(running, "acme", ["u1"])
    assert (await kim.ok("GET", f"/chats/{chat}"))["manager_can_reopen"] is True

    closed = await kim.ok("POST", f"/chats/{chat}/close")
    assert (closed["state"], closed["closed_at"] is not None) == ("closed", True)
    snoozed = await kim.ok("POST", f"/chats/{chat}/snooze", {"until": at(days=3)})
    assert (snoozed["state"], snoozed["closed_at"]) == ("snoozed", None)
    assert snoozed["snoozed_until"].startswith(at(days=3)[:13])
    reopened = await kim.ok("POST", f"/chats/{chat}/reopen")
    assert (reopened["state"], reopened["snoozed_until"]) == ("open", None)

    await running.wait_for(lambda: len(recorder.states) == 4)
    assert recorder.states == [
        (chat, None, "open"),
        (chat, "open", "closed"),
        (chat, "closed", "snoozed"),
        (chat, "snoozed", "open"),
    ]


async def test_i10_snooze_is_limited_to_180_days_in_the_future(make_bridge, sandbox_url: str) -> None:
    running = await start(make_bridge, sandbox_url)
    kim = await manager(running, "Kim")
    (chat,) = await open_chats(running, "acme", ["u1"])

    assert (await kim.call("POST", f"/chats/{chat}/snooze", {"until": at(days=179)}))[0] == 200
    status, body = await kim.call("POST", f"/chats/{chat}/snooze", {"until": at(days=181)})
    assert (status, body) == (
        400,
        {
            "error": "a chat can be snoozed for at most 180 days",
            "code": "snooze_too_far",
            "details": {"days": 180},
        },
    )
    status, body = await kim.call("POST", f"/chats/{chat}/snooze", {"until": at(seconds=-60)})
    assert (status, body) == (400, {"error": "until must be in the future", "code": "snooze_in_past"})
    status, _ = await kim.call("POST", f"/chats/{chat}/snooze", {"until": "next tuesday"})
    assert status == 400


async def test_i10_snooze_ends_on_time_across_a_restart_and_tells_the_assignee(
    make_bridge, sandbox_url: str
) -> None:
    """I10: a chat snoozed for 2 s while the server restarts reopens at its time (not at a
    poll) and its assignee is notified."""
    first = await start(make_bridge, sandbox_url)
    kim = await manager(first, "Kim")
    (chat,) = await open_chats(first, "acme", ["u1"])
    await kim.ok("POST", f"/chats/{chat}/assign", {"manager_id": kim.manager_id})
    due = time.monotonic() + 2
    await kim.ok("POST", f"/chats/{chat}/snooze", {"until": at(seconds=2)})

    await first.close()  # the bridge stops; the snooze is only in the database now
    second = await start(make_bridge, sandbox_url)
    kim.running = second
    assert (await kim.info(chat))["state"] == "snoozed"
    assert time.monotonic() < due, "the restart took longer than the snooze"

    await second.wait_for(lambda: _state(kim, chat, "open"), timeout=5, interval=0.02)
    assert abs(time.monotonic() - due) < 1.0
    assert (kim.manager_id, "snooze_ended") in await notifications(second, chat)


async def _state(client, chat: int, state: str) -> bool:
    return bool((await client.info(chat))["state"] == state)


async def test_i10_a_snooze_that_ended_while_down_wakes_at_start(make_bridge, sandbox_url: str) -> None:
    first = await start(make_bridge, sandbox_url)
    kim = await manager(first, "Kim")
    (chat,) = await open_chats(first, "acme", ["u1"])
    await kim.ok("POST", f"/chats/{chat}/assign", {"manager_id": kim.manager_id})
    await kim.ok("POST", f"/chats/{chat}/snooze", {"until": at(seconds=0.3)})
    await first.close()
    await asyncio.sleep(0.5)

    second = await start(make_bridge, sandbox_url)
    kim.running = second
    await second.wait_for(lambda: _state(kim, chat, "open"), timeout=3)
    assert (kim.manager_id, "snooze_ended") in await notifications(second, chat)


async def test_e6_a_closed_email_like_chat_cannot_be_reopened(make_bridge, sandbox_url: str) -> None:
    """E6: channels declaring manager_can_reopen=False (email) refuse a manager's reopen."""
    mail = TestChannelPlugin("maillike", capabilities=Capabilities(manager_can_reopen=False))
    running = await make_bridge(
        plugins={"maillike": mail}, integrations={"inbox": integration(sandbox_url, channel="maillike")}
    )
    kim = await manager(running, "Kim")
    (chat,) = await open_chats(running, "inbox", ["u1"])
    assert (await kim.ok("GET", f"/chats/{chat}"))["manager_can_reopen"] is False  # the inbox hides it
    await kim.ok("POST", f"/chats/{chat}/close")

    status, body = await kim.call("POST", f"/chats/{chat}/reopen")
    assert status == 400
    assert "cannot be reopened by a manager" in body["error"]
    assert (await kim.info(chat))["state"] == "closed"


async def test_i18_without_the_operator_seat_state_and_info_changes_are_refused(
    make_bridge, sandbox_url: str
) -> None:
    """I18: assignment, state changes, tags and description need the operator seat (403)."""
    running = await start(make_bridge, sandbox_url)
    kim = await manager(running, "Kim")
    viewer = await manager(running, "Viewer", operator=False)
    (chat,) = await open_chats(running, "acme", ["u1"])
    attempts = [
        ("POST", f"/chats/{chat}/assign", {"manager_id": kim.manager_id}),
        ("POST", f"/chats/{chat}/close", None),
        ("POST", f"/chats/{chat}/reopen", None),
        ("POST", f"/chats/{chat}/snooze", {"until": at(days=1)}),
        ("PUT", f"/chats/{chat}/tags", {"tags": ["vip"]}),
        ("POST", f"/chats/{chat}/tags/vip", None),
        ("DELETE", f"/chats/{chat}/tags/vip", None),
        ("PATCH", f"/chats/{chat}", {"description": "#refund asked"}),
        ("PUT", f"/chats/{chat}/followers/{kim.manager_id}", None),
        ("POST", "/chats/bulk", {"action": "close", "chat_ids": [chat]}),
    ]
    for method, path, body in attempts:
        status, answer = await viewer.call(method, path, body)
        assert (status, answer) == (
            403,
            {"error": "this needs the operator seat", "code": "operator_seat"},
        ), (
            method,
            path,
        )
    info = await viewer.info(chat)  # reading is fine
    assert (info["state"], info["assignee_id"], info["tags"], info["description"]) == ("open", None, [], None)
    followed = await viewer.ok("PUT", f"/chats/{chat}/followers/{viewer.manager_id}")
    assert followed["follower_ids"] == [viewer.manager_id]  # following yourself needs no seat
