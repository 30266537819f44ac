"""Teams and the managers' assignment settings (I2-I4).

A team has members and may auto-assign (I3). A manager has the operator seat (I4, I18), a
maximum for auto-assignment (I4), an "available" flag (auto-assignment skips managers who
are away) and "notify unassigned chats" (I1). Changes that give someone room drain the
queues of their teams; turning auto-assignment off lets a team's queued chats out
unassigned, since nothing would ever assign them otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.inbox.assignment import drain_for_managers, drain_queues
from bridgekit.inbox.chat_batch import (
    OPEN,
    QUEUED,
    ChatConflict,
    ChatNotFound,
    chat_updated_events,
    check_text,
    state_changed,
    unassigned_watchers,
)
from bridgekit.inbox.chats import ChatError
from bridgekit.inbox.managers import ADMIN, clean_permissions
from bridgekit.inbox.notify import notify_pairs
from bridgekit.runtime.clock import utcnow
from bridgekit.runtime.events import Event
from bridgekit.storage import schema as s
from bridgekit.storage.schema import valid_id

MAX_TEAM_NAME = 200
MAX_AUTO_ASSIGN_LIMIT = 1000
MANAGER_FIELDS = ("operator", "max_auto_assign", "available", "notify_unassigned", "permissions")


# --- teams -------------------------------------------------------------------------------


def _clean_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ChatError("name must be a non-empty string")
    check_text(name, "name")
    if len(name.strip()) > MAX_TEAM_NAME:
        raise ChatError(f"name can be at most {MAX_TEAM_NAME} characters")
    return name.strip()


# Far more than any workspace's managers; keeps a body's list within what one statement binds.
MAX_TEAM_MEMBERS = 1000


def _clean_members(member_ids: object) -> list[int]:
    if not isinstance(member_ids, list) or not all(isinstance(m, int) for m in member_ids):
        raise ChatError("member_ids must be a list of manager ids")
    if len(member_ids) > MAX_TEAM_MEMBERS:
        raise ChatError(f"a team can have at most {MAX_TEAM_MEMBERS} members")
    unknown = [m for m in member_ids if not valid_id(m)]
    if unknown:
        raise ChatError(f"no manager {unknown[0]}")
    return sorted(set(member_ids))


async def _check_members(conn: AsyncConnection, workspace_id: int, member_ids: Sequence[int]) -> None:
    if not member_ids:
        return
    m = s.managers
    found = set(
        (
            await conn.execute(select(m.c.id).where(m.c.id.in_(member_ids), m.c.workspace_id == workspace_id))
        ).scalars()
    )
    unknown = [mid for mid in member_ids if mid not in found]
    if unknown:
        raise ChatError(f"no manager {unknown[0]}")


async def _name_taken(conn: AsyncConnection, workspace_id: int, name: str, except_id: int | None) -> bool:
    t = s.teams
    query = select(t.c.id).where(t.c.workspace_id == workspace_id, t.c.name == name)
    if except_id is not None:
        query = query.where(t.c.id != except_id)
    return (await conn.execute(query)).first() is not None


async def list_teams(conn: AsyncConnection, workspace_id: int) -> list[dict[str, Any]]:
    """Teams with their members and how many chats wait in their queue (I3)."""
    t, tm, c = s.teams, s.team_members, s.chats
    teams = (await conn.execute(select(t).where(t.c.workspace_id == workspace_id).order_by(t.c.name))).all()
    members: dict[int, list[int]] = {}
    for row in await conn.execute(
        select(tm.c.team_id, tm.c.manager_id)
        .join(t, t.c.id == tm.c.team_id)
        .where(t.c.workspace_id == workspace_id)
        .order_by(tm.c.manager_id)
    ):
        members.setdefault(row.team_id, []).append(row.manager_id)
    queued: dict[int | None, int] = {
        row.team_id: int(row.n)
        for row in await conn.execute(
            select(c.c.team_id, func.count().label("n"))
            .where(c.c.workspace_id == workspace_id, c.c.state == QUEUED)
            .group_by(c.c.team_id)
        )
    }
    return [
        {
            "id": row.id,
            "name": row.name,
            "auto_assign": bool(row.auto_assign),
            "member_ids": members.get(row.id, []),
            "queued": int(queued.get(row.id, 0)),
        }
        for row in teams
    ]


async def team_json(conn: AsyncConnection, workspace_id: int, team_id: int) -> dict[str, Any]:
    for team in await list_teams(conn, workspace_id):
        if team["id"] == team_id:
            return team
    raise ChatNotFound(f"no team {team_id}")


async def create_team(
    conn: AsyncConnection, workspace_id: int, body: dict[str, Any]
) -> tuple[int, list[Event]]:
    name = _clean_name(body.get("name"))
    auto_assign = body.get("auto_assign", False)
    if not isinstance(auto_assign, bool):
        raise ChatError("auto_assign must be true or false")
    members = _clean_members(body.get("member_ids", []))
    await _check_members(conn, workspace_id, members)
    if await _name_taken(conn, workspace_id, name, None):
        raise ChatConflict(f"a team named {name} exists already")
    team_id = (
        await conn.execute(
            s.teams.insert()
            .values(workspace_id=workspace_id, name=name, auto_assign=auto_assign)
            .returning(s.teams.c.id)
        )
    ).scalar_one()
    if members:
        await conn.execute(s.team_members.insert(), [{"team_id": team_id, "manager_id": m} for m in members])
    return int(team_id), []


async def update_team(
    conn: AsyncConnection, workspace_id: int, team_id: int, body: dict[str, Any]
) -> list[Event]:
    """Rename, switch auto-assignment, replace the members (keys absent are kept)."""
    t = s.teams
    row = (
        await conn.execute(
            select(t).where(t.c.id == team_id, t.c.workspace_id == workspace_id).with_for_update()
        )
    ).first()
    if row is None:
        raise ChatNotFound(f"no team {team_id}")
    values: dict[str, Any] = {}
    if "name" in body:
        values["name"] = _clean_name(body["name"])
        if await _name_taken(conn, workspace_id, values["name"], team_id):
            raise ChatConflict(f"a team named {values['name']} exists already")
    if "auto_assign" in body:
        if not isinstance(body["auto_assign"], bool):
            raise ChatError("auto_assign must be true or false")
        values["auto_assign"] = body["auto_assign"]
    if values:
        await conn.execute(update(t).where(t.c.id == team_id).values(**values))
    if "member_ids" in body:
        members = _clean_members(body["member_ids"])
        await _check_members(conn, workspace_id, members)
        tm = s.team_members
        await conn.execute(delete(tm).where(tm.c.team_id == team_id))
        if members:
            await conn.execute(tm.insert(), [{"team_id": team_id, "manager_id": m} for m in members])
    if values.get("auto_assign") is False and row.auto_assign:
        return await _release_queue(conn, team_id)
    return await drain_queues(conn, [team_id])


async def _release_queue(conn: AsyncConnection, team_id: int) -> list[Event]:
    """Auto-assignment was switched off: the team's queued chats wait unassigned (I2)."""
    c = s.chats
    ids = list(
        (await conn.execute(select(c.c.id).where(c.c.team_id == team_id, c.c.state == QUEUED))).scalars()
    )
    if not ids:
        return []
    await conn.execute(
        update(c).where(c.c.id.in_(ids)).values(state=OPEN, queued_at=None, updated_at=utcnow())
    )
    await state_changed(conn, [(cid, QUEUED, OPEN) for cid in ids])
    watchers = await unassigned_watchers(conn)
    events = await notify_pairs(conn, ((mid, cid) for cid in ids for mid in watchers), "unassigned")
    return events + await chat_updated_events(conn, ids)


# --- managers ----------------------------------------------------------------------------


async def list_managers(conn: AsyncConnection, workspace_id: int) -> list[dict[str, Any]]:
    """Managers with their sign-in email, permissions, assignment settings and open-chat
    count; ``over_limit`` flags more open chats than their auto-assignment maximum (I4, shown
    orange in the inbox)."""
    m, c = s.managers, s.chats
    counts = (
        select(c.c.assignee_id, func.count().label("n"))
        .where(c.c.workspace_id == workspace_id, c.c.state == OPEN, c.c.assignee_id.is_not(None))
        .group_by(c.c.assignee_id)
        .subquery()
    )
    rows = await conn.execute(
        select(
            m.c.id,
            m.c.name,
            m.c.email,
            m.c.permissions,
            m.c.operator,
            m.c.max_auto_assign,
            m.c.available,
            m.c.notify_unassigned,
            func.coalesce(counts.c.n, 0).label("open_chats"),
        )
        .select_from(m.outerjoin(counts, counts.c.assignee_id == m.c.id))
        .where(m.c.workspace_id == workspace_id)
        .order_by(m.c.id)
    )
    return [
        {
            "id": r.id,
            "name": r.name,
            "email": r.email,
            "permissions": list(r.permissions or ()),
            "operator": bool(r.operator),
            "max_auto_assign": int(r.max_auto_assign),
            "available": bool(r.available),
            "notify_unassigned": bool(r.notify_unassigned),
            "open_chats": int(r.open_chats),
            "over_limit": int(r.open_chats) > int(r.max_auto_assign),
        }
        for r in rows
    ]


def manager_changes(body: dict[str, Any]) -> dict[str, Any]:
    """Validate a manager settings patch; unknown keys are refused."""
    unknown = sorted(set(body) - set(MANAGER_FIELDS))
    if unknown:
        raise ChatError(f"unknown field {unknown[0]}; settable: {', '.join(MANAGER_FIELDS)}")
    for key in ("operator", "available", "notify_unassigned"):
        if key in body and not isinstance(body[key], bool):
            raise ChatError(f"{key} must be true or false")
    if "max_auto_assign" in body:
        value = body["max_auto_assign"]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_AUTO_ASSIGN_LIMIT:
            raise ChatError(f"max_auto_assign must be an integer from 0 to {MAX_AUTO_ASSIGN_LIMIT}")
    changes = dict(body)
    if "permissions" in changes:
        changes["permissions"] = clean_permissions(changes["permissions"])
    return changes


async def update_manager(
    conn: AsyncConnection, workspace_id: int, manager_id: int, changes: dict[str, Any]
) -> list[Event]:
    """Apply validated settings; room that appears (seat on, back available, higher
    maximum) drains the manager's teams' queues (I3)."""
    m = s.managers
    row = (
        await conn.execute(
            select(m).where(m.c.id == manager_id, m.c.workspace_id == workspace_id).with_for_update()
        )
    ).first()
    if row is None:
        raise ChatNotFound(f"no manager {manager_id}")
    if ADMIN in (row.permissions or ()) and ADMIN not in changes.get("permissions", [ADMIN]):
        await _keep_an_admin(conn, workspace_id, manager_id)
    if changes:
        await conn.execute(update(m).where(m.c.id == manager_id).values(**changes))
    gained = (
        (changes.get("operator") is True and not row.operator)
        or (changes.get("available") is True and not row.available)
        or changes.get("max_auto_assign", row.max_auto_assign) > row.max_auto_assign
    )
    return await drain_for_managers(conn, [manager_id]) if gained else []


async def _keep_an_admin(conn: AsyncConnection, workspace_id: int, losing: int) -> None:
    """Refuse taking ``admin`` from the last manager who has it: no one could give it back
    but the command line."""
    m = s.managers
    others = await conn.execute(
        select(m.c.permissions).where(m.c.workspace_id == workspace_id, m.c.id != losing).with_for_update()
    )
    if not any(ADMIN in (p or ()) for (p,) in others):
        raise ChatConflict(
            f"manager {losing} is the only one with the {ADMIN} permission; give it to someone else first"
        )
