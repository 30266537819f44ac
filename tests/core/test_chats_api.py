"""Manager API beyond replies: starting a chat (E10) and the raw source of a message (E4)."""

from __future__ import annotations

import aiohttp
import pytest

from bridgekit.testing.harness import RunningBridge
from tests.conftest import StartTestchat, integration, signed
from tests.support.sandbox import SandboxProvider
from tests.support.testchannel import TestChannelPlugin


async def post(running: RunningBridge, path: str, body: object) -> tuple[int, dict[str, object]]:
    async with running.session.post(f"{running.url}/api/v1{path}", json=body) as resp:
        return resp.status, await resp.json()


async def test_a_manager_starts_a_chat_with_a_new_contact_and_the_answer_joins_it(
    sandbox: SandboxProvider,
    start_testchat: StartTestchat,
) -> None:
    """E10: the first message opens a chat; the customer's answer threads into it."""
    running = await start_testchat()
    status, created = await post(
        running,
        "/chats",
        {
            "integration": "acme",
            "title": "Your order #1024",
            "text": "Your parcel ships tomorrow.",
            "contact": {"kind": "testchat", "value": "u-9", "name": "Park", "shared": False},
        },
    )
    assert status == 201
    await running.wait_for(lambda: sandbox.texts == ["Your parcel ships tomorrow."])
    assert next(iter(sandbox.accepted.values()))["to"] == "u-9"
    (chat,) = await running.chats()
    assert chat["id"] == created["chat_id"]
    assert chat["title"] == "Your order #1024"

    body, headers = signed({"id": "ev-1", "user": "u-9", "text": "Thanks!"})
    assert (await running.post_hook("acme", body, headers))[0] == 200
    (chat,) = await running.chats()
    assert [m["text"] for m in await running.messages(chat["id"])] == [
        "Your parcel ships tomorrow.",
        "Thanks!",
    ]


async def test_a_manager_starts_a_chat_with_an_existing_customer(
    sandbox: SandboxProvider,
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    body, headers = signed({"id": "ev-1", "user": "u-1", "text": "hi"})
    await running.post_hook("acme", body, headers)
    (first,) = await running.chats()
    status, created = await post(
        running, "/chats", {"integration": "acme", "text": "A new topic", "customer_id": first["customer_id"]}
    )
    assert status == 201
    await running.wait_for(lambda: sandbox.texts == ["A new topic"])
    assert next(iter(sandbox.accepted.values()))["to"] == "u-1"
    chats = {c["id"]: c for c in await running.chats()}
    assert chats[created["chat_id"]]["customer_id"] == first["customer_id"]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"integration": "nope", "text": "x", "customer_id": 1}, 400, "no integration named 'nope'"),
        ({"integration": "mail", "text": "x"}, 400, "either customer_id or contact"),
        ({"integration": "mail", "text": "x", "customer_id": 999}, 400, "no customer 999"),
        (
            {"integration": "mail", "text": "x", "contact": {"kind": "phone", "value": "010"}},
            422,  # the channel declares which contacts it can start a chat with
            "reaches customers by email, not phone",
        ),
        (
            {"integration": "mail", "text": " ", "contact": {"kind": "email", "value": "a@b.c"}},
            400,
            "text is required",
        ),
    ],
)
async def test_starting_a_chat_is_refused_clearly(
    make_bridge, sandbox_url: str, body: dict[str, object], status: int, error: str
) -> None:
    mailish = TestChannelPlugin("mailish", contact_kind="email")
    running = await make_bridge(
        plugins={"mailish": mailish}, integrations={"mail": integration(sandbox_url, "mailish")}
    )
    answer_status, answer = await post(running, "/chats", body)
    assert answer_status == status
    assert error in str(answer["error"])
    assert await running.chats() == []


async def test_the_raw_source_of_an_inbound_message_is_served_byte_for_byte(
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    body, headers = signed({"id": "ev-1", "user": "u-1", "text": "원문 보기"})
    await running.post_hook("acme", body, headers)
    (chat,) = await running.chats()
    (message,) = await running.messages(chat["id"])
    async with running.session.get(f"{running.url}/api/v1/messages/{message['id']}/raw") as resp:
        assert resp.status == 200
        assert await resp.read() == body
    note = await running.note(chat["id"], "no source for notes")
    async with running.session.get(f"{running.url}/api/v1/messages/{note['id']}/raw") as resp:
        assert resp.status == 404


async def test_the_manager_api_needs_a_valid_token(
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()

    async with aiohttp.ClientSession() as anonymous:
        for headers in ({}, {"Authorization": "Bearer bk_wrong"}, {"Authorization": "Basic x"}):
            async with anonymous.get(f"{running.url}/api/v1/chats", headers=headers) as resp:
                assert resp.status == 401
