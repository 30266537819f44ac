"""The admin side of the manager API (issue 14): inviting a manager answers a one-time link
that sets their password; seats and permissions change at once; the last admin keeps the
permission; tags are listed with counts and renamed or removed on every chat. A manager
without ``admin`` is refused each of them with the reason, and nothing changes."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import select

from bridgekit.inbox.managers import ADMIN, DELETE_CHATS, create_manager
from bridgekit.inbox.sessions import create_password_link, use_password_link
from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from tests.conftest import integration
from tests.inbox.chats_support import Client, manager
from tests.inbox.messages_helpers import customer_writes
from tests.inbox.sign_in_support import PASSWORD, Browser
from tests.support.testchannel import TestChannelPlugin

ADMIN_REFUSED = {
    "error": "this needs the admin permission",
    "code": "permission",
    "details": {"permission": "admin"},
}


@pytest.fixture
async def running(make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin) -> RunningBridge:
    started: RunningBridge = await make_bridge(
        plugins={"testchat": channel_plugin}, integrations={"acme": integration(sandbox_url)}
    )
    return started


@pytest.fixture
async def admin(running: RunningBridge) -> Client:
    return await manager(running, "Admin", permissions=(ADMIN,))


async def _listed(client: Client, manager_id: int) -> dict[str, object]:
    (row,) = [m for m in await client.ok("GET", "/managers") if m["id"] == manager_id]
    return row


async def test_an_invited_manager_sets_a_password_through_the_answered_link_and_signs_in(
    running: RunningBridge, admin: Client
) -> None:
    invited = await admin.ok(
        "POST",
        "/managers",
        {"name": " 박지훈 ", "email": " Jihoon@Example.com", "permissions": [DELETE_CHATS]},
    )

    assert (invited["name"], invited["email"], invited["operator"]) == ("박지훈", "jihoon@example.com", False)
    assert invited["permissions"] == [DELETE_CHATS]
    link: str = invited["password_link"]
    assert link.startswith(f"{running.bridge.config.base_url}/set-password/")
    assert await _listed(admin, invited["id"]) == {
        k: v for k, v in invited.items() if not k.startswith("password_link")
    }
    async with Browser(running) as browser:
        path = link.removeprefix(running.bridge.config.base_url)
        answer = await browser.post_form(path, {"password": PASSWORD, "confirm": PASSWORD})
        assert (answer.status, answer.headers["Location"]) == (303, "/sign-in?password=set")
        signed = await browser.sign_in("jihoon@example.com")
        assert (signed.status, signed.headers["Location"]) == (303, "/")
        assert (await browser.post_form(path, {"password": PASSWORD, "confirm": PASSWORD})).status == 404


async def test_invitations_the_api_cannot_act_on_are_refused_with_the_reason(
    running: RunningBridge, admin: Client
) -> None:
    await admin.ok("POST", "/managers", {"name": "Lee", "email": "lee@example.com"})
    refusals = [
        ({"name": "Lee Two", "email": "LEE@example.com"}, 409, "already signs in with lee@example.com"),
        ({"name": "No Email"}, 400, "email is required"),
        ({"name": "Bad", "email": "not-an-address"}, 400, "is not an email address"),
        # A NUL was stored on SQLite and a 500 on PostgreSQL; control characters are no address.
        ({"name": "Bad", "email": "nul@example.com\u0000"}, 400, "is not an email address"),
        ({"name": "Bad", "email": "tab@exa\u0007mple.com"}, 400, "is not an email address"),
        ({"name": "  ", "email": "x@example.com"}, 400, "name must be a non-empty string"),
        (
            {"name": "X", "email": "x@example.com", "permissions": ["owner"]},
            400,
            "unknown permission 'owner'",
        ),
        ({"name": "X", "email": "x@example.com", "permissions": "admin"}, 400, "permissions must be a list"),
        ({"name": "X", "email": "x@example.com", "operator": "yes"}, 400, "operator must be true or false"),
        ({"name": "X", "email": "x@example.com", "token": "mine"}, 400, "unknown field 'token'"),
    ]
    for body, status, reason in refusals:
        answer = await admin.call("POST", "/managers", body)
        assert answer[0] == status, (body, answer)
        assert reason in answer[1]["error"], (body, answer)
    names = [m["name"] for m in await admin.ok("GET", "/managers")]
    assert names == ["Test Operator", "Admin", "Lee"]


async def test_a_manager_without_admin_is_refused_every_admin_change_with_the_reason(
    running: RunningBridge, admin: Client
) -> None:
    chat_id = await customer_writes(running)
    await running.api("POST", f"/chats/{chat_id}/tags/vip")
    agent = await manager(running, "Agent")
    attempts = [
        ("POST", "/managers", {"name": "Mallory", "email": "m@example.com"}),
        ("POST", f"/managers/{admin.manager_id}/password-link", None),
        ("PATCH", f"/managers/{agent.manager_id}", {"permissions": [ADMIN]}),
        ("PATCH", f"/managers/{agent.manager_id}", {"operator": False}),
        ("PUT", "/tags/vip", {"name": "ordinary"}),
        ("DELETE", "/tags/vip", None),
        ("POST", "/macros", {"shortcut": "hi", "text": "Hello"}),
        ("POST", "/teams", {"name": "Night shift"}),
    ]
    for method, path, body in attempts:
        status, answer = await agent.call(method, path, body)
        assert (status, answer) == (403, ADMIN_REFUSED), (method, path)
    assert len(await admin.ok("GET", "/managers")) == 3
    assert (await _listed(admin, agent.manager_id))["permissions"] == []
    assert await agent.ok("GET", "/tags") == [{"tag": "vip", "chats": 1, "open_chats": 1}]


async def test_a_new_link_replaces_the_old_one_and_can_give_an_email_first(
    running: RunningBridge, admin: Client
) -> None:
    invited = await admin.ok("POST", "/managers", {"name": "Sato", "email": "sato@example.com"})
    again = await admin.ok("POST", f"/managers/{invited['id']}/password-link")
    assert again["password_link"] != invited["password_link"]
    async with Browser(running) as browser:
        for link, works in ((invited["password_link"], False), (again["password_link"], True)):
            _, page = await browser.get(link.removeprefix(running.bridge.config.base_url))
            assert ("Sato" in page) is works

    bot_id, _ = await create_manager(running.bridge.db, running.bridge.workspace_id, "Script")
    status, answer = await admin.call("POST", f"/managers/{bot_id}/password-link")
    assert (status, answer["error"]) == (400, f"manager {bot_id} has no email to sign in with; set one first")
    given = await admin.ok("POST", f"/managers/{bot_id}/password-link", {"email": "script@example.com"})
    assert given["email"] == "script@example.com"
    taken = await admin.call("POST", f"/managers/{bot_id}/password-link", {"email": "sato@example.com"})
    assert taken[0] == 409
    assert (await admin.call("POST", "/managers/999999/password-link"))[0] == 404


async def test_a_seat_taken_away_refuses_assigning_and_given_back_allows_it(
    running: RunningBridge, admin: Client
) -> None:
    chat_id = await customer_writes(running)
    agent = await manager(running, "Agent", operator=False)
    assign = {"manager_id": agent.manager_id}

    status, answer = await agent.call("POST", f"/chats/{chat_id}/assign", assign)
    assert (status, answer) == (403, {"error": "this needs the operator seat", "code": "operator_seat"})
    row = await admin.ok("PATCH", f"/managers/{agent.manager_id}", {"operator": True})
    assert row["operator"] is True
    assert (await agent.ok("POST", f"/chats/{chat_id}/assign", assign))["assignee_id"] == agent.manager_id
    await admin.ok("PATCH", f"/managers/{agent.manager_id}", {"operator": False})
    assert (await agent.call("POST", f"/chats/{chat_id}/close"))[0] == 403


async def test_permissions_are_replaced_and_the_last_admin_keeps_admin(
    running: RunningBridge, admin: Client
) -> None:
    agent = await manager(running, "Agent")
    status, answer = await admin.call("PATCH", f"/managers/{admin.manager_id}", {"permissions": []})
    assert status == 409
    assert "only one with the admin permission" in answer["error"]
    bad = await admin.call("PATCH", f"/managers/{agent.manager_id}", {"permissions": ["root"]})
    assert bad[0] == 400
    assert "unknown permission 'root'" in bad[1]["error"]

    row = await admin.ok("PATCH", f"/managers/{agent.manager_id}", {"permissions": [DELETE_CHATS, ADMIN]})
    assert row["permissions"] == [ADMIN, DELETE_CHATS]
    # now the agent is an admin too: they may invite, and the first admin may step down
    assert (await agent.call("POST", "/managers", {"name": "New", "email": "new@example.com"}))[0] == 201
    assert (await admin.ok("PATCH", f"/managers/{admin.manager_id}", {"permissions": []}))[
        "permissions"
    ] == []
    status, _ = await admin.call("POST", "/managers", {"name": "Late", "email": "late@example.com"})
    assert status == 403


async def test_tags_are_counted_and_renamed_or_removed_on_every_chat(
    running: RunningBridge, admin: Client
) -> None:
    first = await customer_writes(running, "u-1")
    second = await customer_writes(running, "u-2")
    third = await customer_writes(running, "u-3")
    full = [f"t{n}" for n in range(7)]
    await running.api("PUT", f"/chats/{first}/tags", json={"tags": ["배송 지연", "a/b"]})
    await running.api("PUT", f"/chats/{second}/tags", json={"tags": ["배송 지연", "shipping"]})
    await running.api("PUT", f"/chats/{third}/tags", json={"tags": ["배송 지연", *full]})  # 8 tags
    await running.api("POST", f"/chats/{second}/close")
    assert await admin.ok("GET", "/tags") == [
        {"tag": "a/b", "chats": 1, "open_chats": 1},
        {"tag": "shipping", "chats": 1, "open_chats": 0},
        *({"tag": t, "chats": 1, "open_chats": 1} for t in full),
        {"tag": "배송 지연", "chats": 3, "open_chats": 2},
    ]

    renamed = await admin.ok("PUT", "/tags/%EB%B0%B0%EC%86%A1%20%EC%A7%80%EC%97%B0", {"name": " shipping "})
    assert renamed == {"tag": "shipping", "chats": 3}
    assert (await admin.info(first))["tags"] == ["a/b", "shipping"]
    assert (await admin.info(second))["tags"] == ["shipping"]  # had both: keeps one
    assert len((await admin.info(third))["tags"]) == 8
    assert await admin.ok("DELETE", "/tags/a/b") == {"tag": None, "chats": 1}
    assert (await admin.info(first))["tags"] == ["shipping"]
    assert [t["tag"] for t in await admin.ok("GET", "/tags")] == ["shipping", *full]

    missing = await admin.call("DELETE", "/tags/nobody-has-it")
    assert missing == (404, {"error": "no chat has the tag nobody-has-it"})
    too_long = await admin.call("PUT", "/tags/shipping", {"name": "x" * 101})
    assert too_long == (400, {"error": "a tag can be at most 100 characters"})
    assert (await admin.call("PUT", "/tags/shipping", {}))[0] == 400


async def test_the_admin_operations_honour_their_description_for_an_admin(
    running: RunningBridge, admin: Client
) -> None:
    """The fuzzer of tests/inbox/test_openapi_schemathesis.py, as a manager who may act: no
    5xx and only documented answers for what the admin pages call (the general run is refused
    with 403 before any of it is reached)."""
    fuzzing = pytest.importorskip("tests.inbox.test_openapi_schemathesis")
    chat_id = await customer_writes(running)
    await running.api("PUT", f"/chats/{chat_id}/tags", json={"tags": ["vip", "배송"]})
    async with running.session.get(f"{running.url}/api/v1/openapi.json") as resp:
        document = await resp.json()
    operations = [
        ("POST", "/api/v1/managers"),
        ("POST", "/api/v1/managers/{manager_id}/password-link"),
        ("PATCH", "/api/v1/managers/{manager_id}"),
        ("GET", "/api/v1/tags"),
        ("PUT", "/api/v1/tags/{tag}"),
        ("DELETE", "/api/v1/tags/{tag}"),
    ]
    schema = fuzzing.schemathesis.openapi.from_dict(document)

    def run() -> list[str]:
        failures = []
        for method, path in operations:
            try:
                fuzzing.fuzz(schema, method, path, running.url, admin.token)
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"--- {method} {path}\n{exc}")
        return failures

    failures = await asyncio.to_thread(run)
    assert not failures, "\n".join(failures)
    assert len(await admin.ok("GET", "/managers")) > 2  # valid invitations were made, too


MANY_CHATS = 33_000  # more than a statement may bind (asyncpg 32,767; SQLite 32,766)


async def _chats_tagged(running: RunningBridge, tag: str, count: int) -> None:
    """``count`` more chats of the first chat's customer, each carrying ``tag``."""
    chat_id = await customer_writes(running)
    c = s.chats
    async with running.bridge.db.write() as conn:
        row = (await conn.execute(select(c).where(c.c.id == chat_id))).one()
        copy = {k: v for k, v in row._mapping.items() if k not in ("id", "customer_token_hash")}
        await conn.execute(c.insert(), [copy] * count)
        ids = (await conn.execute(select(c.c.id))).scalars().all()
        await conn.execute(s.chat_tags.insert(), [{"chat_id": i, "tag": tag} for i in ids])


async def test_a_tag_on_more_chats_than_one_statement_binds_is_renamed_and_removed(
    running: RunningBridge, admin: Client
) -> None:
    await _chats_tagged(running, "vip", MANY_CHATS)
    total = MANY_CHATS + 1
    assert await admin.ok("PUT", "/tags/vip", {"name": "gold"}) == {"tag": "gold", "chats": total}
    assert await admin.ok("GET", "/tags") == [{"tag": "gold", "chats": total, "open_chats": total}]
    assert await admin.ok("DELETE", "/tags/gold") == {"tag": None, "chats": total}
    assert await admin.ok("GET", "/tags") == []


async def test_a_team_of_more_members_than_a_workspace_could_have_is_refused(admin: Client) -> None:
    # 40,000 ids were a 500 on PostgreSQL (more values than one statement binds).
    status, answer = await admin.call(
        "POST", "/teams", {"name": "Everyone", "member_ids": list(range(1, 40_001))}
    )
    assert (status, answer["error"]) == (400, "a team can have at most 1000 members")
    assert await admin.ok("GET", "/teams") == []


async def test_a_tag_is_never_a_way_to_another_route_of_the_api(
    running: RunningBridge, admin: Client
) -> None:
    """Tags come from operators and bots (a bot may tag what a customer wrote); the admin page
    turns each into a path. "." and ".." are refused (a browser drops such a path segment:
    DELETE /tags/.. would reach another route), and a tag holding "/" is one path segment."""
    chat_id = await customer_writes(running)
    for dots in (".", "..", " .. "):
        async with running.session.put(
            f"{running.url}/api/v1/chats/{chat_id}/tags", json={"tags": [dots]}
        ) as resp:
            assert resp.status == 400, dots
            assert "a tag cannot be '.' or '..'" in (await resp.json())["error"]
    sneaky = "../macros/1"
    await running.api("PUT", f"/chats/{chat_id}/tags", json={"tags": [sneaky]})
    macro = await admin.ok("POST", "/macros", {"shortcut": "hi", "text": "Hello"})
    assert macro["id"] == 1
    async with Browser(running) as browser:
        manager_id, _ = await create_manager(
            running.bridge.db,
            running.bridge.workspace_id,
            "Page Admin",
            permissions=(ADMIN,),
            email="page-admin@example.com",
        )
        link = await create_password_link(running.bridge.db, manager_id)
        assert await use_password_link(running.bridge.db, link, PASSWORD) is not None
        assert (await browser.sign_in("page-admin@example.com")).status == 303
        _, html = await browser.get("/admin/tags")
    paths = re.findall(r'data-path="([^"]*)"', html)
    assert paths == ["/tags/..%2Fmacros%2F1", "/tags/..%2Fmacros%2F1"]  # rename, remove
    assert await admin.ok("DELETE", "/tags/..%2Fmacros%2F1") == {"tag": None, "chats": 1}
    assert [m["shortcut"] for m in await admin.ok("GET", "/macros")] == ["hi"]
