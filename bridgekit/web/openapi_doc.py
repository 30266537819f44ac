"""The manager API's OpenAPI 3.1 document, merged from one fragment per area of the API.

Each area describes its own endpoints in ``bridgekit/web/openapi/<area>.json``, shipped as
package data: ``{"paths": {...}, "components": {"schemas": {...}}}``. This module merges them
and adds what is global (info, servers, the bearer security scheme). A path+method or a
component described twice is an error, never a silent overwrite: two areas disagreeing about
one endpoint would otherwise publish whichever fragment happened to load last.
``GET /api/v1/openapi.json`` serves the merged document.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from aiohttp import web

from bridgekit import __version__
from bridgekit.engine.bridge import Bridge
from bridgekit.web.jsonio import json_response
from bridgekit.web.keys import BRIDGE

OPENAPI_VERSION = "3.1.0"
API_PREFIX = "/api/v1/"
SECURITY_SCHEME = "bearerAuth"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
FRAGMENT_PACKAGE = "bridgekit.web"
FRAGMENT_FOLDER = "openapi"
DESCRIPTION = (
    "The manager API of bridgekit: the shared inbox of chats from customers' messengers. "
    "Every endpoint needs `Authorization: Bearer <token>` (tokens come from "
    "`bridgekit managers create`) except this document. `GET /api/v1/events` streams changes "
    "as Server-Sent Events. See docs/api.md."
)


class OpenAPIMergeError(ValueError):
    """A fragment is malformed or describes something another fragment already describes."""


def load_fragments() -> dict[str, dict[str, Any]]:
    """Every ``openapi/*.json`` fragment of the installed package, by file name, in name order."""
    folder = resources.files(FRAGMENT_PACKAGE).joinpath(FRAGMENT_FOLDER)
    fragments: dict[str, dict[str, Any]] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise OpenAPIMergeError(f"{entry.name} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise OpenAPIMergeError(f"{entry.name} must hold a JSON object")
        fragments[entry.name] = data
    return fragments


def merge_fragments(fragments: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``{"paths": ..., "components": ...}`` of all fragments; raises on any clash."""
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, dict[str, Any]] = {}
    owners: dict[tuple[str, ...], str] = {}
    for name, fragment in fragments.items():
        extra = set(fragment) - {"paths", "components"}
        if extra:
            raise OpenAPIMergeError(f"{name}: only paths and components belong in a fragment, not {extra}")
        for path, item in _object(fragment.get("paths", {}), f"{name}: paths").items():
            if not path.startswith(API_PREFIX):
                raise OpenAPIMergeError(f"{name}: {path} is not under {API_PREFIX} (the manager API)")
            target = paths.setdefault(path, {})
            for key, value in _object(item, f"{name}: {path}").items():
                # Path-level parameters may repeat in each area's fragment when they agree.
                same_shared = key not in HTTP_METHODS and target.get(key) == value
                if key in target and not same_shared:
                    what = f"{key.upper()} {path}" if key in HTTP_METHODS else f"{path} {key!r}"
                    raise OpenAPIMergeError(f"{what} is described twice: in {owners[(path, key)]} and {name}")
                target[key] = value
                owners.setdefault((path, key), name)
        for section, entries in _object(fragment.get("components", {}), f"{name}: components").items():
            target = components.setdefault(section, {})
            for key, value in _object(entries, f"{name}: components.{section}").items():
                if key in target:
                    raise OpenAPIMergeError(
                        f"components.{section}.{key} is defined twice: in {owners[(section, key)]} and {name}"
                    )
                target[key] = value
                owners[(section, key)] = name
    return {"paths": dict(sorted(paths.items())), "components": components}


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise OpenAPIMergeError(f"{where} must be a JSON object")
    return value


@functools.cache
def merged_document() -> dict[str, Any]:
    """The merged fragments, read once (they are package data: they cannot change while the
    process runs). Shared: never modify it; :func:`build_document` returns a copy."""
    return merge_fragments(load_fragments())


def build_document(base_url: str) -> dict[str, Any]:
    """The whole document for a server reachable at ``base_url`` (a fresh copy each call)."""
    merged = copy.deepcopy(merged_document())
    components = merged["components"]
    schemes = components.setdefault("securitySchemes", {})
    if SECURITY_SCHEME in schemes:
        raise OpenAPIMergeError(f"components.securitySchemes.{SECURITY_SCHEME} is global, not a fragment's")
    schemes[SECURITY_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A manager's API token, from `bridgekit managers create`.",
    }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "bridgekit manager API",
            "version": __version__,
            "description": DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": base_url}],
        "security": [{SECURITY_SCHEME: []}],
        "paths": merged["paths"],
        "components": components,
    }


routes = web.RouteTableDef()


@routes.get("/api/v1/openapi.json")
async def openapi_document(request: web.Request) -> web.Response:
    """This API's OpenAPI 3.1 description (public: tools read it before they have a token)."""
    bridge: Bridge = request.app[BRIDGE]
    return json_response(build_document(bridge.config.base_url))
