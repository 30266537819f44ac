"""The manager REST API under ``/api/v1`` (bearer-token authenticated).

This is the foundation's slice: integrations and channels in the fixed order, chats,
messages, and posting a reply (through the outbox) or an internal note.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from bridgekit.core import schema as s
from bridgekit.core.bridge import Bridge
from bridgekit.core.chats import ChatError, NewContact, add_note, raw_delivery, start_chat
from bridgekit.core.managers import authenticate
from bridgekit.core.outbox import enqueue_message
from bridgekit.exceptions import UnknownIntegration
from bridgekit.web.keys import BRIDGE, MANAGER_KEY, current_manager

routes = web.RouteTableDef()


def _error(status: int, message: str) -> web.HTTPException:
    cls = web.HTTPException
    exc = cls(text=f'{{"error": "{message}"}}', content_type="application/json")
    exc.set_status(status)
    return exc


@web.middleware
async def auth_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        response: web.StreamResponse = await handler(request)
        return response
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return web.json_response({"error": "a bearer token is required"}, status=401)
    manager = await authenticate(request.app[BRIDGE].db, token.strip())
    if manager is None:
        return web.json_response({"error": "invalid token"}, status=401)
    request[MANAGER_KEY] = manager
    response = await handler(request)
    return response


def _iso(value: Any) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


@routes.get("/api/v1/channels")
async def list_channels(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    return web.json_response(
        [
            {
                "name": ch.spec.name,
                "title": ch.spec.title,
                "slot": int(ch.spec.inbox_slot),
                "plugin": ch.plugin_name,
            }
            for ch in bridge.plugins.channels.values()
        ]
    )


@routes.get("/api/v1/integrations")
async def list_integrations(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    return web.json_response(
        [
            {
                "id": b.integration.id,
                "name": b.integration.name,
                "channel": b.integration.channel,
                "title": b.channel.spec.title,
                "mark": b.channel.spec.mark,
                "hook_url": f"{bridge.config.base_url}/hooks/{b.integration.name}",
            }
            for b in bridge.registry.ordered()
        ]
    )


def _chat_json(row: Any, bridge: Bridge) -> dict[str, Any]:
    bound = bridge.registry.by_id(row.integration_id) if row.integration_id else None
    return {
        "id": row.id,
        "title": row.title,
        "state": row.state,
        "customer_id": row.customer_id,
        "integration": bound.integration.name if bound else None,
        "channel": bound.integration.channel if bound else None,
        "mark": bound.channel.spec.mark if bound else None,
        "assignee_id": row.assignee_id,
        "created_at": _iso(row.created_at),
        "last_message_at": _iso(row.last_message_at),
    }


@routes.get("/api/v1/chats")
async def list_chats(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    try:
        limit = min(max(int(request.query.get("limit", "50")), 1), 200)
    except ValueError:
        raise _error(400, "limit must be an integer") from None
    query = select(s.chats).order_by(s.chats.c.last_message_at.desc(), s.chats.c.id.desc()).limit(limit)
    if "state" in request.query:
        query = query.where(s.chats.c.state == request.query["state"])
    async with bridge.db.read() as conn:
        rows = (await conn.execute(query)).all()
    return web.json_response([_chat_json(r, bridge) for r in rows])


async def _chat_or_404(bridge: Bridge, chat_id: str) -> Any:
    try:
        cid = int(chat_id)
    except ValueError:
        raise _error(404, "no such chat") from None
    async with bridge.db.read() as conn:
        row = (await conn.execute(select(s.chats).where(s.chats.c.id == cid))).first()
    if row is None:
        raise _error(404, "no such chat")
    return row


@routes.get("/api/v1/chats/{chat_id}")
async def get_chat(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    return web.json_response(_chat_json(await _chat_or_404(bridge, request.match_info["chat_id"]), bridge))


@routes.get("/api/v1/chats/{chat_id}/messages")
async def list_messages(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    chat = await _chat_or_404(bridge, request.match_info["chat_id"])
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
                "created_at": _iso(r.created_at),
            }
            for r in rows
        ]
    )


@routes.post("/api/v1/chats/{chat_id}/messages")
async def post_message(request: web.Request) -> web.Response:
    """Reply to the customer (queued in the outbox) or add an internal note (never sent)."""
    bridge: Bridge = request.app[BRIDGE]
    manager = current_manager(request)
    chat = await _chat_or_404(bridge, request.match_info["chat_id"])
    try:
        body = await request.json()
    except ValueError:
        raise _error(400, "the body must be JSON") from None
    text = body.get("text") if isinstance(body, dict) else None
    kind = body.get("kind", "reply") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise _error(400, "text is required")
    if kind not in ("reply", "note"):
        raise _error(400, "kind must be 'reply' or 'note'")
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


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise _error(400, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise _error(400, "the body must be a JSON object")
    return body


@routes.post("/api/v1/chats")
async def create_chat(request: web.Request) -> web.Response:
    """A manager writes to a customer first (E10): opens a chat and queues the message.

    Body: ``{"integration": name, "text": ..., "title": ..., "customer_id": id}`` or, instead
    of ``customer_id``, ``"contact": {"kind": "email", "value": ..., "name": ...}``.
    """
    bridge: Bridge = request.app[BRIDGE]
    manager = current_manager(request)
    body = await _json_object(request)
    try:
        bound = bridge.registry.get(str(body.get("integration")))
    except UnknownIntegration:
        raise _error(400, f"no integration named {body.get('integration')!r}") from None
    text, title = body.get("text"), body.get("title")
    customer_id, contact_data = body.get("customer_id"), body.get("contact")
    if not isinstance(text, str) or (title is not None and not isinstance(title, str)):
        raise _error(400, "text (and title, when given) must be strings")
    contact = None
    if contact_data is not None:
        if not isinstance(contact_data, dict) or not all(
            isinstance(contact_data.get(k), str) for k in ("kind", "value")
        ):
            raise _error(400, "contact needs string kind and value")
        contact = NewContact(
            contact_data["kind"],
            contact_data["value"].strip(),
            contact_data.get("name"),
            bool(contact_data.get("shared", True)),
        )
    if customer_id is not None and not isinstance(customer_id, int):
        raise _error(400, "customer_id must be an integer")
    try:
        async with bridge.db.write() as conn:
            chat_id, message_id = await start_chat(
                conn,
                channel_id=bridge.channel_id,
                bound=bound,
                text=text,
                title=title,
                customer_id=customer_id,
                contact=contact,
                author_id=manager.id,
                author_name=manager.name,
            )
    except ChatError as exc:
        raise _error(400, str(exc)) from None
    bridge.wake_outbox()
    return web.json_response({"chat_id": chat_id, "message_id": message_id}, status=201)


@routes.get("/api/v1/messages/{message_id}/raw")
async def get_raw(request: web.Request) -> web.Response:
    """The inbound delivery a message came from, byte for byte (E4's source view)."""
    bridge: Bridge = request.app[BRIDGE]
    try:
        message_id = int(request.match_info["message_id"])
    except ValueError:
        raise _error(404, "no such message") from None
    async with bridge.db.read() as conn:
        row = await raw_delivery(conn, message_id)
    if row is None:
        raise _error(404, "no raw delivery for this message")
    return web.Response(
        body=bytes(row.body),
        content_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="message-{message_id}.raw"'},
    )
