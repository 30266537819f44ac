"""Start a real bridgekit in-process for tests: ``start_bridge`` and ``RunningBridge``."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from bridgekit.config import Config, IntegrationConfig, OutboxConfig
from bridgekit.engine.bridge import Bridge
from bridgekit.inbox.managers import create_manager
from bridgekit.plugins import PluginHost
from bridgekit.web.app import create_app

# Fast retries and polling so tests observe retries in well under a second.
TEST_OUTBOX = OutboxConfig(retry_for=2.0, base_delay=0.05, max_delay=0.5, poll_interval=0.1, lease_seconds=5)


class RunningBridge:
    """A started bridgekit with an operator manager's API session.

    ``url`` is the server's base URL: providers post to ``{url}/hooks/<integration>``.
    """

    def __init__(self, bridge: Bridge, server: TestServer, session: aiohttp.ClientSession) -> None:
        self.bridge = bridge
        self.server = server
        self.session = session
        self.url = str(server.make_url("")).rstrip("/")

    async def api(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.session.request(method, f"{self.url}/api/v1{path}", **kwargs) as resp:
            data = await resp.json()
            if resp.status >= 400:
                raise AssertionError(f"{method} {path} -> {resp.status}: {data}")
            return data

    async def chats(self, **query: str) -> list[dict[str, Any]]:
        """Every chat in any state (newest activity first within each state), all pages.

        ``query`` adds list parameters (``view=``, ``q=``...); with ``state=`` only that state.
        """
        states = [query.pop("state")] if "state" in query else ["open", "queued", "snoozed", "closed"]
        found: list[dict[str, Any]] = []
        for state in states:
            params: dict[str, str] = {**query, "state": state, "limit": "100"}
            while True:
                page = await self.api("GET", "/chats", params=params)
                if isinstance(page, list):  # the foundation's unpaginated shape
                    found.extend(page)
                    break
                found.extend(page["chats"])
                if not page.get("next_cursor"):
                    break
                params["cursor"] = page["next_cursor"]
        return found

    async def messages(self, chat_id: int) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.api("GET", f"/chats/{chat_id}/messages")
        return result

    async def reply(
        self, chat_id: int, text: str, files: Sequence[tuple[str, str, bytes]] = ()
    ) -> dict[str, Any]:
        """A manager's reply to the customer, queued in the outbox; ``files`` are
        ``(filename, content_type, bytes)`` attachments, uploaded as the inbox does."""
        if not files:
            result: dict[str, Any] = await self.api("POST", f"/chats/{chat_id}/messages", json={"text": text})
            return result
        form = aiohttp.FormData()
        form.add_field("payload", json.dumps({"text": text}), content_type="application/json")
        for filename, content_type, data in files:
            form.add_field("files", data, filename=filename, content_type=content_type)
        result = await self.api("POST", f"/chats/{chat_id}/messages", data=form)
        return result

    async def note(self, chat_id: int, text: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.api(
            "POST", f"/chats/{chat_id}/messages", json={"text": text, "kind": "note"}
        )
        return result

    async def post_hook(
        self, integration: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> tuple[int, str]:
        async with self.session.post(f"{self.url}/hooks/{integration}", data=body, headers=headers) as resp:
            return resp.status, await resp.text()

    async def wait_for(
        self, predicate: Callable[[], Awaitable[Any] | Any], timeout: float = 10.0, interval: float = 0.05
    ) -> Any:
        """Poll ``predicate`` (sync or async) until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if asyncio.iscoroutine(value) or isinstance(value, Awaitable):
                value = await value
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s")
            await asyncio.sleep(interval)

    async def close(self) -> None:
        await self.session.close()
        await self.server.close()


async def start_bridge(
    *,
    database_url: str,
    data_dir: Path,
    plugins: Mapping[str, object],
    integrations: Mapping[str, Mapping[str, Any]] | None = None,
    config: Config | None = None,
    tls: tuple[ssl.SSLContext, ssl.SSLContext] | None = None,
    cancel_handlers_on_disconnect: bool = True,
) -> RunningBridge:
    """Start bridgekit with exactly ``plugins`` registered (no entry points are loaded).

    ``tls`` is ``(server context, client context)``: serve HTTPS (providers that download
    media only over HTTPS, like LINE) and trust it in the API session.

    aiohttp's test server cancels a handler whose client disconnects; ``bridgekit serve`` lets
    it run on (and see ``ConnectionResetError``): pass ``cancel_handlers_on_disconnect=False``
    to serve as ``bridgekit serve`` does.
    """
    host = PluginHost()
    for name, plugin in plugins.items():
        host.register(plugin, name)
    base = config or Config(outbox=TEST_OUTBOX)
    configured = tuple(
        IntegrationConfig(
            name, str(spec["channel"]), dict(spec.get("settings", {})), dict(spec.get("secrets", {}))
        )
        for name, spec in (integrations or {}).items()
    )
    cfg = replace(
        base,
        database_url=database_url,
        data_dir=data_dir,
        # no mapping given: the integrations of ``config`` (as parsed from TOML and environment)
        integrations=configured if integrations is not None else base.integrations,
    )
    bridge = Bridge(cfg, host)
    app = await create_app(bridge)
    server_class = TestServer if cancel_handlers_on_disconnect else _ServedLikeServe
    server = server_class(app, host="127.0.0.1", port=0)
    if tls:
        await server.start_server(ssl=tls[0])
    else:
        await server.start_server()
    if cfg.public_url is None:
        # The port is known only now; providers (sandboxes) download media from this URL.
        bridge.config = replace(cfg, public_url=str(server.make_url("")).rstrip("/"))
    try:
        _, token = await create_manager(bridge.db, bridge.workspace_id, "Test Operator", operator=True)
    except BaseException:
        await server.close()
        raise
    session = aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {token}"},
        connector=aiohttp.TCPConnector(ssl=tls[1]) if tls else None,
    )
    return RunningBridge(bridge, server, session)


class _ServedLikeServe(TestServer):
    """A test server whose handlers run on after their client disconnects, as under
    ``web.run_app`` (``bridgekit serve``)."""

    async def _make_runner(self, **kwargs: Any) -> web.BaseRunner:
        kwargs["handler_cancellation"] = False
        return await super()._make_runner(**kwargs)
