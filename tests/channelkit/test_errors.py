"""A provider's failed HTTP answer becomes the delivery error the outbox acts on."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bridgekit.channelkit import parse_retry_after, status_error
from bridgekit.exceptions import PermanentDeliveryError, TransientDeliveryError

Server = Callable[..., Awaitable[TestServer]]


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    now = time.time()
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 7 ") == 7.0
    in_90_s = email.utils.formatdate(now + 90, usegmt=True)  # "Sun, 06 Dec 2026 17:20:00 GMT"
    assert parse_retry_after(in_90_s, now=now) == pytest.approx(90, abs=1)
    assert parse_retry_after(email.utils.formatdate(now + 90), now=now) == pytest.approx(90, abs=1)  # -0000
    assert parse_retry_after(email.utils.formatdate(now - 600, usegmt=True), now=now) == 0.0  # past: now
    assert parse_retry_after("-5") == 0.0
    for unreadable in (None, "", "soon", "Someday, 99 Foo 20xx", "inf", "nan"):
        assert parse_retry_after(unreadable) is None


async def _answer(aiohttp_server: Server, status: int, headers: dict[str, str]) -> tuple[int, str | None]:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"message": "busy"}, status=status, headers=headers)

    app = web.Application()
    app.router.add_post("/send", handler)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session, session.post(server.make_url("/send")) as resp:
        return resp.status, resp.headers.get("Retry-After")


async def test_server_error_is_transient_with_the_providers_delay(aiohttp_server: Server) -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    status, retry_after = await _answer(aiohttp_server, 503, {"Retry-After": later})
    error = status_error(status, "Provider answered HTTP 503", retry_after=parse_retry_after(retry_after))
    assert isinstance(error, TransientDeliveryError)
    assert error.retry_after == pytest.approx(30, abs=2)
    assert error.reason == "Provider answered HTTP 503"


async def test_rate_limit_is_transient_and_client_errors_are_permanent(aiohttp_server: Server) -> None:
    status, retry_after = await _answer(aiohttp_server, 429, {"Retry-After": "12"})
    limited = status_error(status, "rate limited", retry_after=parse_retry_after(retry_after))
    assert isinstance(limited, TransientDeliveryError)
    assert limited.retry_after == 12.0
    for refused in (400, 401, 403, 404, 409, 413):
        error = status_error(refused, f"HTTP {refused}", retry_after=5.0)
        assert isinstance(error, PermanentDeliveryError), refused
    assert isinstance(status_error(500, "no delay given"), TransientDeliveryError)
    assert status_error(500, "no delay given").retry_after is None  # type: ignore[attr-defined]
