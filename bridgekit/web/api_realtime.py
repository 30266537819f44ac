"""The realtime stream of changes per manager, and the OpenAPI document.

``GET /api/v1/events`` is a Server-Sent Events stream: one subscription to the bridge's
:class:`~bridgekit.runtime.events.EventBus` per connected manager, so a manager sees every event
addressed to everyone plus those addressed to them (a mention, an assignment) and nothing
meant for another manager. Each event is written as ``id``/``event``/``data`` lines; an idle
stream gets a comment heartbeat so proxies keep it open and clients notice a dead one.

A stream ends when the client goes away (its subscription is dropped at once), when the
server shuts down (:func:`end_streams` runs on the application's ``on_shutdown`` signal,
because aiohttp waits for running handlers before it stops the bridge), and within
``TOKEN_CHECK_SECONDS`` of its token being rotated (its session ended, for a browser) or its
manager removed: the token or session is
checked against the database again on that period, so a rotation by another process
(``bridgekit managers rotate``) ends it too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bridgekit.engine.bridge import Bridge
from bridgekit.runtime.events import Event
from bridgekit.storage.db import is_unavailable
from bridgekit.web.dropped import client_gone
from bridgekit.web.keys import BRIDGE, current_manager
from bridgekit.web.sessions_http import request_manager

routes = web.RouteTableDef()

# Module constants so tests can shrink them.
HEARTBEAT_SECONDS = 15.0  # a comment after this long without a write
DISCONNECT_CHECK_SECONDS = 1.0  # how soon a vanished client's subscription is dropped
MAX_EVENTS_PER_WRITE = 500  # events queued meanwhile, written together
TOKEN_CHECK_SECONDS = 5.0  # how soon a rotated token or a removed manager ends the stream

log = logging.getLogger("bridgekit.web")

SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx would otherwise buffer the stream
}
CONNECTED = b": connected\n\n"
HEARTBEAT = b": heartbeat\n\n"

# Per bridge, the "stop now" flags of its open streams (for end_streams at shutdown).
_open_streams: weakref.WeakKeyDictionary[Bridge, set[asyncio.Event]] = weakref.WeakKeyDictionary()


def format_event(event: Event) -> bytes:
    """One SSE message; the JSON is on one line (json.dumps escapes newlines)."""
    data = json.dumps(event.data, separators=(",", ":"), ensure_ascii=False, default=str)
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n".encode()


async def end_streams(app: web.Application) -> None:
    """End every open event stream of ``app`` (wire to ``app.on_shutdown``)."""
    for ending in _open_streams.get(app[BRIDGE], set()):
        ending.set()


@routes.get("/api/v1/events")
async def stream_events(request: web.Request) -> web.StreamResponse:
    """The manager's realtime stream of events (text/event-stream)."""
    bridge: Bridge = request.app[BRIDGE]
    manager = current_manager(request)

    async def authorised() -> bool:
        try:
            current = await request_manager(request)  # its bearer token or session cookie
        except Exception as exc:
            if not (isinstance(exc, SQLAlchemyError) or is_unavailable(exc)):
                raise
            # The database is busy or away: ask again next time. The stream stays open; the
            # event relay tells it to resync once it hears the other processes again.
            log.info("event stream token check skipped: %s", type(exc).__name__)
            return True
        return current is not None and current.id == manager.id

    ending = asyncio.Event()
    streams = _open_streams.setdefault(bridge, set())
    streams.add(ending)
    response = web.StreamResponse(headers=SSE_HEADERS)
    try:
        await response.prepare(request)
        async with bridge.events.subscribe(manager.id) as queue:
            # Written after subscribing: a client that read it will not miss what follows.
            await response.write(CONNECTED)
            await _pump(request, response, queue, ending, authorised)
    except ConnectionError:
        pass  # the client went away mid-write; the subscription is already dropped
    finally:
        streams.discard(ending)
    return response


async def _pump(
    request: web.Request,
    response: web.StreamResponse,
    queue: asyncio.Queue[Event],
    ending: asyncio.Event,
    authorised: Callable[[], Awaitable[bool]],
) -> None:
    loop = asyncio.get_running_loop()
    stopper: asyncio.Future[Any] = asyncio.ensure_future(ending.wait())
    getter: asyncio.Future[Event] | None = None
    last_write = loop.time()
    next_token_check = loop.time() + TOKEN_CHECK_SECONDS
    try:
        # aiohttp does not cancel handlers on disconnect by default; the transport tells.
        while not ending.is_set() and not client_gone(request):
            if getter is None:
                getter = asyncio.ensure_future(queue.get())
            now = loop.time()
            until_next = min(last_write + HEARTBEAT_SECONDS, next_token_check) - now
            timeout = max(0.0, min(DISCONNECT_CHECK_SECONDS, until_next))
            await asyncio.wait({getter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if loop.time() >= next_token_check:
                if not await authorised():
                    return  # rotated or removed: the client reconnects and gets a 401
                next_token_check = loop.time() + TOKEN_CHECK_SECONDS
            if getter.done():
                chunk = [format_event(getter.result())]
                getter = None
                # Whatever queued meanwhile goes out in the same write: under load a stream
                # keeps up by writing many events at once, not one write and wake-up each.
                while len(chunk) < MAX_EVENTS_PER_WRITE and not queue.empty():
                    chunk.append(format_event(queue.get_nowait()))
                await response.write(b"".join(chunk))
                last_write = loop.time()
            elif not ending.is_set() and loop.time() - last_write >= HEARTBEAT_SECONDS:
                await response.write(HEARTBEAT)
                last_write = loop.time()
    finally:
        for task in (getter, stopper):
            if task is not None:
                task.cancel()
