"""``/hooks/{integration}``: hand the raw request to the owning plugin, answer after commit."""

from __future__ import annotations

from aiohttp import web

from bridgekit.core.bridge import Bridge
from bridgekit.core.clock import utcnow
from bridgekit.model import RawDelivery
from bridgekit.web.keys import BRIDGE

RETRY_AFTER_SECONDS = 2


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
    # 503: nothing was stored and a redelivery will be (the database was busy).
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if outcome.http_status == 503 else None
    return web.json_response(
        {"error": outcome.status, "detail": outcome.detail}, status=outcome.http_status, headers=headers
    )
