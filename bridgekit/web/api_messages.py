"""Messages of a chat: list, reply to the customer, internal notes (I13-I15, I19)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from bridgekit.core import schema as s
from bridgekit.core.bridge import Bridge
from bridgekit.core.chats import add_note
from bridgekit.core.outbox import enqueue_message
from bridgekit.web.common import api_error, chat_or_404, iso
from bridgekit.web.keys import BRIDGE, current_manager

routes = web.RouteTableDef()


@routes.get("/api/v1/chats/{chat_id}/messages")
async def list_messages(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    chat = await chat_or_404(bridge, request.match_info["chat_id"])
    m = s.messages
    async with bridge.db.read() as conn:
        rows = (await conn.execute(select(m).where(m.c.chat_id == chat.id).order_by(m.c.id))).all()
        files = (
            await conn.execute(
                select(s.attachments).where(s.attachments.c.message_id.in_([r.id for r in rows]))
            )
        ).all()
    by_message: dict[int, list[dict[str, Any]]] = {}
    for f in files:
        by_message.setdefault(f.message_id, []).append(
            {"id": f.id, "filename": f.filename, "content_type": f.content_type, "size": f.size}
        )
    return web.json_response(
        [
            {
                "id": r.id,
                "direction": r.direction,
                "author_kind": r.author_kind,
                "author_name": r.author_name,
                "text": r.text,
                "automated": r.automated,
                "delivery_status": r.delivery_status,
                "delivery_error": r.delivery_error,
                "provider_message_id": r.provider_message_id,
                "attachments": by_message.get(r.id, []),
                "created_at": iso(r.created_at),
            }
            for r in rows
        ]
    )


@routes.post("/api/v1/chats/{chat_id}/messages")
async def post_message(request: web.Request) -> web.Response:
    """Reply to the customer (queued in the outbox) or add an internal note (never sent)."""
    bridge: Bridge = request.app[BRIDGE]
    manager = current_manager(request)
    chat = await chat_or_404(bridge, request.match_info["chat_id"])
    try:
        body = await request.json()
    except ValueError:
        raise api_error(400, "the body must be JSON") from None
    text = body.get("text") if isinstance(body, dict) else None
    kind = body.get("kind", "reply") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise api_error(400, "text is required")
    if kind not in ("reply", "note"):
        raise api_error(400, "kind must be 'reply' or 'note'")
    async with bridge.db.write() as conn:
        if kind == "note":
            message_id = await add_note(
                conn, chat.id, text, author_kind="manager", author_id=manager.id, author_name=manager.name
            )
        else:
            message_id = await enqueue_message(
                conn,
                chat_id=chat.id,
                text=text,
                author_kind="manager",
                author_id=manager.id,
                author_name=manager.name,
            )
    if kind == "reply":
        bridge.wake_outbox()
    return web.json_response(
        {"id": message_id, "kind": kind, "delivery_status": "pending" if kind == "reply" else None},
        status=201,
    )
