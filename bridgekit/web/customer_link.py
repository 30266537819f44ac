"""The customer link (I11): ``/c/{token}``, outside ``/api/`` and without a manager token.

The token alone opens exactly one chat; a wrong or rotated token is a plain 404 that says
nothing about other chats.

* ``GET  /c/{token}``                        the chat's customer-visible messages (never notes)
* ``POST /c/{token}/messages``               the customer writes into the chat
* ``POST /c/{token}/forms/{message_id}``     answers to an input form (I15), saved to the profile
* ``GET  /c/{token}/attachments/{id}``       a file of a customer-visible message
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from bridgekit.engine.bridge import Bridge
from bridgekit.inbox.chat_state import reopen_chats
from bridgekit.inbox.customer_links import chat_for_token
from bridgekit.inbox.customer_thread import (
    MAX_TEXT,
    attachment_in_chat,
    visible_messages,
)
from bridgekit.inbox.customers import customer_row, save_form_answers
from bridgekit.inbox.forms import validate_answers
from bridgekit.inbox.message_writer import write_customer_message
from bridgekit.runtime.events import Event
from bridgekit.storage import schema as s
from bridgekit.storage.event_seq import sequence_events
from bridgekit.storage.schema import MAX_ID
from bridgekit.storage.storable import storable
from bridgekit.web.client_address import client_address
from bridgekit.web.common import json_object
from bridgekit.web.jsonio import json_error, json_response
from bridgekit.web.keys import BRIDGE
from bridgekit.web.messages_http import download, int_id, query_int
from bridgekit.web.rate_limits import RATE_LIMITS

routes = web.RouteTableDef()

# The token is in the URL: keep it out of caches and out of Referer headers of links clicked.
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

# The bodies these routes accept (outside the manager API's OpenAPI document).
MESSAGE_BODY = {"type": "object", "additionalProperties": False, "properties": {"text": {"type": "string"}}}
FORM_BODY = {"type": "object", "additionalProperties": False, "properties": {"answers": {"type": "object"}}}


# The chat ``admit`` found, so the handler does not look the token up again.
_LINK_CHAT: web.RequestKey[Any] = web.RequestKey("bridgekit.link_chat", object)


async def _chat(request: web.Request) -> Any:
    chat = request.get(_LINK_CHAT)
    if chat is not None:
        return chat
    bridge: Bridge = request.app[BRIDGE]
    async with bridge.db.read() as conn:
        chat = await chat_for_token(conn, request.match_info["token"])
    if chat is None:
        raise json_error(404, "this link is not valid")
    request[_LINK_CHAT] = chat
    return chat


async def admit(request: web.Request) -> None:
    """Run by ``api.guarded`` before any body is read: the token must open a chat (404), from
    an address that has not guessed wrong too often (429); a post counts against its chat's
    rate (429). The address is the client's (``client_address``)."""
    limits = request.app[RATE_LIMITS]
    address = client_address(request) or ""
    await limits.check(limits.link_failures, "link-failures", address)
    try:
        chat = await _chat(request)
    except web.HTTPException:
        await limits.spend(limits.link_failures, "link-failures", address)
        raise
    if request.method == "POST":
        await limits.spend(limits.customer_posts, "customer-posts", str(chat.id))


@routes.get("/c/{token}")
async def view_chat(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    chat = await _chat(request)
    before = query_int(request, "before", None, 1, MAX_ID)
    limit = query_int(request, "limit", 100, 1, 500) or 100
    async with bridge.db.read() as conn:
        messages = await visible_messages(
            conn, chat.id, request.match_info["token"], before=before, limit=limit
        )
    return json_response(
        {"chat": {"id": chat.id, "title": chat.title, "state": chat.state}, "messages": messages},
        headers=PRIVATE,
    )


@routes.post("/c/{token}/messages")
async def write_message(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    chat = await _chat(request)
    body = await json_object(request, MESSAGE_BODY)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise json_error(400, "text is required")
    if len(text) > MAX_TEXT:
        raise json_error(400, f"text is longer than {MAX_TEXT} characters")
    if not storable(text):
        raise json_error(400, "text must not contain NUL characters or unpaired surrogates")
    bound = bridge.registry.by_id(chat.integration_id) if chat.integration_id is not None else None
    if chat.state == "closed" and bound is not None and bound.channel.spec.closed_chat_policy != "reopen":
        # E6-style channels: a closed conversation stays closed; a new message opens a new chat.
        title = bound.channel.spec.title
        raise json_error(
            409,
            f"this conversation is closed; write to us again by {title}",
            code="chat_closed",
            details={"channel": title},
        )
    async with bridge.db.write() as conn:
        reopened: list[Event] = []
        if chat.state == "closed":  # the channel's policy: a customer's message reopens it
            reopened = (await reopen_chats(conn, [chat.id], bridge.registry)).events
        message_id, events = await write_customer_message(conn, chat, text)
        events = await sequence_events(conn, [*reopened, *events])
    bridge.events.publish_many(events)
    if bridge.flow is not None:
        bridge.flow.wakeup.set()
    return json_response({"id": message_id}, status=201, headers=PRIVATE)


@routes.post("/c/{token}/forms/{message_id}")
async def answer_form(request: web.Request) -> web.Response:
    """``{"answers": {key: value}}``: checked against the form's field types, then saved to the
    customer's profile (email and phone answers also as unverified shared contacts)."""
    bridge: Bridge = request.app[BRIDGE]
    chat = await _chat(request)
    message_id = int_id(request, "message_id", "form")
    body = await json_object(request, FORM_BODY)
    m = s.messages
    async with bridge.db.write() as conn:
        message = (
            await conn.execute(
                select(m.c.id, m.c.meta).where(
                    m.c.id == message_id, m.c.chat_id == chat.id, m.c.direction == "outbound"
                )
            )
        ).first()
        form = (message.meta or {}).get("form") if message is not None else None
        if message is None or not form:
            raise json_error(404, "no such form in this conversation")
        answers = validate_answers(form, body.get("answers"))
        customer = await customer_row(conn, chat.customer_id, chat.workspace_id)
        events = await save_form_answers(
            conn,
            chat_id=chat.id,
            customer=customer,
            message_id=message.id,
            message_meta=message.meta or {},
            fields=form["fields"],
            answers=answers,
        )
        events = await sequence_events(conn, events)
    bridge.events.publish_many(events)
    return json_response({"answers": answers}, headers=PRIVATE)


@routes.get("/c/{token}/attachments/{attachment_id}")
async def customer_attachment(request: web.Request) -> web.FileResponse:
    bridge: Bridge = request.app[BRIDGE]
    chat = await _chat(request)
    attachment_id = int_id(request, "attachment_id", "attachment")
    async with bridge.db.read() as conn:
        row = await attachment_in_chat(conn, chat.id, attachment_id)
    if row is None:
        raise json_error(404, "no such attachment")
    response = download(row.storage_path, row.filename, row.content_type)
    response.headers.update(PRIVATE)
    return response
