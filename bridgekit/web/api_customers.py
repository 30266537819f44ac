"""Customer panel API (I17).

* ``GET   /api/v1/customers/{id}``         profile, events, chats, sent messages, files, links
* ``PATCH /api/v1/customers/{id}``         edit the name and profile fields
* ``POST  /api/v1/customers/{id}/events``  record an event (a page visit, a purchase...)
"""

from __future__ import annotations

from aiohttp import web

from bridgekit.engine.bridge import Bridge
from bridgekit.inbox.customers import (
    customer_panel,
    customer_row,
    profile_json,
    record_event,
    update_customer,
    validate_event,
    validate_profile_patch,
)
from bridgekit.runtime.events import Event
from bridgekit.storage.storable import storable
from bridgekit.web.common import json_object
from bridgekit.web.jsonio import json_error, json_response
from bridgekit.web.keys import BRIDGE
from bridgekit.web.messages_http import int_id

routes = web.RouteTableDef()


@routes.get("/api/v1/customers/{customer_id}")
async def get_customer(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    customer_id = int_id(request, "customer_id", "customer")
    async with bridge.db.read() as conn:
        panel = await customer_panel(conn, customer_id, bridge.workspace_id, bridge.registry)
    return json_response(panel)


@routes.patch("/api/v1/customers/{customer_id}")
async def patch_customer(request: web.Request) -> web.Response:
    """``{"name"?: string|null, "profile"?: {key: value|null}}``; a null field is removed."""
    bridge: Bridge = request.app[BRIDGE]
    customer_id = int_id(request, "customer_id", "customer")
    body = await json_object(request)
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 300 or not storable(name)):
        raise json_error(400, "name must be a string of at most 300 characters, or null")
    profile = validate_profile_patch(body["profile"]) if "profile" in body else None
    async with bridge.db.write() as conn:
        row = await customer_row(conn, customer_id, bridge.workspace_id)
        await update_customer(
            conn,
            row,
            name=name.strip() or None if isinstance(name, str) else None,
            set_name="name" in body,
            profile=profile,
        )
        updated = await profile_json(conn, await customer_row(conn, customer_id, bridge.workspace_id))
    bridge.events.publish(Event("customer.updated", {"customer_id": customer_id}))
    return json_response(updated)


@routes.post("/api/v1/customers/{customer_id}/events")
async def post_event(request: web.Request) -> web.Response:
    """``{"name": "page_view", "properties": {"url": ...}}`` — shown in the panel's events."""
    bridge: Bridge = request.app[BRIDGE]
    customer_id = int_id(request, "customer_id", "customer")
    body = await json_object(request)
    name, properties = validate_event(body)
    async with bridge.db.write() as conn:
        await customer_row(conn, customer_id, bridge.workspace_id)
        event = await record_event(conn, customer_id, name, properties)
    bridge.events.publish(Event("customer.event", {"customer_id": customer_id, "event_id": event["id"]}))
    return json_response(event, status=201)
