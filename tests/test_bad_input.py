"""Bad input answers 4xx with a clear message, never 500 (issue 12, item 10)."""

from __future__ import annotations

import base64
import json
import re

import pytest

from bridgekit.testing.harness import RunningBridge
from tests.conftest import integration, signed
from tests.support.testchannel import TestChannelPlugin

DEEP = b"[" * 5000 + b"]" * 5000


async def started(make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin) -> RunningBridge:  # type: ignore[no-untyped-def]
    running: RunningBridge = await make_bridge(
        plugins={"testchat": channel_plugin}, integrations={"acme": integration(sandbox_url)}
    )
    await running.post_hook("acme", *signed({"id": "ev-1", "user": "u-1", "text": "hello"}))
    return running


async def test_deeply_nested_json_to_any_api_endpoint_is_never_a_500(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    running = await started(make_bridge, sandbox_url, channel_plugin)
    [chat] = await running.chats()
    calls = set()
    for route in running.server.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/") and route.method in ("POST", "PUT", "PATCH"):
            path = path.replace("{chat_id}", str(chat["id"])).replace(
                "{customer_id}", str(chat["customer_id"])
            )
            calls.add((route.method, re.sub(r"\{[^}]+\}", "1", path)))
    assert len(calls) > 20
    refused_as_json = 0
    for method, path in sorted(calls):
        async with running.session.request(
            method, running.url + path, data=DEEP, headers={"Content-Type": "application/json"}
        ) as resp:
            assert resp.status < 500, f"{method} {path} answered {resp.status}"  # some read no body
            if resp.status == 400:
                error = (await resp.json())["error"]
                refused_as_json += "JSON" in error and "depth" in error
    assert refused_as_json > 10  # the body reached the parser and was refused by it


def cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        base64.urlsafe_b64encode(b"[" * 1500 + b"]" * 1500).decode(),
        cursor(["latest", "2024-01-01T00:00:00", True]),
    ],
    ids=["deep", "bool-id"],
)
async def test_a_bad_cursor_is_a_400(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin, token: str
) -> None:
    running = await started(make_bridge, sandbox_url, channel_plugin)
    async with running.session.get(f"{running.url}/api/v1/chats", params={"cursor": token}) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "cursor is not valid"


async def test_a_cursor_with_a_time_zone_pages_like_utc(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """An aware time in a (hand-made) cursor could not be compared with the stored naive UTC."""
    running = await started(make_bridge, sandbox_url, channel_plugin)
    token = cursor(["latest", "2999-01-01T09:00:00+09:00", 2**31 - 1])
    async with running.session.get(f"{running.url}/api/v1/chats", params={"cursor": token}) as resp:
        assert resp.status == 200
        assert len((await resp.json())["chats"]) == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"title": "Order\x00 #12"}, "title must not contain NUL characters or unpaired surrogates"),
        ({"contact": {"kind": "phone", "value": "+82\x00 10"}}, "contact value must not contain NUL"),
        (
            {"contact": {"kind": "phone", "value": "+82 10", "name": {"x": 1}}},
            "contact name must be a string",
        ),
        ({"contact": {"kind": "phone", "value": "+82 10", "name": 7}}, "contact name must be a string"),
        ({"contact": {"kind": "phone", "value": "+82 10", "name": "Kim\x00"}}, "contact name must not"),
        ({"text": "hi\x00"}, "text must not contain NUL"),
    ],
    ids=["nul-title", "nul-contact-value", "dict-contact-name", "int-contact-name", "nul-name", "nul-text"],
)
async def test_starting_a_chat_with_unstorable_text_is_a_400(
    make_bridge, sandbox_url: str, body: dict[str, object], error: str
) -> None:
    """Issue 12 item 8: PostgreSQL refused these (500); SQLite stored a title with a NUL."""
    running: RunningBridge = await make_bridge(
        plugins={"phones": TestChannelPlugin("phones", contact_kind="phone")},
        integrations={"sms": integration(sandbox_url, "phones")},
    )
    payload = {"integration": "sms", "text": "Your code", "contact": {"kind": "phone", "value": "+82 10"}}
    async with running.session.post(f"{running.url}/api/v1/chats", json={**payload, **body}) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"].startswith(error)
    assert await running.chats() == []


async def test_a_lone_surrogate_in_a_body_is_a_400(make_bridge, sandbox_url: str) -> None:
    running: RunningBridge = await make_bridge(
        plugins={"phones": TestChannelPlugin("phones", contact_kind="phone")},
        integrations={"sms": integration(sandbox_url, "phones")},
    )
    body = b'{"integration": "sms", "text": "hi", "contact": {"kind": "phone", "value": "\\ud800"}}'
    headers = {"Content-Type": "application/json"}
    async with running.session.post(f"{running.url}/api/v1/chats", data=body, headers=headers) as resp:
        assert resp.status == 400
        assert "surrogate" in (await resp.json())["error"]
