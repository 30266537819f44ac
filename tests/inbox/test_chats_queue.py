"""Teams, routing of new chats, assignment and the queue (I2, I3, I4, I16)."""

from __future__ import annotations

from bridgekit.testing.harness import RunningBridge
from bridgekit.web.auth import ADMIN
from tests.conftest import integration
from tests.inbox.chats_support import Client, manager, notifications, open_chats
from tests.support.testchannel import TestChannelPlugin


async def start(make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin) -> RunningBridge:
    return await make_bridge(
        plugins={"testchat": channel_plugin},
        integrations={
            "support": integration(sandbox_url, team="Support"),
            "general": integration(sandbox_url),
        },
    )


async def support_team(admin: Client, members: list[int], *, auto_assign: bool = True) -> dict:
    status, team = await admin.call(
        "POST", "/teams", {"name": "Support", "auto_assign": auto_assign, "member_ids": members}
    )
    assert status == 201, team
    return team


async def test_i3_queue_fills_at_capacity_notifies_nobody_and_drains_when_a_chat_closes(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """I3/I4: an auto-assigning team hands chats to its available operator up to their
    maximum; beyond it chats wait in the queue without notifying anyone; when the operator
    closes a chat, the oldest queued chat is assigned to them and they are notified."""
    running = await start(make_bridge, sandbox_url, channel_plugin)
    admin = await manager(running, "Admin", permissions=(ADMIN,))
    kim = await manager(running, "Kim")
    watcher = await manager(running, "Watcher", operator=False)
    await watcher.ok("PATCH", f"/managers/{watcher.manager_id}", {"notify_unassigned": True})
    team = await support_team(admin, [kim.manager_id])
    await admin.ok("PATCH", f"/managers/{kim.manager_id}", {"max_auto_assign": 2})

    first, second, third, fourth = await open_chats(running, "support", ["u1", "u2", "u3", "u4"])

    infos = [await kim.info(c) for c in (first, second, third, fourth)]
    assert [(i["state"], i["assignee_id"], i["team_id"]) for i in infos] == [
        ("open", kim.manager_id, team["id"]),
        ("open", kim.manager_id, team["id"]),
        ("queued", None, team["id"]),
        ("queued", None, team["id"]),
    ]
    assert kim.manager_id in infos[0]["follower_ids"]  # I16: the assignee follows
    assert await notifications(running, first) == [(kim.manager_id, "assigned")]
    assert await notifications(running, third) == []  # queued: nobody is told, not even watchers
    (support,) = await admin.ok("GET", "/teams")
    assert support["queued"] == 2
    kim_row = next(m for m in await kim.ok("GET", "/managers") if m["id"] == kim.manager_id)
    assert (kim_row["open_chats"], kim_row["over_limit"]) == (2, False)

    await kim.ok("POST", f"/chats/{first}/close")

    drained = await kim.info(third)
    assert (drained["state"], drained["assignee_id"]) == ("open", kim.manager_id)
    assert drained["queued_at"] is None
    assert await notifications(running, third) == [(kim.manager_id, "assigned")]
    assert (await kim.info(fourth))["state"] == "queued"  # oldest first: u3 before u4
    (support,) = await admin.ok("GET", "/teams")
    assert support["queued"] == 1


async def test_i2_a_chat_without_team_stays_unassigned_and_tells_watchers(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """I2: no team in the integration's settings: unassigned, open; managers with "notify
    unassigned chats" on are told, others are not."""
    running = await start(make_bridge, sandbox_url, channel_plugin)
    watcher = await manager(running, "Watcher")
    quiet = await manager(running, "Quiet")
    await watcher.ok("PATCH", f"/managers/{watcher.manager_id}", {"notify_unassigned": True})

    (chat,) = await open_chats(running, "general", ["u1"])

    info = await quiet.info(chat)
    assert (info["state"], info["assignee_id"], info["team_id"]) == ("open", None, None)
    assert await notifications(running, chat) == [(watcher.manager_id, "unassigned")]


async def test_i3_nobody_available_queues_and_coming_back_drains(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """I3: an away operator is skipped (the chat queues); non-operators are never picked
    (I4); setting yourself available assigns the waiting chat to you."""
    running = await start(make_bridge, sandbox_url, channel_plugin)
    admin = await manager(running, "Admin", permissions=(ADMIN,))
    lee = await manager(running, "Lee")
    viewer = await manager(running, "Viewer", operator=False)
    await support_team(admin, [lee.manager_id, viewer.manager_id])
    await lee.ok("PATCH", f"/managers/{lee.manager_id}", {"available": False})

    (chat,) = await open_chats(running, "support", ["u1"])
    assert (await lee.info(chat))["state"] == "queued"

    await lee.ok("PATCH", f"/managers/{lee.manager_id}", {"available": True})
    info = await lee.info(chat)
    assert (info["state"], info["assignee_id"]) == ("open", lee.manager_id)
    assert await notifications(running, chat) == [(lee.manager_id, "assigned")]


async def test_i3_manual_assignment_from_the_queue_and_reassignment_drains(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """I3: a queued chat can be assigned by hand; handing an open chat to someone else gives
    its old assignee room, so the queue drains to them."""
    running = await start(make_bridge, sandbox_url, channel_plugin)
    admin = await manager(running, "Admin", permissions=(ADMIN,))
    kim = await manager(running, "Kim")
    park = await manager(running, "Park")
    await support_team(admin, [kim.manager_id])
    await admin.ok("PATCH", f"/managers/{kim.manager_id}", {"max_auto_assign": 1})
    first, second, third = await open_chats(running, "support", ["u1", "u2", "u3"])
    assert [(await kim.info(c))["state"] for c in (first, second, third)] == ["open", "queued", "queued"]

    info = await kim.ok("POST", f"/chats/{third}/assign", {"manager_id": park.manager_id})
    assert (info["state"], info["assignee_id"], info["queued_at"]) == ("open", park.manager_id, None)
    assert park.manager_id in info["follower_ids"]
    assert await notifications(running, third) == [(park.manager_id, "assigned")]

    await kim.ok("POST", f"/chats/{first}/assign", {"manager_id": park.manager_id})
    info = await kim.info(second)
    assert (info["state"], info["assignee_id"]) == ("open", kim.manager_id)


async def test_i4_only_operators_can_be_assigned(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    running = await start(make_bridge, sandbox_url, channel_plugin)
    kim = await manager(running, "Kim")
    viewer = await manager(running, "Viewer", operator=False)
    (chat,) = await open_chats(running, "general", ["u1"])

    status, body = await kim.call("POST", f"/chats/{chat}/assign", {"manager_id": viewer.manager_id})
    assert status == 400
    assert body == {
        "error": "only managers with the operator seat can be assigned",
        "code": "assignee_not_operator",
    }
    assert (await kim.info(chat))["assignee_id"] is None
    status, body = await kim.call("POST", f"/chats/{chat}/assign", {"manager_id": 9999})
    assert status == 400


async def test_i3_moving_an_unassigned_chat_to_an_auto_team_routes_it(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """Choosing a team for a waiting chat (assign with team_id, or PATCH team_id) routes it
    like a new chat of that team; turning auto-assignment off lets queued chats out."""
    running = await start(make_bridge, sandbox_url, channel_plugin)
    admin = await manager(running, "Admin", permissions=(ADMIN,))
    kim = await manager(running, "Kim")
    team = await support_team(admin, [kim.manager_id])
    await admin.ok("PATCH", f"/managers/{kim.manager_id}", {"max_auto_assign": 1})
    first, second = await open_chats(running, "general", ["u1", "u2"])

    info = await kim.ok("POST", f"/chats/{first}/assign", {"team_id": team["id"]})
    assert (info["team_id"], info["assignee_id"]) == (team["id"], kim.manager_id)
    info = await kim.ok("PATCH", f"/chats/{second}", {"team_id": team["id"]})
    assert (info["team_id"], info["state"]) == (team["id"], "queued")

    await admin.ok("PUT", f"/teams/{team['id']}", {"auto_assign": False})
    info = await kim.info(second)
    assert (info["state"], info["assignee_id"], info["team_id"]) == ("open", None, team["id"])


async def test_teams_and_manager_settings_need_admin(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """Teams are edited by admins; a manager sets their own availability and "notify
    unassigned" but not their seat or maximum, and nothing of anyone else's."""
    running = await start(make_bridge, sandbox_url, channel_plugin)
    admin = await manager(running, "Admin", permissions=(ADMIN,))
    kim = await manager(running, "Kim")
    assert (await kim.call("POST", "/teams", {"name": "Sales"}))[0] == 403
    status, team = await admin.call("POST", "/teams", {"name": "Sales", "member_ids": [kim.manager_id]})
    assert status == 201
    assert team == {
        "id": team["id"],
        "name": "Sales",
        "auto_assign": False,
        "member_ids": [kim.manager_id],
        "queued": 0,
    }
    assert (await admin.call("POST", "/teams", {"name": "Sales"}))[0] == 409
    assert (await kim.call("PUT", f"/teams/{team['id']}", {"name": "X"}))[0] == 403
    renamed = await admin.ok("PUT", f"/teams/{team['id']}", {"name": "Sales KR", "member_ids": []})
    assert (renamed["name"], renamed["member_ids"]) == ("Sales KR", [])
    assert await kim.ok("GET", "/teams") == [renamed]

    me = await kim.ok("PATCH", f"/managers/{kim.manager_id}", {"available": False, "notify_unassigned": True})
    assert (me["available"], me["notify_unassigned"]) == (False, True)
    assert (await kim.call("PATCH", f"/managers/{kim.manager_id}", {"max_auto_assign": 50}))[0] == 403
    assert (await kim.call("PATCH", f"/managers/{admin.manager_id}", {"available": False}))[0] == 403
    status, body = await admin.call("PATCH", f"/managers/{kim.manager_id}", {"max_auto_assign": -1})
    assert status == 400
    assert "max_auto_assign" in body["error"]
    seat = await admin.ok("PATCH", f"/managers/{kim.manager_id}", {"operator": False, "max_auto_assign": 3})
    assert (seat["operator"], seat["max_auto_assign"]) == (False, 3)
