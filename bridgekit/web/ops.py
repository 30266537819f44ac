"""``/health``, ``/ready`` and ``/metrics``: for load balancers, operators and scrapers.

``GET /health`` is liveness: it answers every caller ``{"status": "ok"}`` as long as the
process serves requests, without touching the database (a process that waits out a database
outage is alive and resumes by itself; restarting it would help nothing). It names nothing.
``GET /ready`` is readiness: ``200 {"status": "ready"}`` when the database answers within
``READY_TIMEOUT`` and its schema is at this code's newest migration, else ``503
{"status": "not ready"}`` with ``Retry-After``. With a credential both add details: the
version, the database check, the schema revision and (``/health``) the loaded channels and
integrations. ``GET /metrics`` (Prometheus text) needs a credential. A credential is
``Authorization: Bearer <token>`` holding either the configured ``[server] metrics_token``
(``BRIDGEKIT_METRICS_TOKEN``), for scrapers, or the API token of a manager with the operator
seat.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bridgekit import __version__
from bridgekit.engine.bridge import Bridge
from bridgekit.inbox.managers import authenticate
from bridgekit.storage.db import is_unavailable, migrations_head, schema_revision
from bridgekit.web.auth import bearer_token
from bridgekit.web.jsonio import json_response
from bridgekit.web.keys import BRIDGE

READY_TIMEOUT = 2.0  # seconds the database may take to answer before /ready says "not ready"
READY_RETRY_AFTER = 5


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
    except Exception as exc:  # the database is down: only the metrics token can tell
        if isinstance(exc, SQLAlchemyError) or is_unavailable(exc):
            return False
        raise
    return manager is not None and manager.operator


async def database_check(bridge: Bridge) -> tuple[str, str | None]:
    """``("ok", revision)`` when the database answers in time, else ``("error: <kind>", None)``."""

    async def ask() -> str | None:
        async with bridge.db.read() as conn:
            return await schema_revision(conn)

    try:
        revision = await asyncio.wait_for(ask(), READY_TIMEOUT)
    except TimeoutError:
        return "error: timeout", None
    except Exception as exc:
        return f"error: {type(exc).__name__}", None
    return "ok", revision


async def health(request: web.Request) -> web.Response:
    answer: dict[str, Any] = {"status": "ok"}
    if await may_see_details(request):
        bridge: Bridge = request.app[BRIDGE]
        database, revision = await database_check(bridge)
        answer |= {
            "version": __version__,
            "database": database,
            "schema": revision,
            "channels": list(bridge.plugins.channels),
            "integrations": [b.integration.name for b in bridge.registry.ordered()],
        }
    return json_response(answer)


async def ready(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    database, revision = await database_check(bridge)
    head = await asyncio.to_thread(migrations_head)  # reads the migration files once
    is_ready = database == "ok" and revision == head
    answer: dict[str, Any] = {"status": "ready" if is_ready else "not ready"}
    if await may_see_details(request):
        answer |= {"version": __version__, "database": database, "schema": revision, "schema_head": head}
    if is_ready:
        return json_response(answer)
    return json_response(answer, status=503, headers={"Retry-After": str(READY_RETRY_AFTER)})


async def metrics(request: web.Request) -> web.Response:
    if not await may_see_details(request):
        return json_response(
            {"error": "the metrics token or an operator's API token is required"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    bridge: Bridge = request.app[BRIDGE]
    return web.Response(text=bridge.metrics.render(bridge.hooks.errors), content_type="text/plain")
