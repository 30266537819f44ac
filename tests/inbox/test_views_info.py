"""One chat with its info panel (I16) and a customer summary (I17)."""

from __future__ import annotations

from bridgekit.testing.harness import RunningBridge
from tests.conftest import integration
from tests.inbox.views_helpers import (
    add_team,
    customer_writes,
    follow,
    new_client,
    operator_client,
    set_chat,
    tag,
)
from tests.support.testchannel import TestChannelPlugin


async def test_i16_a_chat_shows_team_assignee_followers_source_goal_tags_and_description(
    make_bridge, sandbox_url: str
) -> None:
    running: RunningBridge = await make_bridge(
        plugins={"testchat": TestChannelPlugin()},
        integrations={"acme": integration(sandbox_url, emails={"u-1": "park@example.com"})},
    )
    me = await operator_client(running)
    kim = await new_client(running, "Kim")
    team = await add_team(running, "Sales")
    await customer_writes(running, "acme", "u-1", "hi", name="Park")
    (chat,) = await me.ids()
    await set_chat(
        running,
        chat,
        team_id=team,
        assignee_id=kim.id,
        source="spring-campaign",
        goal="achieved",
        description="Wants a #refund for order 12 #환불 (again: #refund)",
    )
    await follow(running, chat, me.id)
    await tag(running, chat, "vip", "refund")

    info = await me.ok("GET", f"/chats/{chat}")
    assert info["id"] == chat
    assert (info["integration"], info["mark"], info["state"]) == ("acme", "T", "open")
    assert info["team"] == {"id": team, "name": "Sales"}
    assert info["team_id"] == team
    assert info["assignee"] == {"id": kim.id, "name": "Kim"}
    # The assignee is always a follower.
    assert info["followers"] == sorted(
        [{"id": me.id, "name": "Test Operator"}, {"id": kim.id, "name": "Kim"}], key=lambda f: f["id"]
    )
    assert (info["source"], info["goal"]) == ("spring-campaign", "achieved")
    assert info["tags"] == ["refund", "vip"]
    assert info["description"].startswith("Wants a #refund")
    assert info["hashtags"] == ["refund", "환불"]
    assert (info["starred"], info["unread"]) == (False, True)
    assert info["customer"]["name"] == "Park"
    assert info["customer"]["chats_count"] == 1
    assert {"kind": "email", "value": "park@example.com", "verified": True} in info["customer"]["contacts"]


async def test_an_unknown_chat_is_404(make_bridge, sandbox_url: str) -> None:
    running: RunningBridge = await make_bridge(
        plugins={"testchat": TestChannelPlugin()}, integrations={"acme": integration(sandbox_url)}
    )
    me = await operator_client(running)
    for path in ("/chats/12345", "/chats/abc"):
        status, body = await me.call("GET", path)
        assert status == 404
        assert body == {"error": "no such chat"}
