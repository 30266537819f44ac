"""Permissions and request bodies of the manager API (issue 12, item 11): the operator seat
guards cutting a customer's link, and a body key the API does not know is refused by name
instead of silently ignored (``{"text": …, "note": true}`` must never reach the customer)."""

from __future__ import annotations

from typing import Any

import pytest

from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from bridgekit.web.openapi_doc import build_document
from tests.conftest import integration
from tests.inbox.chats_support import manager
from tests.inbox.messages_helpers import anonymous, customer_writes, rows
from tests.support.sandbox import SandboxProvider
from tests.support.testchannel import TestChannelPlugin


@pytest.fixture
async def running(make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin) -> RunningBridge:
    started: RunningBridge = await make_bridge(
        plugins={"testchat": channel_plugin}, integrations={"acme": integration(sandbox_url)}
    )
    return started


async def test_only_an_operator_may_rotate_a_customer_link(running: RunningBridge) -> None:
    chat_id = await customer_writes(running)
    link = (await running.api("GET", f"/chats/{chat_id}/links"))["customer_link"]
    path = link.removeprefix(running.bridge.config.base_url)
    viewer = await manager(running, "Viewer", operator=False)

    assert (await viewer.call("GET", f"/chats/{chat_id}/links"))[0] == 200  # reading is fine
    status, answer = await viewer.call("POST", f"/chats/{chat_id}/links/rotate")

    assert status == 403
    assert "operator" in answer["error"]
    assert (await anonymous(running, "GET", path))[0] == 200  # the customer's link still works
    assert (await running.api("POST", f"/chats/{chat_id}/links/rotate"))["customer_link"] != link


async def test_a_reply_with_an_unknown_key_is_refused_and_nothing_is_sent(
    running: RunningBridge, sandbox: SandboxProvider
) -> None:
    chat_id = await customer_writes(running)
    url = f"{running.url}/api/v1/chats/{chat_id}/messages"

    async with running.session.post(url, json={"text": "Internal: refund later", "note": True}) as resp:
        assert resp.status == 400
        assert "note" in (await resp.json())["error"]

    async with running.session.post(url, json={"text": "Internal", "kind": "note"}) as resp:
        assert resp.status == 201  # what the client meant
    assert [m.direction for m in await rows(running, s.messages, s.messages.c.chat_id == chat_id)] == [
        "inbound",
        "note",
    ]
    assert sandbox.texts == []


@pytest.mark.parametrize(
    ("method", "path", "body", "key"),
    [
        (
            "POST",
            "/api/v1/chats",
            {"integration": "acme", "text": "x", "customer_id": 1, "urgent": 1},
            "urgent",
        ),
        (
            "POST",
            "/api/v1/chats",
            {
                "integration": "acme",
                "text": "x",
                "contact": {"kind": "testchat", "value": "u", "nmae": "Kim"},
            },
            "contact.nmae",
        ),
        ("PATCH", "/api/v1/chats/{chat}", {"description": "x", "state": "closed"}, "state"),
        ("PUT", "/api/v1/chats/{chat}/tags", {"tags": ["vip"], "replace": False}, "replace"),
        ("POST", "/api/v1/chats/{chat}/assign", {"manager_id": None, "notify": True}, "notify"),
        ("POST", "/api/v1/chats/bulk", {"action": "close", "chat_ids": [], "dry_run": True}, "dry_run"),
        ("POST", "/api/v1/customers/{customer}/events", {"name": "page_view", "props": {}}, "props"),
        ("PATCH", "/api/v1/customers/{customer}", {"name": "Kim", "email": "k@x.kr"}, "email"),
        ("POST", "/api/v1/notifications/read", {"all": True, "ids": [1], "before": 3}, "before"),
        (
            "POST",
            "/api/v1/chats/{chat}/messages",
            {"text": "x", "form": {"fields": [{"key": "a", "label": "A", "type": "text", "hint": "?"}]}},
            "form.fields[0].hint",
        ),
    ],
)
async def test_every_api_body_refuses_keys_it_does_not_know(
    running: RunningBridge, method: str, path: str, body: dict[str, Any], key: str
) -> None:
    chat_id = await customer_writes(running)
    (chat,) = await rows(running, s.chats, s.chats.c.id == chat_id)
    before = len(await rows(running, s.messages))
    url = running.url + path.format(chat=chat_id, customer=chat.customer_id)

    async with running.session.request(method, url, json=body) as resp:
        assert resp.status == 400, await resp.text()
        assert repr(key) in (await resp.json())["error"]

    assert len(await rows(running, s.messages)) == before
    (unchanged,) = await rows(running, s.chats, s.chats.c.id == chat_id)
    assert (unchanged.state, unchanged.description) == (chat.state, chat.description)


async def test_the_customer_link_refuses_unknown_keys(running: RunningBridge) -> None:
    chat_id = await customer_writes(running)
    link = (await running.api("GET", f"/chats/{chat_id}/links"))["customer_link"]
    path = link.removeprefix(running.bridge.config.base_url)

    status, answer = await anonymous(running, "POST", f"{path}/messages", json={"text": "hi", "kind": "note"})

    assert status == 400
    assert "'kind'" in answer["error"]
    assert len(await rows(running, s.messages, s.messages.c.chat_id == chat_id)) == 1


def test_every_documented_request_body_says_which_keys_it_allows() -> None:
    """The API refuses unknown keys by the OpenAPI document's request schemas, so each object
    in them must say ``additionalProperties`` (false, or a schema for free-form maps)."""
    document = build_document("http://bridgekit.test")
    schemas = document["components"]["schemas"]
    open_objects: list[str] = []

    def walk(schema: dict[str, Any], where: str, seen: frozenset[str]) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rpartition("/")[2]
            if name not in seen:
                walk(schemas[name], name, seen | {name})
            return
        for alternative in schema.get("oneOf", []) + schema.get("anyOf", []):
            walk(alternative, where, seen)
        if "properties" in schema:
            if "additionalProperties" not in schema:
                open_objects.append(where)
            for key, item in schema["properties"].items():
                walk(item, f"{where}.{key}", seen)
        if isinstance(schema.get("items"), dict):
            walk(schema["items"], f"{where}[]", seen)

    for path, item in document["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                walk(body["schema"], f"{method.upper()} {path}", frozenset())
    assert open_objects == []
