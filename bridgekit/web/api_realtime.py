"""The realtime stream of changes per manager, and the OpenAPI document.

``GET /api/v1/events`` is a Server-Sent Events stream: one subscription to the bridge's
:class:`~bridgekit.core.events.EventBus` per connected manager, so a manager sees every event
addressed to everyone plus those addressed to them (a mention, an assignment) and nothing
meant for another manager. Each event is written as ``id``/``event``/``data`` lines; an idle
stream gets a comment heartbeat so proxies keep it open and clients notice a dead one.

A stream ends when the client goes away (its subscription is dropped at once) and when the
server shuts down: :func:`end_streams` runs on the application's ``on_shutdown`` signal,
because aiohttp waits for running handlers before it stops the bridge.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from typing import Any

from aiohttp import web

from bridgekit.core.bridge import Bridge
from bridgekit.core.events import Event
from bridgekit.web.jsonio import json_response
from bridgekit.web.keys import BRIDGE, current_manager
from bridgekit.web.openapi_doc import build_document

routes = web.RouteTableDef()

# Module constants so tests can shrink them.
HEARTBEAT_SECONDS = 15.0  # a comment after this long without a write
DISCONNECT_CHECK_SECONDS = 1.0  # how soon a vanished client's subscription is dropped

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
    ending = asyncio.Event()
    streams = _open_streams.setdefault(bridge, set())
    streams.add(ending)
    response = web.StreamResponse(headers=SSE_HEADERS)
    try:
        await response.prepare(request)
        async with bridge.events.subscribe(manager.id) as queue:
            # Written after subscribing: a client that read it will not miss what follows.
            await response.write(CONNECTED)
            await _pump(request, response, queue, ending)
    except ConnectionError:
        pass  # the client went away mid-write; the subscription is already dropped
    finally:
        streams.discard(ending)
    return response


async def _pump(
    request: web.Request, response: web.StreamResponse, queue: asyncio.Queue[Event], ending: asyncio.Event
) -> None:
    loop = asyncio.get_running_loop()
    stopper: asyncio.Future[Any] = asyncio.ensure_future(ending.wait())
    getter: asyncio.Future[Event] | None = None
    last_write = loop.time()
    try:
        while not ending.is_set() and not _client_gone(request):
            if getter is None:
                getter = asyncio.ensure_future(queue.get())
            until_heartbeat = last_write + HEARTBEAT_SECONDS - loop.time()
            timeout = max(0.0, min(DISCONNECT_CHECK_SECONDS, until_heartbeat))
            await asyncio.wait({getter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                event, getter = getter.result(), None
                await response.write(format_event(event))
                last_write = loop.time()
            elif not ending.is_set() and loop.time() - last_write >= HEARTBEAT_SECONDS:
                await response.write(HEARTBEAT)
                last_write = loop.time()
    finally:
        for task in (getter, stopper):
            if task is not None:
                task.cancel()


def _client_gone(request: web.Request) -> bool:
    # aiohttp does not cancel handlers on disconnect by default; the transport tells.
    transport = request.transport
    return transport is None or transport.is_closing()


@routes.get("/api/v1/openapi.json")
async def openapi_document(request: web.Request) -> web.Response:
    """This API's OpenAPI 3.1 description (public: tools read it before they have a token)."""
    bridge: Bridge = request.app[BRIDGE]
    return json_response(build_document(bridge.config.base_url))
