"""``/hooks/{integration}``: hand the raw request to the owning plugin, answer after commit."""

from __future__ import annotations

import logging

from aiohttp import web

from bridgekit.engine.bridge import Bridge
from bridgekit.exceptions import UnknownIntegration
from bridgekit.model import RawDelivery
from bridgekit.runtime.clock import utcnow
from bridgekit.web.body_limits import read_body
from bridgekit.web.client_address import client_address
from bridgekit.web.dropped import left_quietly
from bridgekit.web.jsonio import json_response
from bridgekit.web.keys import BRIDGE

log = logging.getLogger(__name__)
# How long a provider should wait before redelivering after a busy database (503).
RETRY_AFTER_SECONDS = 2


async def handle_hook(request: web.Request) -> web.StreamResponse:
    bridge: Bridge = request.app[BRIDGE]
    integration = request.match_info["integration"]
    try:
        spec = bridge.registry.get(integration).channel.spec
    except UnknownIntegration:  # answered 404 by ingest below; its body is worth no more
        spec = None
    limit = (spec.max_body_bytes if spec else None) or bridge.config.limits.webhook_body_bytes
    try:
        body = await read_body(request, limit)
    except ConnectionResetError:
        # The client hung up mid-body. The only read of its connection here (submit never
        # raises), so caught here rather than by a wrapper coroutine around every webhook.
        response = left_quietly(request)
        if response is None:
            raise
        return response
    except web.HTTPException as exc:
        if exc.status == 413 and spec is not None:
            # Not kept: a body cut short can be neither verified nor replayed; counted instead.
            bridge.metrics.inc("bridgekit_ingest_total", outcome="too_large", integration=integration)
            log.warning("webhook for %s refused: its body is over the limit of %d bytes", integration, limit)
        raise
    delivery = RawDelivery(
        integration=integration,
        method=request.method,
        path=request.path,
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query) if request.query_string else {},
        body=body,
        remote=client_address(request),
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
    return json_response(
        {"error": outcome.status, "detail": outcome.detail}, status=outcome.http_status, headers=headers
    )
