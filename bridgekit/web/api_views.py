"""Inbox views: chat lists, the sidebar with counts, one chat with its info, favourites and
read markers (I1-I8, I10, I16)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bridgekit.engine.bridge import Bridge
from bridgekit.inbox.chat_info import chat_info
from bridgekit.inbox.customers import customer_summary
from bridgekit.inbox.previews import last_messages
from bridgekit.inbox.views import list_page, parse_list_query
from bridgekit.inbox.views_marks import mark_read, page_marks, set_star
from bridgekit.inbox.views_sidebar import Sidebar, TeamCount, sidebar
from bridgekit.runtime.clock import iso
from bridgekit.runtime.events import Event
from bridgekit.storage.event_seq import sequence_events
from bridgekit.storage.schema import valid_id
from bridgekit.web.common import chat_json, chat_or_404, json_object, path_id
from bridgekit.web.jsonio import json_error, json_response
from bridgekit.web.keys import BRIDGE, current_manager

routes = web.RouteTableDef()


async def _chat(request: web.Request) -> Any:
    """The chat of the path, or 404 (also for ids no 32-bit INTEGER column can hold)."""
    chat_id = path_id(request, "chat_id")
    if chat_id is None:
        raise json_error(404, "no such chat")
    return await chat_or_404(request.app[BRIDGE], str(chat_id))


@routes.get("/api/v1/chats")
async def list_chats(request: web.Request) -> web.Response:
    """One page of a view (``view=``), filtered, searched (``q=``) and sorted (``sort=``)."""
    bridge: Bridge = request.app[BRIDGE]
    manager = current_manager(request)
    query = parse_list_query(request.query)
    async with bridge.db.read() as conn:
        page = await list_page(conn, manager, query)
        marks = await page_marks(
            conn, manager.id, [r.id for r in page.rows], [r.customer_id for r in page.rows]
        )
        previews = await last_messages(conn, [r.id for r in page.rows])
    chats = [
        {
            **chat_json(row, bridge),
            "team_id": row.team_id,
            "customer_name": marks.customer_names.get(row.customer_id),
            "tags": marks.tags.get(row.id, []),
            "starred": row.id in marks.starred,
            "unread": row.id in marks.unread,
            "last_message": None
            if row.id not in previews
            else {"kind": previews[row.id].kind, "text": previews[row.id].text},
        }
        for row in page.rows
    ]
    return json_response({"chats": chats, "next_cursor": page.next_cursor})


def _teams_json(teams: list[TeamCount]) -> list[dict[str, Any]]:
    return [{"id": t.id, "name": t.name, "count": t.count} for t in teams]


def sidebar_json(counts: Sidebar, bridge: Bridge) -> dict[str, Any]:
    body: dict[str, Any] = {
        "all": counts.all,
        "mine": counts.mine,
        "unread": counts.unread,
        "favourites": counts.favourites,
        "sessions": counts.sessions,
        "unassigned": {"count": counts.unassigned, "teams": _teams_json(counts.unassigned_teams)},
    }
    if counts.queue:  # I3: the queue is hidden when nothing waits in it
        body["queue"] = {"count": counts.queue, "teams": _teams_json(counts.queue_teams)}
    body["assignees"] = [
        {
            "id": a.id,
            "name": a.name,
            "count": a.count,
            "max_auto_assign": a.max_auto_assign,
            "over_capacity": a.over_capacity,
        }
        for a in counts.assignees
    ]
    # I5: every linked integration in the fixed P3 order, also with no open chats.
    body["integrations"] = [
        {
            "name": b.integration.name,
            "channel": b.integration.channel,
            "title": b.channel.spec.title,
            "mark": b.channel.spec.mark,
            "count": counts.integrations.get(b.integration.id, 0),
        }
        for b in bridge.registry.ordered()
    ]
    body["tags"] = [{"tag": tag, "count": n} for tag, n in counts.tags]
    return body


@routes.get("/api/v1/views")
async def list_views(request: web.Request) -> web.Response:
    """The sidebar for the calling manager: every view with its open-chat count."""
    bridge: Bridge = request.app[BRIDGE]
    async with bridge.db.read() as conn:
        counts = await sidebar(conn, current_manager(request))
    return json_response(sidebar_json(counts, bridge))


@routes.get("/api/v1/chats/{chat_id}")
async def get_chat(request: web.Request) -> web.Response:
    """One chat with its info (I16), the caller's marks and a customer summary (I17)."""
    bridge: Bridge = request.app[BRIDGE]
    manager = current_manager(request)
    row = await _chat(request)
    async with bridge.db.read() as conn:
        info = await chat_info(conn, row.id)
        if info is None:  # deleted since _chat read it
            raise json_error(404, "no such chat")
        marks = await page_marks(conn, manager.id, [row.id], [row.customer_id])
        customer = await customer_summary(conn, int(row.customer_id))
    row = info.row
    bound = bridge.registry.by_id(row.integration_id) if row.integration_id else None
    return json_response(
        {
            **chat_json(row, bridge),
            "team_id": row.team_id,
            "team": info.team,
            "assignee": info.assignee,
            "followers": info.followers,
            "source": row.source,
            "goal": row.goal,
            "tags": info.tags,
            "description": row.description,
            "hashtags": info.hashtags,
            "starred": row.id in marks.starred,
            "unread": row.id in marks.unread,
            "snoozed_until": iso(row.snoozed_until),
            "closed_at": iso(row.closed_at),
            # E6: whether a manager may reopen it once closed (email: no), so an inbox offers
            # "reopen" only where the API would do it
            "manager_can_reopen": bound is None or bound.channel.spec.capabilities.manager_can_reopen,
            "customer": customer,
        }
    )


async def _star(request: web.Request, starred: bool) -> web.Response:
    """I10: favourites are per manager and need no operator seat."""
    bridge: Bridge = request.app[BRIDGE]
    manager = current_manager(request)
    row = await _chat(request)
    event = Event("chat.updated", {"chat_id": row.id, "starred": starred}, frozenset([manager.id]))
    async with bridge.db.write() as conn:
        await set_star(conn, manager.id, row.id, starred)
        events = await sequence_events(conn, [event])
    bridge.events.publish_many(events)
    return json_response({"chat_id": row.id, "starred": starred})


@routes.put("/api/v1/chats/{chat_id}/star")
async def star_chat(request: web.Request) -> web.Response:
    return await _star(request, True)


@routes.delete("/api/v1/chats/{chat_id}/star")
async def unstar_chat(request: web.Request) -> web.Response:
    return await _star(request, False)


@routes.post("/api/v1/chats/{chat_id}/read")
async def read_chat(request: web.Request) -> web.Response:
    """Move the caller's read marker forward (default: to the chat's latest message)."""
    bridge: Bridge = request.app[BRIDGE]
    manager = current_manager(request)
    row = await _chat(request)
    body = await json_object(request) if request.body_exists else {}
    message_id = body.get("message_id")
    if message_id is not None and not valid_id(message_id):
        raise json_error(400, "message_id must be a message id (a positive integer)")
    async with bridge.db.write() as conn:
        marker = await mark_read(conn, manager.id, row.id, message_id)
        marks = await page_marks(conn, manager.id, [row.id], [row.customer_id])
        unread = row.id in marks.unread
        data = {"chat_id": row.id, "last_read_message_id": marker, "unread": unread}
        events = await sequence_events(conn, [Event("chat.updated", data, frozenset([manager.id]))])
    bridge.events.publish_many(events)
    return json_response({"chat_id": row.id, "last_read_message_id": marker, "unread": unread})
