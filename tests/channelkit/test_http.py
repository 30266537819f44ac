"""The provider session and the size-capped media download, against a real HTTP server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bridgekit.channelkit import (
    MediaTooLarge,
    MediaUnavailable,
    NotSent,
    ProviderSession,
    fetch_media,
    transport_errors,
)
from bridgekit.exceptions import TransientDeliveryError

Server = Callable[..., Awaitable[TestServer]]
MB = 1024 * 1024


class MediaHost:
    """A provider's media CDN that counts what it managed to send."""

    def __init__(self) -> None:
        self.sent = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/photo.jpg", self.photo)
        app.router.add_get("/huge-declared", self.huge_declared)
        app.router.add_get("/endless", self.endless)
        app.router.add_get("/gone", self.gone)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/hang-up", self.hang_up)
        return app

    async def photo(self, request: web.Request) -> web.Response:
        assert request.headers.get("Authorization") == "Bearer t0ken"
        return web.Response(body=b"\xff\xd8\xff" + b"x" * 1000, content_type="image/jpeg")

    async def huge_declared(self, request: web.Request) -> web.StreamResponse:
        """Announces 200 MB, sends 64 KB, then stalls: a client reading it all would hang."""
        resp = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        resp.content_length = 200 * MB
        await resp.prepare(request)
        await resp.write(b"v" * 65536)
        self.sent += 65536
        await asyncio.sleep(30)
        return resp

    async def endless(self, request: web.Request) -> web.StreamResponse:
        """No Content-Length (chunked), and the body never ends."""
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        while True:
            await resp.write(b"e" * 65536)
            self.sent += 65536

    async def gone(self, request: web.Request) -> web.Response:
        return web.json_response({"message": "Not found"}, status=404)

    async def hang_up(self, request: web.Request) -> web.Response:
        """Reads the request, then drops the connection: it may have been acted on."""
        assert request.transport is not None
        request.transport.close()
        await asyncio.sleep(1)
        return web.Response()

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(body=b"late")


@pytest.fixture
async def host(aiohttp_server: Server) -> tuple[MediaHost, TestServer]:
    media = MediaHost()
    return media, await aiohttp_server(media.app())


async def test_media_is_downloaded_with_its_type(host: tuple[MediaHost, TestServer]) -> None:
    _, server = host
    http = ProviderSession()
    try:
        media = await fetch_media(
            http.get(),
            str(server.make_url("/photo.jpg")),
            max_bytes=MB,
            timeout=5,
            headers={"Authorization": "Bearer t0ken"},
        )
    finally:
        await http.aclose()
    assert media.content_type == "image/jpeg"
    assert media.data.startswith(b"\xff\xd8\xff")
    assert len(media.data) == 1003


async def test_a_declared_oversize_file_is_refused_without_reading_it(
    host: tuple[MediaHost, TestServer],
) -> None:
    _media_host, server = host
    http = ProviderSession()
    started = time.monotonic()
    try:
        with pytest.raises(MediaTooLarge, match=f"{200 * MB} bytes is over the limit of {25 * MB}"):
            await fetch_media(
                http.get(), str(server.make_url("/huge-declared")), max_bytes=25 * MB, timeout=20
            )
    finally:
        await http.aclose()
    assert time.monotonic() - started < 5  # did not wait for the stalled body


async def test_an_undeclared_endless_body_is_cut_off_at_the_cap(host: tuple[MediaHost, TestServer]) -> None:
    media_host, server = host
    http = ProviderSession()
    try:
        with pytest.raises(MediaTooLarge, match=f"over the limit of {MB} bytes"):
            await fetch_media(http.get(), str(server.make_url("/endless")), max_bytes=MB, timeout=20)
    finally:
        await http.aclose()
    assert media_host.sent < 20 * MB  # stopped near the cap, not at the timeout


async def test_failures_say_what_went_wrong(host: tuple[MediaHost, TestServer]) -> None:
    _, server = host
    http = ProviderSession()
    try:
        with pytest.raises(MediaUnavailable, match="HTTP 404") as gone:
            await fetch_media(http.get(), str(server.make_url("/gone")), max_bytes=MB, timeout=5)
        assert gone.value.status == 404
        assert b"Not found" in gone.value.body
        with pytest.raises(MediaUnavailable, match=r"timed out after 0\.3 s"):
            await fetch_media(http.get(), str(server.make_url("/slow")), max_bytes=MB, timeout=0.3)
        with pytest.raises(MediaUnavailable, match="not an http"):
            await fetch_media(http.get(), "file:///etc/passwd", max_bytes=MB, timeout=5)
        with pytest.raises(MediaUnavailable) as refused:
            await fetch_media(http.get(), "http://127.0.0.1:9/x", max_bytes=MB, timeout=5)
        assert refused.value.status is None
        assert str(refused.value)
    finally:
        await http.aclose()


async def test_one_session_per_loop_closed_by_aclose(host: tuple[MediaHost, TestServer]) -> None:
    _, server = host
    http = ProviderSession(timeout=0.3)
    session = http.get()
    assert http.get() is session  # one connection pool for all calls
    with pytest.raises(TimeoutError):  # the default timeout applies to every request
        async with session.get(server.make_url("/slow")) as resp:
            await resp.read()
    await http.aclose()
    assert session.closed
    reopened = http.get()
    assert reopened is not session
    assert not reopened.closed
    await http.aclose()


async def _call(http: ProviderSession, url: object) -> None:
    """One provider call as a plugin makes it."""
    with transport_errors("Acme API", 0.3):
        async with http.get().get(str(url)) as resp:
            await resp.read()


async def test_no_answer_becomes_a_transient_error_and_not_sent_is_told_apart(
    host: tuple[MediaHost, TestServer],
) -> None:
    _, server = host
    http = ProviderSession(timeout=0.3)
    try:
        with pytest.raises(TransientDeliveryError, match=r"^Acme API timed out after 0\.3 s$") as slow:
            await _call(http, server.make_url("/slow"))
        assert not isinstance(slow.value, NotSent)  # the provider may have acted on it
        with pytest.raises(TransientDeliveryError, match=r"^Acme API unreachable: ") as dropped:
            await _call(http, server.make_url("/hang-up"))
        assert not isinstance(dropped.value, NotSent)
        with pytest.raises(NotSent, match=r"^Acme API unreachable: "):  # nothing reached anyone
            await _call(http, "http://127.0.0.1:9/send")
    finally:
        await http.aclose()
