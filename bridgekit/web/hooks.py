"""``/hooks/{integration}``: hand the raw request to the owning plugin, answer after commit."""

from __future__ import annotations

from aiohttp import web

from bridgekit.core.bridge import Bridge
from bridgekit.core.clock import utcnow
from bridgekit.model import RawDelivery
from bridgekit.web.jsonio import json_response
from bridgekit.web.keys import BRIDGE


async def handle_hook(request: web.Request) -> web.StreamResponse:
    bridge: Bridge = request.app[BRIDGE]
    body = await request.read()
    delivery = RawDelivery(
        integration=request.match_info["integration"],
        method=request.method,
        path=request.path,
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query) if request.query_string else {},
        body=body,
        remote=request.remote,
        received_at=utcnow(),
    )
    outcome = await bridge.submit(delivery)
    if outcome.status in ("accepted", "duplicate"):
        if outcome.response is not None:
            r = outcome.response
            body_bytes = r.body.encode() if isinstance(r.body, str) else r.body
            return web.Response(
                status=r.status, body=body_bytes, content_type=r.content_type, headers=dict(r.headers)
            )
        return web.Response(status=200, text="OK")
    return json_response({"error": outcome.status, "detail": outcome.detail}, status=outcome.http_status)
