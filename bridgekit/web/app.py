"""The aiohttp application: webhooks, health, metrics, the manager API, the browser pages
(sign-in and the inbox shell), plugin routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from aiohttp import web

from bridgekit.engine.bridge import Bridge
from bridgekit.web import (
    admin,
    api,
    api_chats,
    api_customers,
    api_macros,
    api_managers,
    api_messages,
    api_notifications,
    api_realtime,
    api_tags,
    api_usage,
    api_views,
    customer_link,
    i18n,
    media,
    openapi_doc,
    pages,
    shell,
    signin,
)
from bridgekit.web.client_address import TRUSTED_PROXIES, TrustedProxies
from bridgekit.web.hooks import handle_hook
from bridgekit.web.keys import BRIDGE
from bridgekit.web.ops import health, metrics, ready
from bridgekit.web.rate_limits import RATE_LIMITS, RateLimits


async def create_app(bridge: Bridge) -> web.Application:
    """Build the app (plugin routes included); the bridge starts and stops with it."""
    app = web.Application(client_max_size=bridge.config.max_body_bytes)
    app[BRIDGE] = bridge
    app[RATE_LIMITS] = RateLimits(bridge.config.limits, bridge.db)
    app[TRUSTED_PROXIES] = TrustedProxies(bridge.config.trusted_proxies)
    pages.setup_templates(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await bridge.start()
        yield
        await bridge.stop()

    app.cleanup_ctx.append(lifecycle)
    # End live event streams first: aiohttp waits for running handlers before stopping the bridge.
    app.on_shutdown.append(api_realtime.end_streams)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", metrics)
    # handle_hook answers a client that hung up itself (see bridgekit.web.dropped).
    app.router.add_route("POST", "/hooks/{integration}", handle_hook)
    app.router.add_route("GET", "/hooks/{integration}", handle_hook)
    # Every route table of the app, each module's once: a module never registers another's.
    for module in (
        api,
        api_views,
        api_chats,
        api_messages,
        api_macros,
        api_managers,
        api_tags,
        api_customers,
        customer_link,
        api_notifications,
        api_usage,
        api_realtime,
        openapi_doc,
        media,
        pages,
        i18n,
        signin,
        shell,
        admin,
    ):
        app.router.add_routes(_guard_api(module.routes))
    for defs in await bridge.hooks.call_all("bridgekit_routes", bridge=bridge):
        app.router.add_routes(_guard_api(defs))
    return app


def _guard_api(defs: Iterable[web.AbstractRouteDef]) -> list[web.AbstractRouteDef]:
    """Every route under ``/api/`` or ``/c/`` (plugin routes too) behind ``api.guarded``; every
    other (the pages) answering a "try again shortly" page while the database is away."""
    guarded: list[web.AbstractRouteDef] = []
    for route in defs:
        if isinstance(route, web.RouteDef) and route.path.startswith(api.API_PREFIXES):
            if isinstance(route.handler, type):
                raise TypeError(f"class-based view at {route.path}: API routes must be functions")
            route = web.RouteDef(route.method, route.path, api.guarded(route.handler), route.kwargs)
        elif isinstance(route, web.RouteDef) and not isinstance(route.handler, type):
            handler = pages.unavailable_page(route.handler)
            route = web.RouteDef(route.method, route.path, handler, route.kwargs)
        elif isinstance(route, web.StaticDef) and route.prefix.startswith(api.API_PREFIXES):
            raise TypeError(f"static files at {route.prefix}: nothing under the API may skip its auth")
        guarded.append(route)
    return guarded
