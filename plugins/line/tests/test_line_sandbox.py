"""The sandbox behaves like LINE on the wire, so plugin tests against it mean something.

These talk raw HTTP to the sandbox, the way any LINE client would.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import pytest
from bridgekit_line.sandbox import LineSandbox


async def _call(
    line: LineSandbox,
    path: str,
    body: Any,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    auth = {"Authorization": f"Bearer {token or line.access_token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{line.url}{path}", json=body, headers={**auth, **(headers or {})}) as resp,
    ):
        return resp.status, await resp.json(), resp.headers


def _push(to: str, *texts: str) -> dict[str, Any]:
    return {"to": to, "messages": [{"type": "text", "text": t} for t in texts]}


async def test_push_succeeds_with_line_response_shape(line: LineSandbox) -> None:
    user = line.add_user("Mina")
    status, body, headers = await _call(line, "/v2/bot/message/push", _push(user, "a", "b"))
    assert status == 200
    assert [m["id"] for m in body["sentMessages"]] == [m.id for m in line.sent]
    assert all(m["quoteToken"] for m in body["sentMessages"])
    assert headers["x-line-request-id"]


async def test_bad_or_missing_token_is_401(line: LineSandbox) -> None:
    status, body, _ = await _call(line, "/v2/bot/message/push", _push("U" + "0" * 32, "a"), token="nope")
    assert status == 401
    assert body["message"].startswith("Authentication failed. Confirm that the access token")
    assert line.sent == []


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            _push("U" + "0" * 32, *"abcdef"),
            {"message": "Size must be between 1 and 5", "property": "messages"},
        ),
        (
            {"to": "U" + "0" * 32, "messages": []},
            {"message": "Size must be between 1 and 5", "property": "messages"},
        ),
        (
            _push("U" + "0" * 32, "x" * 5001),
            {"message": "Length must be between 0 and 5000", "property": "messages[0].text"},
        ),
        (
            {"to": "U" + "0" * 32, "messages": [{"type": "image", "originalContentUrl": "http://x/a.jpg"}]},
            {"message": "Must be a valid HTTPS URL", "property": "messages[0].originalContentUrl"},
        ),
    ],
)
async def test_invalid_bodies_get_line_error_details(
    line: LineSandbox, body: Any, detail: dict[str, str]
) -> None:
    status, answer, _ = await _call(line, "/v2/bot/message/push", body)
    assert status == 400
    assert answer["message"].startswith("The request body has")
    assert detail in answer["details"]
    assert line.sent == []


async def test_retry_key_must_be_a_uuid_and_dedupes_with_409(line: LineSandbox) -> None:
    user = line.add_user("Mina")
    status, _, _ = await _call(
        line, "/v2/bot/message/push", _push(user, "a"), headers={"X-Line-Retry-Key": "abc"}
    )
    assert status == 400
    key = str(uuid.uuid4())
    status, first, first_headers = await _call(
        line, "/v2/bot/message/push", _push(user, "a"), headers={"X-Line-Retry-Key": key}
    )
    assert status == 200
    status, again, headers = await _call(
        line, "/v2/bot/message/push", _push(user, "a"), headers={"X-Line-Retry-Key": key}
    )
    assert status == 409
    assert again["message"] == "The retry key is already accepted"
    assert again["sentMessages"] == first["sentMessages"]
    assert headers["x-line-accepted-request-id"] == first_headers["x-line-request-id"]
    assert len(line.sent) == 1


async def test_reply_tokens_are_single_use_and_expire(line: LineSandbox, clock: Any) -> None:
    user = line.add_user("Mina")
    token = line.webhooks.text(user, "hi")["replyToken"]
    reply = {"replyToken": token, "messages": [{"type": "text", "text": "hello"}]}
    assert (await _call(line, "/v2/bot/message/reply", reply))[0] == 200
    status, body, _ = await _call(line, "/v2/bot/message/reply", reply)
    assert (status, body) == (400, {"message": "Invalid reply token"})

    late = line.webhooks.text(user, "hi again")["replyToken"]
    clock.advance(61)
    status, body, _ = await _call(line, "/v2/bot/message/reply", {**reply, "replyToken": late})
    assert (status, body) == (400, {"message": "Invalid reply token"})
    assert [m.to for m in line.sent] == [user]


async def test_reply_refuses_a_retry_key(line: LineSandbox) -> None:
    token = line.webhooks.text(line.add_user("Mina"), "hi")["replyToken"]
    reply = {"replyToken": token, "messages": [{"type": "text", "text": "hello"}]}
    status, _, _ = await _call(
        line, "/v2/bot/message/reply", reply, headers={"X-Line-Retry-Key": str(uuid.uuid4())}
    )
    assert status == 400


async def test_fail_next_answers_then_recovers(line: LineSandbox) -> None:
    user = line.add_user("Mina")
    line.fail_next(429, times=2, endpoint="push", retry_after=3)
    for _ in range(2):
        status, body, headers = await _call(line, "/v2/bot/message/push", _push(user, "a"))
        assert (status, headers["Retry-After"]) == (429, "3")
        assert body["message"] == "The API rate limit has been exceeded. Try again later."
    assert (await _call(line, "/v2/bot/message/push", _push(user, "a")))[0] == 200
