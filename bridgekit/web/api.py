"""The manager REST API under ``/api/v1`` (a bearer token, or a browser's session cookie with CSRF).

This is the foundation's slice: integrations and channels in the fixed order, chats,
messages, and posting a reply (through the outbox) or an internal note.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from aiohttp import web

from bridgekit.engine.bridge import Bridge
from bridgekit.exceptions import RequestRefused, UnknownIntegration
from bridgekit.inbox.chats import NewContact, raw_delivery, start_chat
from bridgekit.inbox.managers import authenticate
from bridgekit.inbox.message_writer import message_created
from bridgekit.storage.db import is_unavailable, retry_on_conflict
from bridgekit.storage.event_seq import sequence_events
from bridgekit.storage.schema import valid_id
from bridgekit.web.auth import bearer_token
from bridgekit.web.body_limits import buffer_body
from bridgekit.web.common import json_object
from bridgekit.web.customer_link import admit
from bridgekit.web.downloads import bytes_response
from bridgekit.web.dropped import client_gone, quiet_when_client_leaves
from bridgekit.web.jsonio import json_error, json_response
from bridgekit.web.keys import BRIDGE, MANAGER_KEY, current_manager
from bridgekit.web.sessions_http import (
    CSRF_HEADER,
    SAFE_METHODS,
    csrf_matches,
    same_origin,
    session_token,
    signed_in,
)

routes = web.RouteTableDef()
log = logging.getLogger("bridgekit.web")
# How long a client should wait before asking again while the database is away (503).
RETRY_AFTER_SECONDS = 2

# The API's own description is public, so tools can read it before they have a token.
PUBLIC_API_PATHS = frozenset({"/api/v1/openapi.json"})


API_PREFIXES = ("/api/", "/c/")


def guarded(handler: Any) -> Any:
    """``handler`` behind authentication, then conflict retries, a refused request answered
    with its status and reason (:class:`~bridgekit.exceptions.RequestRefused`), the database
    being away answered 503 with ``Retry-After``, a client's disconnect logged quietly: how
    every route of the manager and customer APIs is registered (``bridgekit.web.app``). A
    per-route wrapper, not an app middleware: that one would also stand in front of every
    webhook, the hottest route."""

    async def answered(request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except RequestRefused as exc:
            raise json_error(exc.status, str(exc), code=exc.code, details=exc.details) from None
        return response

    async def retried(request: web.Request) -> web.StreamResponse:
        return await conflict_retry_middleware(request, answered)

    @functools.wraps(handler)
    async def guarded_handler(request: web.Request) -> web.StreamResponse:
        try:
            return await auth_middleware(request, retried)
        except Exception as exc:
            if client_gone(request) or not is_unavailable(exc):
                raise
            log.warning("%s %s answered 503: the database is unavailable", request.method, request.path)
            raise json_error(
                503,
                "the database is unavailable; try again shortly",
                code="database_unavailable",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ) from None

    return quiet_when_client_leaves(guarded_handler)


@web.middleware
async def conflict_retry_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Run a manager or customer request again when PostgreSQL aborted its transaction for a
    deadlock (concurrent ingest, bots and managers touch the same chats). Handlers publish
    nothing before their transaction commits, so a retry is invisible; streamed uploads are
    not retried (their body cannot be read twice)."""
    if not request.path.startswith(API_PREFIXES) or request.content_type.startswith("multipart/"):
        response: web.StreamResponse = await handler(request)
        return response
    await buffer_body(request)  # a retried handler reads the same body again
    result: web.StreamResponse = await retry_on_conflict(lambda: handler(request))
    return result


async def auth_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith("/c/"):
        await admit(request)  # the link's token, before its body is read
    if not request.path.startswith("/api/") or request.path in PUBLIC_API_PATHS:
        response: web.StreamResponse = await handler(request)
        return response
    token = bearer_token(request)
    if token is not None:
        manager = await authenticate(request.app[BRIDGE].db, token)
        if manager is None:
            return json_response({"error": "invalid token"}, status=401)
        request[MANAGER_KEY] = manager
        response = await handler(request)
        return response
    if session_token(request) is None:
        return json_response({"error": "a bearer token or a signed-in session is required"}, status=401)
    signed = await signed_in(request)
    if signed is None:
        return json_response({"error": "the session has ended; sign in again"}, status=401)
    # A browser sends the cookie with requests other sites make it send: a state-changing one
    # must come from our own page and carry the token only our pages know. Bearer tokens are
    # never sent by a browser on its own, so they need neither.
    if request.method not in SAFE_METHODS:
        if not same_origin(request):
            return json_response({"error": "a cross-site request is refused"}, status=403)
        if not csrf_matches(signed, request.headers.get(CSRF_HEADER)):
            return json_response({"error": f"the {CSRF_HEADER} header is missing or wrong"}, status=403)
    request[MANAGER_KEY] = signed.manager
    response = await handler(request)
    return response


@routes.get("/api/v1/channels")
async def list_channels(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    return json_response(
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
    return json_response(
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


@routes.post("/api/v1/chats")
async def create_chat(request: web.Request) -> web.Response:
    """A manager writes to a customer first (E10): opens a chat and queues the message.

    Body: ``{"integration": name, "text": ..., "title": ..., "customer_id": id}`` or, instead
    of ``customer_id``, ``"contact": {"kind": "email", "value": ..., "name": ...}``.
    """
    bridge: Bridge = request.app[BRIDGE]
    manager = current_manager(request)
    body = await json_object(request)
    try:
        bound = bridge.registry.get(str(body.get("integration")))
    except UnknownIntegration:
        raise json_error(400, f"no integration named {body.get('integration')!r}") from None
    text, title = body.get("text"), body.get("title")
    customer_id, contact_data = body.get("customer_id"), body.get("contact")
    if not isinstance(text, str) or (title is not None and not isinstance(title, str)):
        raise json_error(400, "text (and title, when given) must be strings")
    contact = None
    if contact_data is not None:
        if not isinstance(contact_data, dict) or not all(
            isinstance(contact_data.get(k), str) for k in ("kind", "value")
        ):
            raise json_error(400, "contact needs string kind and value")
        if not isinstance(contact_data.get("name"), str | None):
            raise json_error(400, "contact name must be a string")
        contact = NewContact(
            contact_data["kind"],
            contact_data["value"].strip(),
            contact_data.get("name"),
            bool(contact_data.get("shared", True)),
        )
    if customer_id is not None and not valid_id(customer_id):
        raise json_error(400, "customer_id must be a positive integer id")
    async with bridge.db.write() as conn:
        chat_id, message_id = await start_chat(
            conn,
            workspace_id=bridge.workspace_id,
            bound=bound,
            text=text,
            title=title,
            customer_id=customer_id,
            contact=contact,
            author_id=manager.id,
            author_name=manager.name,
        )
        # The other managers' lists show the new chat at once.
        events = await sequence_events(conn, [message_created(chat_id, message_id, "outbound")])
    bridge.events.publish_many(events)
    bridge.wake_outbox()
    return json_response({"chat_id": chat_id, "message_id": message_id}, status=201)


@routes.get("/api/v1/messages/{message_id}/raw")
async def get_raw(request: web.Request) -> web.Response:
    """The inbound delivery a message came from, byte for byte (E4's source view)."""
    bridge: Bridge = request.app[BRIDGE]
    try:
        message_id = int(request.match_info["message_id"])
    except ValueError:
        raise json_error(404, "no such message") from None
    if not valid_id(message_id):
        raise json_error(404, "no such message")
    async with bridge.db.read() as conn:
        row = await raw_delivery(conn, message_id)
    if row is None:
        raise json_error(404, "no raw delivery for this message")
    return bytes_response(bytes(row.body), f"message-{message_id}.raw", "application/octet-stream")
