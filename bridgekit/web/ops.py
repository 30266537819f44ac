"""``/health`` and ``/metrics``: liveness for anyone, details for operators and scrapers.

``GET /health`` answers every caller ``{"status": "ok"}`` (or ``"degraded"`` with 503 when
the database does not answer), naming nothing. With a credential it adds the version, the
database check and the loaded channels and integrations. ``GET /metrics`` (Prometheus text)
needs a credential. A credential is ``Authorization: Bearer <token>`` holding either the
configured ``[server] metrics_token`` (``BRIDGEKIT_METRICS_TOKEN``), for scrapers, or the
API token of a manager with the operator seat.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bridgekit import __version__
from bridgekit.engine.bridge import Bridge
from bridgekit.inbox.managers import authenticate
from bridgekit.web.auth import bearer_token
from bridgekit.web.jsonio import json_response
from bridgekit.web.keys import BRIDGE


async def may_see_details(request: web.Request) -> bool:
    """Whether the request carries the metrics token or an operator's API token."""
    token = bearer_token(request)
    if token is None:
        return False
    bridge: Bridge = request.app[BRIDGE]
    configured = bridge.config.metrics_token
    if configured and hmac.compare_digest(token.encode(), configured.encode()):
        return True
    try:
        manager = await authenticate(bridge.db, token)
    except SQLAlchemyError:  # the database is down: only the metrics token can tell
        return False
    return manager is not None and manager.operator


async def health(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    try:
        async with bridge.db.read() as conn:
            await conn.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:
        database = f"error: {type(exc).__name__}"
    status = 200 if database == "ok" else 503
    answer: dict[str, Any] = {"status": "ok" if status == 200 else "degraded"}
    if await may_see_details(request):
        answer |= {
            "version": __version__,
            "database": database,
            "channels": list(bridge.plugins.channels),
            "integrations": [b.integration.name for b in bridge.registry.ordered()],
        }
    return json_response(answer, status=status)


async def metrics(request: web.Request) -> web.Response:
    if not await may_see_details(request):
        return json_response(
            {"error": "the metrics token or an operator's API token is required"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    bridge: Bridge = request.app[BRIDGE]
    return web.Response(text=bridge.metrics.render(bridge.hooks.errors), content_type="text/plain")
