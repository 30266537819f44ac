"""Serving the app (``bridgekit serve``) with per-connection limits aiohttp lacks.

aiohttp closes a connection idle between requests after ``keepalive_timeout``, and it also
covers the headers of a later request; it has no deadline for the first request's headers nor
a cap per client. :class:`ConnectionGuard` adds both, around aiohttp's own protocol:

* a connection that has not sent a whole request head within ``header_timeout`` is closed;
* an address with ``connections_per_address`` open connections gets a 503 and a closed
  socket for each further one. The address is the TCP peer's (no request has been read yet):
  a proxy in ``[server] trusted_proxies`` carries many clients' requests and is not capped;
  per-client limits further in see the address it forwards (``client_address``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from bridgekit.config import Config, LimitsConfig
from bridgekit.web.client_address import TRUSTED_PROXIES, TrustedProxies

_REFUSAL_BODY = json.dumps({"error": "too many connections from your address"}).encode()
REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n"
    b"Content-Length: " + str(len(_REFUSAL_BODY)).encode() + b"\r\n\r\n" + _REFUSAL_BODY
)


class ConnectionGuard:
    """The protocol factory of a listening socket: aiohttp's, with the limits above."""

    def __init__(
        self, server: web.Server, limits: LimitsConfig, trusted: TrustedProxies | None = None
    ) -> None:
        self._server = server
        self.limits = limits
        self.trusted = trusted if trusted is not None else TrustedProxies()
        self.open_by_address: Counter[str] = Counter()
        self.live: dict[RequestHandler, _GuardedConnection] = {}
        # aiohttp builds every request through this public hook: the sign a request head is in.
        make_request = server.request_factory

        def noting_start(message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> Any:
            connection = self.live.get(protocol)
            if connection is not None:
                connection.started = True
            return make_request(message, payload, protocol, writer, task)

        server.request_factory = noting_start

    def __call__(self) -> asyncio.Protocol:
        return _GuardedConnection(self, self._server())

    def admit(self, address: str) -> bool:
        if self.open_by_address[address] >= self.limits.connections_per_address and not (
            self.trusted.networks and self.trusted.trusts(address)
        ):
            return False
        self.open_by_address[address] += 1
        return True

    def release(self, address: str) -> None:
        self.open_by_address[address] -= 1
        if self.open_by_address[address] <= 0:
            del self.open_by_address[address]


class _GuardedConnection(asyncio.Protocol):
    """Passes everything to aiohttp's handler; refuses or closes by the guard's limits."""

    def __init__(self, guard: ConnectionGuard, handler: RequestHandler) -> None:
        self._guard = guard
        self._handler = handler
        self._address: str | None = None  # set once admitted
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.Transport | None = None
        self.started = False  # a request head has arrived

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, base)  # uvloop's is not an asyncio.Transport subclass
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) else ""
        if not self._guard.admit(address):
            transport.write(REFUSAL)
            transport.close()
            return
        self._address = address
        self._transport = transport
        self._guard.live[self._handler] = self
        self._handler.connection_made(transport)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._guard.limits.header_timeout, self._close_if_silent)

    def _close_if_silent(self) -> None:
        self._timer = None
        if not self.started and self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._address is None:
            return
        self._guard.release(self._address)
        self._guard.live.pop(self._handler, None)
        self._address = None
        self._transport = None
        if self._timer is not None:
            self._timer.cancel()
        self._handler.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._address is not None:
            self._handler.data_received(data)

    def eof_received(self) -> None:
        if self._address is not None:
            self._handler.eof_received()  # aiohttp's returns None: the transport then closes

    def pause_writing(self) -> None:
        self._handler.pause_writing()

    def resume_writing(self) -> None:
        self._handler.resume_writing()


class GuardedSite(web.BaseSite):
    """A TCP site whose connections go through a :class:`ConnectionGuard`."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        limits: LimitsConfig,
        *,
        reuse_port: bool = False,
        trusted: TrustedProxies | None = None,
    ) -> None:
        super().__init__(runner)
        self._reuse_port = reuse_port
        self._trusted = trusted
        self._host = host
        self._port = port
        self._limits = limits
        self.guard: ConnectionGuard | None = None

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        """The bound port (the configured one, or the one the system chose for port 0)."""
        assert self._server is not None
        sockets = getattr(self._server, "sockets", None) or ()
        return int(sockets[0].getsockname()[1]) if sockets else self._port

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None, "the runner is not set up"
        self.guard = ConnectionGuard(server, self._limits, self._trusted)
        loop = asyncio.get_running_loop()
        # reuse_port: the workers of ``serve --workers N`` each bind the one port; the kernel
        # spreads new connections over them (SO_REUSEPORT).
        self._server = await loop.create_server(
            self.guard, self._host, self._port, reuse_address=True, reuse_port=self._reuse_port or None
        )

    def bound_address(self) -> tuple[str, int]:
        """The (host, port) the site listens on: the port the system chose when asked for 0."""
        server = cast(asyncio.Server, self._server)  # what create_server made in start()
        host, port = server.sockets[0].getsockname()[:2]
        return str(host), int(port)


def runner_for(app: web.Application, limits: LimitsConfig, *, handle_signals: bool = False) -> web.AppRunner:
    """aiohttp's runner with the idle and lingering times of ``limits``."""
    return web.AppRunner(
        app,
        handle_signals=handle_signals,
        access_log=None,
        keepalive_timeout=limits.keepalive_timeout,
        # After an early 413/408 aiohttp reads and drops the rest of a body for this long.
        lingering_time=min(10.0, limits.body_timeout),
    )


async def start_site(
    runner: web.AppRunner, host: str, port: int, limits: LimitsConfig, *, reuse_port: bool = False
) -> GuardedSite:
    """Listen on ``host:port``; proxies the app trusts (``TRUSTED_PROXIES``) are not capped."""
    trusted = runner.app.get(TRUSTED_PROXIES)
    site = GuardedSite(runner, host, port, limits, reuse_port=reuse_port, trusted=trusted)
    await site.start()
    return site


#: Net new container objects between two collections of the youngest generation (Python's
#: default is 700). A request's objects die by reference counting when it is answered, but 32
#: requests in flight hold more than 700 at once, so the default collected several times a
#: second for nothing and promoted live requests to older generations: about 9 µs of CPU a LINE
#: webhook (docs/performance.md). Cyclic garbage waits a little longer to be freed.
YOUNG_COLLECTION_THRESHOLD = 10_000


def settle_the_heap() -> None:
    """Tune the garbage collector once the server is up. What start-up made (modules,
    templates, the app: about 100k objects) lives as long as the process, so it leaves the
    collector's generations (``gc.freeze``): a full collection then walks only what serving
    made, instead of about 40 ms over everything. The youngest generation is collected less
    often (``YOUNG_COLLECTION_THRESHOLD``)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


def run(
    app: Awaitable[web.Application],
    config: Config,
    loop: asyncio.AbstractEventLoop,
    on_listening: Callable[[str, int], Awaitable[None]] | None = None,
    *,
    reuse_port: bool = False,
) -> None:
    """Serve until SIGINT/SIGTERM, then shut down gracefully (what ``web.run_app`` does).
    ``on_listening(host, port)`` runs once the port is bound (the port is the real one when
    ``config.port`` is 0). ``reuse_port``: one of several worker processes sharing the port."""

    async def serve() -> None:
        runner = runner_for(await app, config.limits, handle_signals=True)
        await runner.setup()
        try:
            site = await start_site(runner, config.host, config.port, config.limits, reuse_port=reuse_port)
            if on_listening is not None:
                host, port = site.bound_address()
                await on_listening(host, port)
            settle_the_heap()
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    asyncio.set_event_loop(loop)
    main = loop.create_task(serve())
    try:
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        main.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(main)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
