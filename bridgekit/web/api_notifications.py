"""A manager's notifications: new messages in their chats, mentions, assignment, snooze ends.

They are also pushed live on ``/api/v1/events``; this is the list a page loads, and where
they are marked read.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select, update

from bridgekit.engine.bridge import Bridge
from bridgekit.runtime.clock import iso, utcnow
from bridgekit.storage import schema as s
from bridgekit.storage.schema import valid_id
from bridgekit.web.common import json_object
from bridgekit.web.jsonio import json_error, json_response
from bridgekit.web.keys import BRIDGE, current_manager

routes = web.RouteTableDef()

MAX_PAGE = 100
MAX_READ_IDS = 1000  # ten pages of the list; "all" marks the rest (and binds no value per id)


@routes.get("/api/v1/notifications")
async def list_notifications(request: web.Request) -> web.Response:
    """Newest first; ``unread=1`` hides read ones; ``before=<id>`` pages back."""
    bridge: Bridge = request.app[BRIDGE]
    manager = current_manager(request)
    n = s.notifications
    try:
        limit = min(max(int(request.query.get("limit", "50")), 1), MAX_PAGE)
        before = int(request.query["before"]) if "before" in request.query else None
    except ValueError:
        raise json_error(400, "limit and before must be integers") from None
    if before is not None and not valid_id(before):
        raise json_error(400, "before must be a notification id")
    c, cu = s.chats, s.customers
    # What the chat is called in the list: its customer's name, else its title (an email's
    # subject), so a notification names its chat without a request per chat.
    query = (
        select(n, cu.c.name.label("customer_name"), c.c.title.label("chat_title"))
        .select_from(n.outerjoin(c, c.c.id == n.c.chat_id).outerjoin(cu, cu.c.id == c.c.customer_id))
        .where(n.c.manager_id == manager.id)
    )
    if request.query.get("unread") in ("1", "true"):
        query = query.where(n.c.read_at.is_(None))
    if before is not None:
        query = query.where(n.c.id < before)
    async with bridge.db.read() as conn:
        rows = (await conn.execute(query.order_by(n.c.id.desc()).limit(limit + 1))).all()
    page = rows[:limit]
    return json_response(
        {
            "notifications": [
                {
                    "id": r.id,
                    "chat_id": r.chat_id,
                    "message_id": r.message_id,
                    "kind": r.kind,
                    "chat_title": r.customer_name or r.chat_title or None,
                    "push": r.push,
                    "created_at": iso(r.created_at),
                    "read_at": iso(r.read_at),
                }
                for r in page
            ],
            "next_before": page[-1].id if len(rows) > limit else None,
        }
    )


@routes.post("/api/v1/notifications/read")
async def mark_read(request: web.Request) -> web.Response:
    """Mark the caller's notifications read: ``{"ids": [...]}`` or ``{"all": true}``."""
    bridge: Bridge = request.app[BRIDGE]
    manager = current_manager(request)
    body: dict[str, Any] = await json_object(request)
    n = s.notifications
    query = update(n).where(n.c.manager_id == manager.id, n.c.read_at.is_(None))
    if body.get("all") is True:
        pass
    elif isinstance(body.get("ids"), list) and body["ids"] and all(valid_id(i) for i in body["ids"]):
        if len(body["ids"]) > MAX_READ_IDS:
            raise json_error(400, f'at most {MAX_READ_IDS} ids at once; "all": true marks every one')
        query = query.where(n.c.id.in_(body["ids"]))
    else:
        raise json_error(400, 'give "ids" (a non-empty list of notification ids) or "all": true')
    async with bridge.db.write() as conn:
        result = await conn.execute(query.values(read_at=utcnow()))
    return json_response({"updated": result.rowcount})
