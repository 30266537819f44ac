"""Manager API routes the email plugin adds (mounted under ``/api/v1/email``, so the core's
token check applies):

* ``GET  /api/v1/email/messages/{id}/original`` — the original mail as sanitised HTML for a
  sandboxed iframe (E4); ``?format=source`` gives the raw source; ``?remote_images=1`` is the
  manager's consent to load remote images.
* ``POST /api/v1/email/chats/{id}/forward`` ``{"to": addr, "note": text}`` — forward the whole
  conversation to an external address (E9), the customer's original mails attached; operator
  seat only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parseaddr

from aiohttp import web

from bridgekit import BridgeAPI
from bridgekit.channelkit.routes import (
    bytes_response,
    json_error,
    json_object,
    json_response,
    operator_only,
    path_id,
)
from bridgekit.exceptions import DeliveryError
from bridgekit.model import Integration
from bridgekit_email_forward.compose import ConversationEntry, compose_forwarded_conversation, make_message_id
from bridgekit_email_forward.original import render_original, response_headers
from bridgekit_email_forward.outbound import send_bytes
from bridgekit_email_forward.settings import EmailSettings

CHANNEL = "email"

FORWARD_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"to": {"type": "string"}, "note": {"type": "string"}},
}


def make_routes(
    bridge: BridgeAPI, settings_for: Callable[[Integration], EmailSettings]
) -> list[web.RouteDef]:
    async def original(request: web.Request) -> web.StreamResponse:
        message_id = path_id(request, "message_id")
        raw = (
            await bridge.raw_delivery_for_message(message_id, channel=CHANNEL)
            if message_id is not None
            else None
        )
        if raw is None:
            raise json_error(404, "no original mail for this message")
        view = render_original(raw, allow_remote_images=request.query.get("remote_images") == "1")
        if request.query.get("format") == "source":
            source = view.source.encode("utf-8", "replace")
            return bytes_response(
                source, f"message-{message_id}.eml.txt", "text/plain; charset=utf-8", inline=True
            )
        return web.Response(
            text=view.html_document(),
            content_type="text/html",
            charset="utf-8",
            headers=response_headers(view),
        )

    @operator_only  # E9 sends the conversation to any outside address
    async def forward(request: web.Request) -> web.StreamResponse:
        chat_id = path_id(request, "chat_id")
        chat = await bridge.chat(chat_id) if chat_id is not None else None
        if chat is None or chat.channel != CHANNEL:
            raise json_error(404, "no such email chat")
        body = await json_object(request, FORWARD_BODY)
        to = parseaddr(str(body.get("to", "")))[1]
        if "@" not in to or " " in to:
            raise json_error(400, "to must be an email address")
        note = str(body.get("note", ""))
        integration = next(i for i in bridge.integrations_for(CHANNEL) if i.id == chat.integration_id)
        settings = settings_for(integration)
        entries = [
            ConversationEntry(
                author=e.author_name or e.author_kind,
                direction=e.direction,
                sent_at=e.created_at.replace(tzinfo=UTC),
                text=e.text,
                raw=e.raw if e.direction == "inbound" else None,
            )
            for e in await bridge.chat_transcript(chat.id)
        ]
        message_id = make_message_id("fwd", uuid.uuid4().hex, settings.id_domain)
        mail = compose_forwarded_conversation(
            entries,
            from_=settings.default_from,
            to=to,
            title=chat.title,
            message_id=message_id,
            date=datetime.now(UTC),
            note=note,
        )
        try:
            await send_bytes(mail.as_bytes(), sender=settings.address, recipients=[to], settings=settings)
        except DeliveryError as exc:
            raise json_error(502, f"the relay refused the forward: {exc.reason}") from None
        await bridge.add_note(chat.id, f"Conversation forwarded to {to}", author_name="email")
        return json_response({"forwarded_to": to, "message_id": message_id})

    return [
        web.get("/api/v1/email/messages/{message_id}/original", original),
        web.post("/api/v1/email/chats/{chat_id}/forward", forward),
    ]
