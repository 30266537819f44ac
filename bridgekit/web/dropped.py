"""Clients that hang up mid-request: one quiet log line, not an error with a traceback.

``bridgekit serve`` runs aiohttp without cancelling a handler when its client goes away, so
the handler's next body read raises ``ConnectionResetError``; unhandled, aiohttp logs that as
an error with a traceback and tries to answer 500. On the internet it is routine (a provider
giving up, a phone losing signal), so API and customer-link handlers are wrapped in
:func:`quiet_when_client_leaves` and the webhook handler calls :func:`left_quietly` itself.
Nothing was acknowledged to such a client, so nothing is lost: the sender retries. An answer
written after the client left is dropped by aiohttp.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bridgekit.web.client_address import client_address

log = logging.getLogger("bridgekit.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CLIENT_CLOSED = 499  # nginx's "client closed request"; only an access log ever shows it


def client_gone(request: web.Request) -> bool:
    """Whether the request's client has closed its connection."""
    transport = request.transport
    return transport is None or transport.is_closing()


def left_quietly(request: web.Request) -> web.StreamResponse | None:
    """After a ``ConnectionResetError`` in a handler: one info line and the answer to give if
    the request's client has gone; ``None`` if it has not (another connection failed, a
    provider or a mail relay: a real error, to re-raise)."""
    if not client_gone(request):
        return None
    # The route's pattern, not the path: a customer link's path is its secret token.
    route = request.match_info.route.resource
    where = route.canonical if route is not None else "?"
    log.info("client %s left during %s %s", client_address(request), request.method, where)
    return web.Response(status=CLIENT_CLOSED)


def quiet_when_client_leaves(handler: Handler) -> Handler:
    """``handler``, with a client's disconnect logged as one info line instead of an error.
    (The webhook handler does the same around its body read itself: one coroutine frame
    fewer on the hottest route.)"""

    @functools.wraps(handler)
    async def quiet(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ConnectionResetError:
            response = left_quietly(request)
            if response is None:
                raise
            return response

    return quiet
