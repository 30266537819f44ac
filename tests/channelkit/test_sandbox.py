"""``HttpSandbox`` / ``SandboxServer``: the lifecycle every provider sandbox shares."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from bridgekit.channelkit import HttpSandbox


class EchoSandbox(HttpSandbox):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []
        self.app.router.add_get("/v1/ping", self._ping)

    async def _ping(self, request: web.Request) -> web.Response:
        self.seen.append(request.path)
        return web.json_response({"ok": True})


async def test_start_returns_the_url_it_serves_the_provider_routes_on() -> None:
    sandbox = EchoSandbox()
    url = await sandbox.start()
    try:
        assert url == sandbox.url == f"http://127.0.0.1:{sandbox.port}"
        assert sandbox.port > 0
        async with aiohttp.ClientSession() as session, session.get(f"{url}/v1/ping") as resp:
            assert await resp.json() == {"ok": True}
        assert sandbox.seen == ["/v1/ping"]
    finally:
        await sandbox.stop()


async def test_after_stop_nothing_listens_and_the_sandbox_can_start_again() -> None:
    async with EchoSandbox() as sandbox:
        url = sandbox.url
        outgoing = sandbox.client()
    assert outgoing.closed  # the sandbox's own session is closed with it
    with pytest.raises(RuntimeError, match="not started"):
        _ = sandbox.url
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"{url}/v1/ping")
    await sandbox.stop()  # twice is harmless
    async with sandbox:
        assert sandbox.url.startswith("http://127.0.0.1:")


async def test_stopping_releases_a_request_the_sandbox_is_holding() -> None:
    """An injected timeout waits on ``stopping``: stop() must not wait for it to run out."""

    class Holding(HttpSandbox):
        def __init__(self) -> None:
            super().__init__()
            self.app.router.add_get("/hold", self._hold)

        async def _hold(self, request: web.Request) -> web.Response:
            await self.stopping.wait()
            return web.Response(status=504)

    sandbox = Holding()
    await sandbox.start()
    assert not sandbox.stopping.is_set()
    await sandbox.stop()
    assert sandbox.stopping.is_set()
