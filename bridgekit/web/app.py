"""The aiohttp application: webhooks, health, metrics, the manager API, plugin routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from aiohttp import web
from sqlalchemy import text

from bridgekit import __version__
from bridgekit.core.bridge import Bridge
from bridgekit.web import api, api_chats, api_messages, api_notifications, api_realtime, api_views
from bridgekit.web.hooks import handle_hook
from bridgekit.web.keys import BRIDGE
from bridgekit.web.rate_limits import RATE_LIMITS, RateLimits


async def health(request: web.Request) -> web.Response:
    bridge = request.app[BRIDGE]
    try:
        async with bridge.db.read() as conn:
            await conn.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:
        database = f"error: {exc}"
    status = 200 if database == "ok" else 503
    return web.json_response(
        {
            "status": "ok" if status == 200 else "degraded",
            "version": __version__,
            "database": database,
            "channels": list(bridge.plugins.channels),
            "integrations": [b.integration.name for b in bridge.registry.ordered()],
        },
        status=status,
    )


async def metrics(request: web.Request) -> web.Response:
    bridge = request.app[BRIDGE]
    return web.Response(text=bridge.metrics.render(bridge.hooks.errors), content_type="text/plain")


async def create_app(bridge: Bridge) -> web.Application:
    """Build the app (plugin routes included); the bridge starts and stops with it."""
    app = web.Application(client_max_size=bridge.config.max_body_bytes)
    app[BRIDGE] = bridge
    app[RATE_LIMITS] = RateLimits(bridge.config.limits)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await bridge.start()
        yield
        await bridge.stop()

    app.cleanup_ctx.append(lifecycle)
    # End live event streams first: aiohttp waits for running handlers before stopping the bridge.
    app.on_shutdown.append(api_realtime.end_streams)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_route("POST", "/hooks/{integration}", handle_hook)
    app.router.add_route("GET", "/hooks/{integration}", handle_hook)
    for module in (api, api_views, api_chats, api_messages, api_notifications, api_realtime):
        app.router.add_routes(_guard_api(module.routes))
    for defs in await bridge.hooks.call_all("bridgekit_routes", bridge=bridge):
        app.router.add_routes(_guard_api(defs))
    return app


def _guard_api(defs: Iterable[web.AbstractRouteDef]) -> list[web.AbstractRouteDef]:
    """Every route under ``/api/`` or ``/c/`` (plugin routes too) behind ``api.guarded``."""
    guarded: list[web.AbstractRouteDef] = []
    for route in defs:
        if isinstance(route, web.RouteDef) and route.path.startswith(api.API_PREFIXES):
            if isinstance(route.handler, type):
                raise TypeError(f"class-based view at {route.path}: API routes must be functions")
            route = web.RouteDef(route.method, route.path, api.guarded(route.handler), route.kwargs)
        elif isinstance(route, web.StaticDef) and route.prefix.startswith(api.API_PREFIXES):
            raise TypeError(f"static files at {route.prefix}: nothing under the API may skip its auth")
        guarded.append(route)
    return guarded
