"""Messages of a chat (I13-I15, I19), attachments (I14) and chat links (I11).

* ``GET  /api/v1/chats/{id}/messages``   the chat's messages, keyset-paged (``before``, ``limit``)
* ``POST /api/v1/chats/{id}/messages``   a reply or a note: JSON, or multipart/form-data with a
  ``payload`` JSON part and up to 10 files streamed to disk
* ``POST /api/v1/messages/{id}/retry``   send a failed reply again (its author or an operator)
* ``GET  /api/v1/attachments/{id}``      download one attachment
* ``GET  /api/v1/chats/{id}/links``      the manager link and the customer link
* ``POST /api/v1/chats/{id}/links/rotate`` a new customer link (the old one stops working;
  operator seat)
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.engine.bridge import Bridge
from bridgekit.exceptions import RequestRefused
from bridgekit.inbox.capabilities import ChannelLimits
from bridgekit.inbox.chats import chat_view
from bridgekit.inbox.customer_links import customer_token, link_key
from bridgekit.inbox.messages import (
    Draft,
    Posted,
    last_customer_meta,
    message_page,
    parse_draft,
    post_message,
    stored_attachment,
)
from bridgekit.inbox.uploads import Upload, receive_upload
from bridgekit.model import DeliveryStatus
from bridgekit.queues.outbox import delivery_states, delivery_status_event, retry_failed
from bridgekit.runtime.clock import iso
from bridgekit.storage import schema as s
from bridgekit.storage.event_seq import sequence_events
from bridgekit.storage.schema import MAX_ID
from bridgekit.web.auth import require_operator
from bridgekit.web.body_limits import refuse_by_length
from bridgekit.web.common import json_object, refuse_unknown_keys
from bridgekit.web.jsonio import json_error, json_response
from bridgekit.web.keys import BRIDGE, current_manager
from bridgekit.web.messages_http import download, int_id, load_chat, query_int

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

DEFAULT_PAGE = 200
MAX_PAGE = 1000


def message_json(
    row: Any, files: list[dict[str, Any]], delivery: dict[str, Any] | None = None, channel: str | None = None
) -> dict[str, Any]:
    meta = row.meta or {}
    kind = {"outbound": "reply", "note": "note"}.get(row.direction, "customer")
    retracted = "retracted_at" in meta
    return {
        "id": row.id,
        "kind": kind,
        "direction": row.direction,
        "channel": channel,
        # the delivery it arrived as is kept: GET /messages/{id}/raw (and an email's original)
        "has_source": row.raw_delivery_id is not None and not retracted,
        "author_kind": row.author_kind,
        "author_id": row.author_id,
        "author_name": row.author_name,
        "text": row.text,
        "automated": row.automated,
        "delivery_status": row.delivery_status,
        "delivery_error": row.delivery_error,
        "delivery": None
        if delivery is None
        else {**delivery, "next_attempt_at": iso(delivery["next_attempt_at"])},
        "provider_message_id": row.provider_message_id,
        "attachments": files,
        "dropped_attachments": meta.get("dropped_attachments", []),
        "notices": meta.get("notices", []),
        "buttons": meta.get("buttons", []),
        "form": meta.get("form"),
        "form_answers": meta.get("form_answers"),
        "mentions": meta.get("mentions"),
        # The customer took the message back (its content is gone) or changed its text.
        "retracted": retracted,
        "edited_at": meta.get("edited_at"),
        "created_at": iso(row.created_at),
    }


@routes.get("/api/v1/chats/{chat_id}/messages")
async def list_messages(request: web.Request) -> web.Response:
    """The latest ``limit`` messages older than ``before`` (a message id), oldest first.

    Page back by passing the smallest id seen as ``before``.
    """
    bridge: Bridge = request.app[BRIDGE]
    chat = await load_chat(bridge, request)
    before = query_int(request, "before", None, 1, MAX_ID)
    limit = query_int(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE) or DEFAULT_PAGE
    async with bridge.db.read() as conn:
        rows, files = await message_page(conn, chat.id, before=before, limit=limit)
        deliveries = await delivery_states(conn, [r.id for r in rows if r.direction == "outbound"])
    by_message = {
        message_id: [
            {"id": f.id, "filename": f.filename, "content_type": f.content_type, "size": f.size}
            for f in found
        ]
        for message_id, found in files.items()
    }
    bound = bridge.registry.by_id(chat.integration_id) if chat.integration_id else None
    channel = bound.integration.channel if bound else None
    return json_response(
        [message_json(r, by_message.get(r.id, []), deliveries.get(r.id), channel) for r in rows]
    )


@routes.post("/api/v1/chats/{chat_id}/messages")
async def create_message(request: web.Request) -> web.Response:
    """Reply to the customer (queued in the outbox) or add an internal note (never sent)."""
    bridge: Bridge = request.app[BRIDGE]
    chat = await load_chat(bridge, request)
    bound = bridge.registry.by_id(chat.integration_id)
    limits = ChannelLimits(bound.channel.spec) if bound is not None else None
    if request.content_type == "multipart/form-data":
        max_total = bridge.config.limits.upload_request_bytes
        refuse_by_length(request, max_total)  # before a byte is staged
        try:
            reader = await request.multipart()
        except ValueError as exc:  # no or a bad boundary parameter
            raise json_error(400, f"the multipart body is malformed: {exc}") from None
        async with receive_upload(
            reader, bridge.data_dir, max_total_bytes=max_total, reply_limits=limits
        ) as upload:
            if upload.payload is None:
                raise json_error(400, "a multipart message needs a 'payload' part holding the JSON body")
            refuse_unknown_keys(request, upload.payload)
            draft = parse_draft(upload.payload)
            await _check_reply(bridge, chat, draft)
            posted = await _write(request, bridge, chat, draft, limits, upload)
    else:
        draft = parse_draft(await json_object(request))
        await _check_reply(bridge, chat, draft)
        posted = await _write(request, bridge, chat, draft, limits)
    bridge.events.publish_many(posted.events)
    if posted.kind == "reply":
        bridge.wake_outbox()
    return json_response(
        {
            "id": posted.message_id,
            "kind": posted.kind,
            "text": posted.text,
            "delivery_status": "pending" if posted.kind == "reply" else None,
        },
        status=201,
    )


async def _check_reply(bridge: Bridge, chat: Any, draft: Draft) -> None:
    """The channel's own "may a manager reply now?" (``bridgekit_check_reply``: a Kakao
    consultation session that expired or was ended), before anything is stored. Its
    ``RequestRefused`` is the answer; any other exception is the plugin's bug and lets the
    reply go ahead (the send decides then)."""
    bound = bridge.registry.by_id(chat.integration_id) if chat.integration_id else None
    if draft.kind != "reply" or bound is None:
        return
    owner = bound.channel.plugin
    if not any(i.plugin is owner for i in bridge.hooks.implementations("bridgekit_check_reply")):
        return  # most channels have no rule: no read for them
    async with bridge.db.read() as conn:
        context = await last_customer_meta(conn, chat.id)
    try:
        await bridge.hooks.call_owner(
            "bridgekit_check_reply",
            owner,
            integration=bound.integration,
            chat=chat_view(chat, bridge.registry),
            reply_context=context,
        )
    except RequestRefused:
        raise
    except Exception:
        bridge.hooks.record_failure(bound.channel.plugin_name, "bridgekit_check_reply")
        log.exception("check_reply raised in plugin %r", bound.channel.plugin_name)


async def _write(
    request: web.Request,
    bridge: Bridge,
    chat: Any,
    draft: Draft,
    limits: ChannelLimits | None,
    upload: Upload | None = None,
) -> Posted:
    manager = current_manager(request)

    async def work(conn: AsyncConnection) -> Posted:
        posted = await post_message(
            conn,
            workspace_id=bridge.workspace_id,
            chat=chat,
            manager=manager,
            draft=draft,
            files=upload.planned() if upload is not None else (),
            limits=limits,
        )
        # Only a message that passed every check moves its files into the store (inside
        # the transaction: a refused one leaves nothing staged behind).
        if upload is not None:
            await upload.keep()
        return replace(posted, events=await sequence_events(conn, posted.events))

    if upload is not None:  # moving the files awaits more than the database
        async with bridge.db.write() as conn:
            return await work(conn)
    return await bridge.db.write_short(work)


@routes.post("/api/v1/messages/{message_id}/retry")
async def retry_message(request: web.Request) -> web.Response:
    """Queue a failed reply again with the same idempotency key (its author or an operator)."""
    bridge: Bridge = request.app[BRIDGE]
    message_id = int_id(request, "message_id", "message")
    manager = current_manager(request)
    m = s.messages
    async with bridge.db.write() as conn:
        row = (
            await conn.execute(
                select(m.c.chat_id, m.c.direction, m.c.author_kind, m.c.author_id, m.c.delivery_status).where(
                    m.c.id == message_id
                )
            )
        ).first()
        if row is None or row.direction != "outbound":
            raise json_error(404, "no such reply")
        if not manager.operator and (row.author_kind, row.author_id) != ("manager", manager.id):
            raise json_error(403, "only the reply's author or an operator can retry it")
        if not await retry_failed(conn, message_id):
            raise json_error(409, f"only a failed reply can be retried; this one is {row.delivery_status}")
        pending = delivery_status_event(row.chat_id, message_id, DeliveryStatus.PENDING.value)
        events = await sequence_events(conn, [pending])
    bridge.events.publish_many(events)
    bridge.wake_outbox()
    return json_response({"id": message_id, "delivery_status": "pending"}, status=202)


@routes.get("/api/v1/attachments/{attachment_id}")
async def get_attachment(request: web.Request) -> web.FileResponse:
    """One attachment, streamed from disk with its content type and filename."""
    bridge: Bridge = request.app[BRIDGE]
    attachment_id = int_id(request, "attachment_id", "attachment")
    async with bridge.db.read() as conn:
        row = await stored_attachment(conn, attachment_id)
    if row is None:
        raise json_error(404, "no such attachment")
    return download(row.storage_path, row.filename, row.content_type)


_KEYS: dict[Path, bytes] = {}


async def _link_key(bridge: Bridge) -> bytes:
    key = _KEYS.get(bridge.data_dir)
    if key is None:
        key = _KEYS[bridge.data_dir] = await asyncio.to_thread(link_key, bridge.data_dir)
    return key


async def _links(request: web.Request, *, rotate: bool) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    chat = await load_chat(bridge, request)
    key = await _link_key(bridge)
    async with bridge.db.write() as conn:
        token = await customer_token(conn, key, chat.id, rotate=rotate)
    base = bridge.config.base_url
    return json_response(
        {"manager_link": f"{base}/chats/{chat.id}", "customer_link": f"{base}/c/{token}"},
        headers={"Cache-Control": "no-store"},
    )


@routes.get("/api/v1/chats/{chat_id}/links")
async def get_links(request: web.Request) -> web.Response:
    """I11: the link for team members and the link for this chat's customer only."""
    return await _links(request, rotate=False)


@routes.post("/api/v1/chats/{chat_id}/links/rotate")
async def rotate_links(request: web.Request) -> web.Response:
    """A new customer link; the previous one answers 404 from now on (operator seat: it cuts
    the customer off until they get the new link)."""
    require_operator(current_manager(request))
    return await _links(request, rotate=True)
