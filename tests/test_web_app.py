"""Every route under /api/ wants a manager's token, plugins' routes too; webhooks and other
plugin routes are served as they are (``bridgekit.web.app._guard_api``)."""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp import web

import bridgekit
from bridgekit.web.api import PUBLIC_API_PATHS
from bridgekit.web.app import _guard_api
from tests.conftest import integration
from tests.support.testchannel import TestChannelPlugin


async def _secret(_request: web.Request) -> web.Response:
    return web.json_response({"secret": True})


async def _public(_request: web.Request) -> web.Response:
    return web.json_response({"public": True})


class RoutesPlugin:
    @bridgekit.hookimpl
    def bridgekit_routes(self, bridge: object) -> list[web.RouteDef]:
        return [web.get("/api/v1/plugin-secret", _secret), web.get("/plugin-public", _public)]


async def test_no_api_route_answers_without_a_token(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    running = await make_bridge(
        plugins={"testchat": channel_plugin, "routes": RoutesPlugin()},
        integrations={"support": integration(sandbox_url)},
    )
    calls = set()
    for route in running.server.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/") and path not in PUBLIC_API_PATHS and route.method != "*":
            calls.add((route.method, re.sub(r"\{[^}]+\}", "1", path)))
    assert len(calls) > 40  # the whole manager API, not a handful
    assert ("GET", "/api/v1/plugin-secret") in calls
    async with aiohttp.ClientSession() as anonymous:
        for method, path in sorted(calls):
            async with anonymous.request(method, running.url + path) as resp:
                assert resp.status == 401, f"{method} {path} answered {resp.status} without a token"
        async with anonymous.get(running.url + "/plugin-public") as resp:
            assert resp.status == 200
            assert await resp.json() == {"public": True}
        async with anonymous.get(running.url + "/api/v1/openapi.json") as resp:
            assert resp.status == 200
    assert await running.api("GET", "/plugin-secret") == {"secret": True}  # with the token


class _View(web.View):
    async def get(self) -> web.Response:
        return web.Response(text="unguarded")


def test_what_could_not_be_guarded_under_the_api_is_refused() -> None:
    with pytest.raises(TypeError, match="class-based view"):
        _guard_api([web.view("/api/v1/view", _View)])
    with pytest.raises(TypeError, match="static files"):
        _guard_api([web.static("/api/files", ".")])
    assert len(_guard_api([web.view("/elsewhere", _View), web.static("/files", ".")])) == 2
