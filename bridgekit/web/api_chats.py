"""Chat state, assignment and queue, bulk actions, teams and managers (I2-I4, I7, I10, I12, I16, I18).

Handlers check permissions (``web/auth.py``), run one core operation in a write
transaction, publish its realtime events after the commit and answer the chat's info.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.engine.bridge import Bridge
from bridgekit.inbox.assignment import UNSET, assign_chats
from bridgekit.inbox.bulk import parse_bulk, parse_until, run_bulk
from bridgekit.inbox.chat_batch import Outcome
from bridgekit.inbox.chat_delete import Deleted, delete_chat_rows, remove_unreferenced_files
from bridgekit.inbox.chat_info import (
    add_tag,
    chat_info,
    follow,
    remove_tag,
    set_tags,
    unfollow,
    update_details,
)
from bridgekit.inbox.chat_state import close_chats, reopen_chats, snooze_chats
from bridgekit.inbox.teams import (
    create_team,
    list_managers,
    list_teams,
    manager_changes,
    team_json,
    update_manager,
    update_team,
)
from bridgekit.runtime.clock import iso
from bridgekit.runtime.events import Event
from bridgekit.storage.event_seq import sequence_events
from bridgekit.storage.schema import valid_id
from bridgekit.web.auth import ADMIN, DELETE_CHATS, require_operator, require_permission
from bridgekit.web.common import json_object
from bridgekit.web.jsonio import json_error, json_response
from bridgekit.web.keys import BRIDGE, current_manager
from bridgekit.web.messages_http import int_id

routes = web.RouteTableDef()


def _optional_id(body: dict[str, Any], key: str) -> int | None:
    value = body[key]
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise json_error(400, f"{key} must be an id or null")
    if value is not None and not valid_id(value):
        raise json_error(400, f"no {key.removesuffix('_id')} {value}")
    return value


def _after_commit(bridge: Bridge, events: list[Event]) -> None:
    bridge.events.publish_many(events)
    if bridge.flow is not None:
        bridge.flow.wakeup.set()  # bots see the state change now, not at the next poll


async def _run(bridge: Bridge, operation: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
    """Run ``operation`` in a write transaction; refusals become 400/404/409 answers."""
    async with bridge.db.write() as conn:
        return await operation(conn)


async def _info_response(bridge: Bridge, chat_id: int) -> web.Response:
    """The chat-info panel (I16) in the compact shape of ``GET /chats/{id}/info``: ids
    where ``GET /chats/{id}`` has names, from the same reader."""
    async with bridge.db.read() as conn:
        info = await chat_info(conn, chat_id)
    if info is None:
        raise json_error(404, "no such chat")
    row = info.row
    return json_response(
        {
            "id": row.id,
            "state": row.state,
            "team_id": row.team_id,
            "assignee_id": row.assignee_id,
            "follower_ids": [f["id"] for f in info.followers],
            "tags": info.tags,
            "description": row.description,
            "hashtags": info.hashtags,
            "goal": row.goal,
            "source": row.source,
            "queued_at": iso(row.queued_at),
            "assigned_at": iso(row.assigned_at),
            "snoozed_until": iso(row.snoozed_until),
            "closed_at": iso(row.closed_at),
            "updated_at": iso(row.updated_at),
        }
    )


async def _chat_change(
    request: web.Request,
    operation: Callable[[AsyncConnection, int], Awaitable[Outcome]],
    *,
    operator: bool = True,
) -> web.Response:
    """A change to one chat: permission check, the operation, events, the chat's info."""
    bridge: Bridge = request.app[BRIDGE]
    if operator:
        require_operator(current_manager(request))
    chat_id = int_id(request, "chat_id", "chat")

    async def apply(conn: AsyncConnection) -> Outcome:
        outcome = await operation(conn, chat_id)
        outcome.check(chat_id)
        return await outcome.sequenced(conn)

    outcome = await _run(bridge, apply)
    _after_commit(bridge, outcome.events)
    return await _info_response(bridge, chat_id)


# --- chat info ---------------------------------------------------------------------------


@routes.get("/api/v1/chats/{chat_id}/info")
async def get_chat_info(request: web.Request) -> web.Response:
    """I16: team, assignee, followers, tags, description (#hashtags), goal, source."""
    return await _info_response(request.app[BRIDGE], int_id(request, "chat_id", "chat"))


@routes.patch("/api/v1/chats/{chat_id}")
async def patch_chat(request: web.Request) -> web.Response:
    """Description, goal and team (I16; operator seat, I18)."""
    require_operator(current_manager(request))
    body = await json_object(request)
    team = _optional_id(body, "team_id") if "team_id" in body else UNSET
    manager = current_manager(request)

    async def operation(conn: AsyncConnection, chat_id: int) -> Outcome:
        outcome = await update_details(conn, chat_id, body)
        if team is not UNSET and chat_id not in outcome.errors:
            outcome.merge(await assign_chats(conn, [chat_id], team_id=team, actor_id=manager.id))
        return outcome

    return await _chat_change(request, operation)


@routes.put("/api/v1/chats/{chat_id}/tags")
async def put_tags(request: web.Request) -> web.Response:
    """Replace the tags: at most 8 (I6)."""
    require_operator(current_manager(request))
    body = await json_object(request)
    tags = body.get("tags")
    if not isinstance(tags, list):
        raise json_error(400, "tags must be a list of strings")
    return await _chat_change(request, lambda conn, chat_id: set_tags(conn, chat_id, tags))


@routes.post("/api/v1/chats/{chat_id}/tags/{tag}")
async def post_tag(request: web.Request) -> web.Response:
    """Add one tag; a chat with 8 tags refuses a 9th (I6)."""
    tag = request.match_info["tag"]
    return await _chat_change(request, lambda conn, chat_id: add_tag(conn, [chat_id], tag))


@routes.delete("/api/v1/chats/{chat_id}/tags/{tag}")
async def delete_tag(request: web.Request) -> web.Response:
    tag = request.match_info["tag"]
    return await _chat_change(request, lambda conn, chat_id: remove_tag(conn, chat_id, tag))


def _follower_change(request: web.Request) -> int:
    """Following yourself needs no seat; changing another manager's following does (I18)."""
    manager = current_manager(request)
    follower = int_id(request, "manager_id", "manager")
    if follower != manager.id:
        require_operator(manager)
    return follower


@routes.put("/api/v1/chats/{chat_id}/followers/{manager_id}")
async def put_follower(request: web.Request) -> web.Response:
    follower = _follower_change(request)
    return await _chat_change(request, lambda conn, chat_id: follow(conn, chat_id, follower), operator=False)


@routes.delete("/api/v1/chats/{chat_id}/followers/{manager_id}")
async def delete_follower(request: web.Request) -> web.Response:
    """I16: the assignee is always a follower and cannot be removed (400)."""
    follower = _follower_change(request)
    return await _chat_change(
        request, lambda conn, chat_id: unfollow(conn, chat_id, follower), operator=False
    )


# --- assignment and state ----------------------------------------------------------------


@routes.post("/api/v1/chats/{chat_id}/assign")
async def assign(request: web.Request) -> web.Response:
    """Assign a manager (operator seat only, I4) and/or a team; also from the queue (I3)."""
    manager = current_manager(request)
    require_operator(manager)
    body = await json_object(request)
    if "manager_id" not in body and "team_id" not in body:
        raise json_error(400, "give manager_id and/or team_id")
    assignee = _optional_id(body, "manager_id") if "manager_id" in body else UNSET
    team = _optional_id(body, "team_id") if "team_id" in body else UNSET
    return await _chat_change(
        request,
        lambda conn, chat_id: assign_chats(
            conn, [chat_id], manager_id=assignee, team_id=team, actor_id=manager.id
        ),
    )


@routes.post("/api/v1/chats/{chat_id}/close")
async def close(request: web.Request) -> web.Response:
    return await _chat_change(request, lambda conn, chat_id: close_chats(conn, [chat_id]))


@routes.post("/api/v1/chats/{chat_id}/reopen")
async def reopen(request: web.Request) -> web.Response:
    """Reopen a closed chat or end a snooze; refused for email chats (E6)."""
    registry = request.app[BRIDGE].registry
    response = await _chat_change(request, lambda conn, chat_id: reopen_chats(conn, [chat_id], registry))
    _reschedule(request.app[BRIDGE])
    return response


@routes.post("/api/v1/chats/{chat_id}/snooze")
async def snooze(request: web.Request) -> web.Response:
    """Snooze until a time at most 180 days ahead (I10); it reopens then, assignee notified."""
    require_operator(current_manager(request))
    body = await json_object(request)
    until = parse_until(body.get("until"))
    response = await _chat_change(request, lambda conn, chat_id: snooze_chats(conn, [chat_id], until))
    _reschedule(request.app[BRIDGE])
    return response


def _reschedule(bridge: Bridge) -> None:
    if bridge.snooze is not None:
        bridge.snooze.reschedule()


@routes.delete("/api/v1/chats/{chat_id}")
async def delete_chat(request: web.Request) -> web.Response:
    """I12: permanent, unrecoverable, one chat at a time, ``delete_chats`` permission only."""
    bridge: Bridge = request.app[BRIDGE]
    require_permission(current_manager(request), DELETE_CHATS)
    chat_id = int_id(request, "chat_id", "chat")

    async def operation(conn: AsyncConnection) -> tuple[Deleted, list[Event]]:
        # Numbered before the rows go: the chat's last event, in its order.
        events = await sequence_events(conn, [Event("chat.deleted", {"chat_id": chat_id})])
        return await delete_chat_rows(conn, chat_id), events

    deleted, events = await _run(bridge, operation)
    bridge.events.publish_many(events)
    removed = await remove_unreferenced_files(bridge.db, deleted)
    return json_response(
        {
            "chat_id": chat_id,
            "deleted_messages": deleted.messages,
            "deleted_attachments": deleted.attachments,
            "removed_files": removed,
        }
    )


@routes.post("/api/v1/chats/bulk")
async def bulk(request: web.Request) -> web.Response:
    """I7: close, snooze, assign or tag selected chats or all results of a search."""
    bridge: Bridge = request.app[BRIDGE]
    manager = current_manager(request)
    require_operator(manager)
    body = await json_object(request)
    parsed = parse_bulk(body)
    results = await run_bulk(bridge.db, bridge.events, manager, parsed)
    if bridge.flow is not None:
        bridge.flow.wakeup.set()
    if parsed.action == "snooze":
        _reschedule(bridge)
    return json_response(results)


# --- teams and managers ------------------------------------------------------------------


@routes.get("/api/v1/teams")
async def get_teams(request: web.Request) -> web.Response:
    """Teams, members and queue counts (I3). Every manager can read them to assign chats."""
    bridge: Bridge = request.app[BRIDGE]
    async with bridge.db.read() as conn:
        return json_response(await list_teams(conn, bridge.workspace_id))


@routes.post("/api/v1/teams")
async def post_team(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    require_permission(current_manager(request), ADMIN)
    body = await json_object(request)

    async def operation(conn: AsyncConnection) -> dict[str, Any]:
        team_id, _ = await create_team(conn, bridge.workspace_id, body)
        return await team_json(conn, bridge.workspace_id, team_id)

    return json_response(await _run(bridge, operation), status=201)


@routes.put("/api/v1/teams/{team_id}")
async def put_team(request: web.Request) -> web.Response:
    """Rename, auto-assignment on/off, members; new room drains the team's queue (I3)."""
    bridge: Bridge = request.app[BRIDGE]
    require_permission(current_manager(request), ADMIN)
    team_id = int_id(request, "team_id", "team")
    body = await json_object(request)

    async def operation(conn: AsyncConnection) -> tuple[dict[str, Any], list[Event]]:
        events = await sequence_events(conn, await update_team(conn, bridge.workspace_id, team_id, body))
        return await team_json(conn, bridge.workspace_id, team_id), events

    team, events = await _run(bridge, operation)
    _after_commit(bridge, events)
    return json_response(team)


@routes.get("/api/v1/managers")
async def get_managers(request: web.Request) -> web.Response:
    """Managers with their seat, maximum, availability and open chats (I4)."""
    bridge: Bridge = request.app[BRIDGE]
    async with bridge.db.read() as conn:
        return json_response(await list_managers(conn, bridge.workspace_id))


@routes.patch("/api/v1/managers/{manager_id}")
async def patch_manager(request: web.Request) -> web.Response:
    """``operator``, ``max_auto_assign`` and ``permissions`` need ``admin``; anyone may set their own
    ``available`` and ``notify_unassigned`` (admins anyone's)."""
    bridge: Bridge = request.app[BRIDGE]
    manager = current_manager(request)
    target = int_id(request, "manager_id", "manager")
    body = await json_object(request)
    changes = manager_changes(body)
    if {"operator", "max_auto_assign", "permissions"} & set(changes) or target != manager.id:
        require_permission(manager, ADMIN)

    async def operation(conn: AsyncConnection) -> tuple[dict[str, Any], list[Event]]:
        events = await sequence_events(conn, await update_manager(conn, bridge.workspace_id, target, changes))
        (row,) = [m for m in await list_managers(conn, bridge.workspace_id) if m["id"] == target]
        return row, events

    row, events = await _run(bridge, operation)
    _after_commit(bridge, events)
    return json_response(row)
