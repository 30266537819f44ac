"""JSON answers carry non-ASCII as UTF-8 bytes, not ``\\uXXXX`` escapes (issue 12, "for
people starting it"): lists, messages and error answers alike."""

from __future__ import annotations

from typing import Any

from bridgekit.testing.harness import RunningBridge
from tests.conftest import integration
from tests.inbox.views_helpers import customer_writes
from tests.support.testchannel import TestChannelPlugin


async def raw_answer(running: RunningBridge, method: str, path: str, **kwargs: Any) -> tuple[int, str, bytes]:
    async with running.session.request(method, f"{running.url}/api/v1{path}", **kwargs) as resp:
        return resp.status, resp.headers["Content-Type"], await resp.read()


async def test_korean_text_is_sent_as_utf8_bytes(make_bridge: Any, sandbox_url: str) -> None:
    running: RunningBridge = await make_bridge(
        plugins={"testchat": TestChannelPlugin()}, integrations={"acme": integration(sandbox_url)}
    )
    await customer_writes(running, "acme", "u-1", "환불 요청합니다", name="이민호")
    [chat] = await running.chats()

    status, ctype, body = await raw_answer(running, "GET", f"/chats/{chat['id']}/messages")
    assert status == 200
    assert ctype == "application/json; charset=utf-8"
    assert "환불 요청합니다".encode() in body
    assert b"\\u" not in body

    status, _, body = await raw_answer(running, "GET", "/chats?state=any")
    assert status == 200
    assert "이민호".encode() in body

    status, _, body = await raw_answer(running, "PATCH", f"/chats/{chat['id']}", json={"제목": "x"})
    assert status == 400
    assert "제목".encode() in body
    assert b"\\u" not in body
