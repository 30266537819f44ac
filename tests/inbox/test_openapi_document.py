"""``GET /api/v1/openapi.json``: a valid OpenAPI 3.1 description of every manager endpoint.

Like the hook documentation test (tests/test_hookspecs.py), this fails when an endpoint is
added without being described: integrators build their inbox UIs and clients from it.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import bridgekit
from bridgekit.testing.harness import RunningBridge
from bridgekit.web.api import PUBLIC_API_PATHS
from bridgekit.web.openapi_doc import OpenAPIMergeError, build_document, load_fragments, merge_fragments
from tests.conftest import integration
from tests.support.testchannel import TestChannelPlugin

# aiohttp adds HEAD to every GET route by itself; "*" routes are catch-alls, not endpoints.
IMPLICIT_METHODS = frozenset({"HEAD", "*"})


class ChannelWithRoutes(TestChannelPlugin):
    """A channel plugin adding its own manager routes, like the email plugin's /api/v1/email/..."""

    @bridgekit.hookimpl
    def bridgekit_routes(self, bridge: Any) -> list[web.RouteDef]:
        async def ping(request: web.Request) -> web.Response:
            return web.json_response({"pong": True})

        return [web.get(f"/api/v1/{self.spec.name}/ping", ping)]


def shape(path: str) -> str:
    """A path with its variables' names erased: ``/chats/{chat_id}`` ~ ``/chats/{id}``."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def plugin_route(path: str, channels: set[str]) -> bool:
    """``/api/v1/<channel>/...`` of a loaded channel plugin: not described by the core yet."""
    parts = path.split("/")
    return len(parts) > 4 and parts[3] in channels


def registered_api_routes(running: RunningBridge) -> set[tuple[str, str]]:
    channels = set(running.bridge.plugins.channels)
    found = set()
    for route in running.server.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if (
            path.startswith("/api/")
            and route.method not in IMPLICIT_METHODS
            and not plugin_route(path, channels)
        ):
            found.add((route.method, shape(path)))
    return found


def documented_routes(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), shape(path))
        for path, item in document["paths"].items()
        for method in item
        if method.upper() in {"GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "TRACE"}
    }


async def fetch_document(running: RunningBridge) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.get(f"{running.url}/api/v1/openapi.json") as resp,
    ):
        assert resp.status == 200, "the API description is public (no token)"
        document: dict[str, Any] = await resp.json()
        return document


async def start(make_bridge: Any, sandbox_url: str) -> RunningBridge:
    running: RunningBridge = await make_bridge(
        plugins={"testchat": ChannelWithRoutes()}, integrations={"acme": integration(sandbox_url)}
    )
    return running


async def test_the_document_is_valid_openapi_3_1(make_bridge, sandbox_url: str) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    running = await start(make_bridge, sandbox_url)
    document = await fetch_document(running)
    validator.validate(document)  # raises with the offending part on any error
    assert document["openapi"].startswith("3.1")
    assert document["info"]["version"] == bridgekit.__version__


async def test_servers_come_from_the_base_url_and_the_bearer_token_is_required_everywhere(
    make_bridge, sandbox_url: str
) -> None:
    running = await start(make_bridge, sandbox_url)
    document = await fetch_document(running)
    assert document["servers"] == [{"url": running.bridge.config.base_url}]
    assert document["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A manager's API token, from `bridgekit managers create`.",
    }
    public = {
        path
        for path, item in document["paths"].items()
        for op in item.values()
        if isinstance(op, dict) and op.get("security") == []
    }
    assert public == PUBLIC_API_PATHS, "the document marks public exactly what needs no token"


async def test_every_api_endpoint_is_documented(make_bridge, sandbox_url: str) -> None:
    """The test that fails when an endpoint is added without its OpenAPI description.

    Plugin routes under ``/api/v1/<their channel>/`` (e.g. the email plugin's) are not covered
    yet: plugins cannot contribute fragments (see docs/api.md).
    """
    running = await start(make_bridge, sandbox_url)
    registered = registered_api_routes(running)
    assert ("GET", "/api/v1/events") in registered
    missing = registered - documented_routes(await fetch_document(running))
    listed = ", ".join(f"{m} {p}" for m, p in sorted(missing, key=lambda r: (r[1], r[0])))
    assert not missing, (
        f"undocumented endpoints (describe them in bridgekit/web/openapi/<area>.json): {listed}"
    )


async def test_the_document_describes_no_endpoint_that_does_not_exist(make_bridge, sandbox_url: str) -> None:
    running = await start(make_bridge, sandbox_url)
    stale = documented_routes(await fetch_document(running)) - registered_api_routes(running)
    assert not stale, "documented but not served: " + ", ".join(f"{m} {p}" for m, p in sorted(stale))


async def test_plugin_routes_are_left_out_of_the_coverage_check(make_bridge, sandbox_url: str) -> None:
    running = await start(make_bridge, sandbox_url)
    paths = {route.resource.canonical for route in running.server.app.router.routes() if route.resource}
    assert "/api/v1/testchat/ping" in paths
    assert ("GET", "/api/v1/testchat/ping") not in registered_api_routes(running)


def test_every_fragment_is_package_data_and_merges() -> None:
    fragments = load_fragments()
    assert {"core.json", "realtime.json"} <= set(fragments)
    merged = merge_fragments(fragments)
    for path in ("/api/v1/channels", "/api/v1/integrations", "/api/v1/messages/{message_id}/raw"):
        assert "get" in merged["paths"][path]
    assert "post" in merged["paths"]["/api/v1/chats"]
    assert "get" in merged["paths"]["/api/v1/events"]


def fragment(path: str = "/api/v1/x", method: str = "get", schema: str = "XThing") -> dict[str, Any]:
    return {
        "paths": {path: {method: {"responses": {"200": {"description": "ok"}}}}},
        "components": {"schemas": {schema: {"type": "object"}}},
    }


def test_a_path_and_method_described_twice_is_refused() -> None:
    with pytest.raises(OpenAPIMergeError, match=r"GET /api/v1/x is described twice: in a.json and b.json"):
        merge_fragments({"a.json": fragment(), "b.json": fragment(schema="YThing")})


def test_a_schema_defined_twice_is_refused() -> None:
    with pytest.raises(OpenAPIMergeError, match=r"components.schemas.XThing is defined twice"):
        merge_fragments({"a.json": fragment(), "b.json": fragment(method="post")})


def test_two_areas_may_describe_other_methods_of_one_path() -> None:
    shared = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    a, b = fragment(), fragment(method="patch", schema="YThing")
    a["paths"]["/api/v1/x"]["parameters"] = shared
    b["paths"]["/api/v1/x"]["parameters"] = list(shared)
    merged = merge_fragments({"a.json": a, "b.json": b})
    assert set(merged["paths"]["/api/v1/x"]) == {"get", "patch", "parameters"}
    b["paths"]["/api/v1/x"]["parameters"] = []
    with pytest.raises(OpenAPIMergeError, match="'parameters' is described twice"):
        merge_fragments({"a.json": a, "b.json": b})


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"paths": {"/hooks/{integration}": {}}}, "not under /api/v1/"),
        ({"paths": {}, "info": {}}, "only paths and components"),
        ({"paths": []}, "paths must be a JSON object"),
    ],
)
def test_a_malformed_fragment_is_refused(bad: dict[str, Any], error: str) -> None:
    """Webhooks, /health and /metrics are not the manager API; fragments carry nothing global."""
    with pytest.raises(OpenAPIMergeError, match=error):
        merge_fragments({"bad.json": bad})


def test_each_call_builds_a_fresh_document() -> None:
    first = build_document("https://inbox.example.com")
    first["paths"].clear()
    second = build_document("https://other.example.com")
    assert second["paths"]
    assert second["servers"] == [{"url": "https://other.example.com"}]
