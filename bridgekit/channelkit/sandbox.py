"""The lifecycle every provider sandbox shares: listen, tell its URL, stop, clean up.

A plugin's ``sandbox.py`` is an in-process stand-in for its provider, used by its tests and
by ``bridgekit demo``. What differs is the wire format; this is the rest::

    class AcmeSandbox(HttpSandbox):
        def __init__(self) -> None:
            super().__init__()
            self.app.router.add_post("/v1/send", self._send)

    async with AcmeSandbox() as sandbox:          # or: url = await sandbox.start()
        settings = {"api_base": sandbox.url}
        await sandbox.client().post(webhook_url, ...)   # its calls to bridgekit

:class:`SandboxServer` is the protocol-neutral part (the email plugin's SMTP and DNS stand-ins
use it); :class:`HttpSandbox` serves an aiohttp application.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar, Self

import aiohttp
from aiohttp import web

__all__ = ["HttpSandbox", "SandboxServer"]


class SandboxServer:
    """Start on ``host:port`` (0: any free port), :attr:`url`, stop; an async context manager.

    Subclasses implement :meth:`_listen` (returns the bound port) and :meth:`_close`.
    """

    #: The scheme of :attr:`url`.
    scheme: ClassVar[str] = "http"

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self._serving = False
        # Set by stop(): a handler holding a request (an injected timeout) waits on it, so
        # stopping never waits for the hold to run out.
        self.stopping = asyncio.Event()

    @property
    def url(self) -> str:
        """``scheme://host:port`` while serving (the base URL to configure the plugin with)."""
        if not self._serving:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def serving(self) -> bool:
        return self._serving

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` and return :attr:`url`."""
        if self._serving:
            raise RuntimeError(f"{type(self).__name__} is already started")
        self.stopping.clear()
        self.port = await self._listen(host, port)
        self.host = host
        self._serving = True
        return self.url

    async def stop(self) -> None:
        """Stop listening and release what the sandbox holds; stopping twice is harmless."""
        self.stopping.set()
        if self._serving:
            self._serving = False
            await self._close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _listen(self, host: str, port: int) -> int:
        raise NotImplementedError

    async def _close(self) -> None:
        raise NotImplementedError


class HttpSandbox(SandboxServer):
    """Serves :attr:`app` (add the provider's routes in ``__init__``); :meth:`client` is the
    sandbox's own HTTP session for what the provider sends (webhooks, media downloads)."""

    #: Seconds aiohttp waits for requests still running when the sandbox stops.
    shutdown_timeout: ClassVar[float] = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.app = web.Application()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    def client(self) -> aiohttp.ClientSession:
        """One session for the sandbox's outgoing calls, closed by :meth:`stop`."""
        if self._client is None or self._client.closed:
            self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._client

    async def stop(self) -> None:
        await super().stop()
        # Also when never started: a webhook may have been posted without serving.
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _listen(self, host: str, port: int) -> int:
        self._runner = web.AppRunner(self.app, shutdown_timeout=self.shutdown_timeout)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, host, port).start()
        except BaseException:
            await self._runner.cleanup()
            self._runner = None
            raise
        return int(self._runner.addresses[0][1])

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
