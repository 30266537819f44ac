"""Macros API (I15): every manager lists them; managers with the admin permission edit them."""

from __future__ import annotations

from aiohttp import web

from bridgekit.engine.bridge import Bridge
from bridgekit.inbox.macros import (
    MacroError,
    clean_shortcut,
    clean_text,
    create_macro,
    delete_macro,
    list_macros,
    update_macro,
)
from bridgekit.web.auth import ADMIN, require_permission
from bridgekit.web.common import json_object
from bridgekit.web.jsonio import json_response
from bridgekit.web.keys import BRIDGE, current_manager
from bridgekit.web.messages_http import int_id

routes = web.RouteTableDef()


@routes.get("/api/v1/macros")
async def get_macros(request: web.Request) -> web.Response:
    """All macros by shortcut; ``?q=ab`` keeps those starting with ``ab`` (the composer's ``#ab``)."""
    bridge: Bridge = request.app[BRIDGE]
    async with bridge.db.read() as conn:
        macros = await list_macros(conn, bridge.workspace_id, request.query.get("q") or None)
    return json_response([m.as_json() for m in macros])


@routes.post("/api/v1/macros")
async def post_macro(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    require_permission(current_manager(request), ADMIN)
    body = await json_object(request)
    shortcut, text = clean_shortcut(body.get("shortcut")), clean_text(body.get("text"))
    async with bridge.db.write() as conn:
        macro = await create_macro(conn, bridge.workspace_id, shortcut, text)
    return json_response(macro.as_json(), status=201)


@routes.put("/api/v1/macros/{macro_id}")
async def put_macro(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    require_permission(current_manager(request), ADMIN)
    macro_id = int_id(request, "macro_id", "macro")
    body = await json_object(request)
    shortcut = clean_shortcut(body["shortcut"]) if "shortcut" in body else None
    text = clean_text(body["text"]) if "text" in body else None
    if shortcut is None and text is None:
        raise MacroError("give a new shortcut, text, or both")
    async with bridge.db.write() as conn:
        macro = await update_macro(conn, bridge.workspace_id, macro_id, shortcut=shortcut, text=text)
    return json_response(macro.as_json())


@routes.delete("/api/v1/macros/{macro_id}")
async def remove_macro(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    require_permission(current_manager(request), ADMIN)
    macro_id = int_id(request, "macro_id", "macro")
    async with bridge.db.write() as conn:
        await delete_macro(conn, bridge.workspace_id, macro_id)
    return web.Response(status=204)
