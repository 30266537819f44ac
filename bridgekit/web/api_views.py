"""Inbox views: chat lists and one chat (I1-I8)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from bridgekit.core import schema as s
from bridgekit.core.bridge import Bridge
from bridgekit.web.common import api_error, chat_json, chat_or_404
from bridgekit.web.keys import BRIDGE

routes = web.RouteTableDef()


@routes.get("/api/v1/chats")
async def list_chats(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    try:
        limit = min(max(int(request.query.get("limit", "50")), 1), 200)
    except ValueError:
        raise api_error(400, "limit must be an integer") from None
    query = select(s.chats).order_by(s.chats.c.last_message_at.desc(), s.chats.c.id.desc()).limit(limit)
    if "state" in request.query:
        query = query.where(s.chats.c.state == request.query["state"])
    async with bridge.db.read() as conn:
        rows = (await conn.execute(query)).all()
    return web.json_response([chat_json(r, bridge) for r in rows])


@routes.get("/api/v1/chats/{chat_id}")
async def get_chat(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    return web.json_response(chat_json(await chat_or_404(bridge, request.match_info["chat_id"]), bridge))
