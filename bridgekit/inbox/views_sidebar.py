"""The inbox sidebar for one manager: every view with its open-chat count (I1-I6).

:func:`sidebar` reads the figures the database keeps (``bridgekit/inbox/views_counts.py``):
its cost does not grow with the number of chats. :func:`recount_sidebar` counts the same
figures from the chats themselves, one aggregate query each: the definition the kept figures
are checked against (tests, ``bench/inbox_views.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.inbox.managers import Manager
from bridgekit.inbox.views import (
    ManagerContext,
    manager_context,
    sessions_condition,
    unread_condition,
)
from bridgekit.inbox.views_counts import read_counts
from bridgekit.storage import schema as s

c = s.chats.c


@dataclass(frozen=True, slots=True)
class TeamCount:
    id: int | None
    name: str | None
    count: int


@dataclass(frozen=True, slots=True)
class AssigneeCount:
    id: int
    name: str
    count: int
    max_auto_assign: int

    @property
    def over_capacity(self) -> bool:
        """I4: more open chats than the manager's maximum auto-assignment count."""
        return self.count > self.max_auto_assign


@dataclass(slots=True)
class Sidebar:
    all: int = 0
    mine: int = 0
    unread: int = 0
    favourites: int = 0
    sessions: int = 0
    unassigned: int = 0
    unassigned_teams: list[TeamCount] = field(default_factory=list)
    queue: int = 0
    queue_teams: list[TeamCount] = field(default_factory=list)
    assignees: list[AssigneeCount] = field(default_factory=list)
    integrations: dict[int, int] = field(default_factory=dict)  # integration id -> open chats
    tags: list[tuple[str, int]] = field(default_factory=list)


async def _count(conn: AsyncConnection, *where: ColumnElement[bool]) -> int:
    return int((await conn.execute(select(func.count()).select_from(s.chats).where(*where))).scalar_one())


async def _grouped(conn: AsyncConnection, key: Any, *where: ColumnElement[bool]) -> dict[Any, int]:
    rows = await conn.execute(select(key, func.count()).where(*where).group_by(key))
    return {k: int(n) for k, n in rows}


async def _teams(conn: AsyncConnection, workspace_id: int) -> dict[int, str]:
    t = s.teams.c
    rows = await conn.execute(
        select(t.id, t.name).where(t.workspace_id == workspace_id).order_by(t.name, t.id)
    )
    return {int(i): str(n) for i, n in rows}


async def sidebar(conn: AsyncConnection, manager: Manager) -> Sidebar:
    """The sidebar from the kept figures: a few hundred rows whatever the number of chats."""
    ctx = await manager_context(conn, manager)
    counts = await read_counts(conn, ctx.workspace_id, ctx.id)
    me = str(ctx.id)
    result = Sidebar()
    result.all = counts.get("open")
    result.mine = counts.get("assignee", me)
    # Open chats with a customer message, but those the manager has read as far as the
    # marker says: unread again when someone else wrote after it.
    result.unread = counts.get("inbound") - counts.get("read_inbound", me) + counts.get("read_unread", me)
    result.favourites = counts.get("star", me)
    # Assigned to me, followed (and not mine), unassigned (and not followed) when notified.
    result.sessions = result.mine + counts.get("follow", me)
    unassigned = counts.ids("unassigned")
    result.unassigned = sum(unassigned.values())
    if ctx.notify_unassigned:
        result.sessions += result.unassigned - counts.get("follow_free", me)
    await _fill_groups(conn, ctx, result, unassigned, counts.ids("queued"), counts.ids("assignee"))
    result.integrations = {k: n for k, n in counts.ids("integration").items() if k is not None}
    result.tags = list(counts.by_kind.get("tag", {}).items())
    return result


async def _fill_groups(
    conn: AsyncConnection,
    ctx: ManagerContext,
    result: Sidebar,
    unassigned: dict[Any, int],
    queued: dict[Any, int],
    per_assignee: dict[Any, int],
) -> None:
    """Teams under Unassigned and Queue, and the assignees with their names and capacity."""
    teams = await _teams(conn, ctx.workspace_id)
    # I2: every team is listed under Unassigned (a team with none shows 0).
    result.unassigned_teams = [TeamCount(tid, name, unassigned.get(tid, 0)) for tid, name in teams.items()]
    result.queue = sum(queued.values())
    # I3: only teams with waiting chats; a queued chat without a team is listed as team None.
    result.queue_teams = [TeamCount(tid, name, queued[tid]) for tid, name in teams.items() if tid in queued]
    result.queue_teams += [TeamCount(tid, None, n) for tid, n in queued.items() if tid not in teams]
    if per_assignee:
        m = s.managers.c
        rows = await conn.execute(
            select(m.id, m.name, m.max_auto_assign).where(m.id.in_(list(per_assignee))).order_by(m.name, m.id)
        )
        result.assignees = [
            AssigneeCount(int(r.id), str(r.name), per_assignee[r.id], int(r.max_auto_assign)) for r in rows
        ]


async def recount_sidebar(conn: AsyncConnection, manager: Manager) -> Sidebar:
    """The sidebar counted from the chats (every open chat is read): the reference."""
    ctx: ManagerContext = await manager_context(conn, manager)
    is_open = c.state == "open"
    result = Sidebar()
    result.all = await _count(conn, c.workspace_id == ctx.workspace_id, is_open)
    result.mine = await _count(conn, c.assignee_id == ctx.id, is_open)
    result.unread = await _count(conn, c.workspace_id == ctx.workspace_id, is_open, unread_condition(ctx.id))
    st = s.chat_stars.c
    result.favourites = int(
        (
            await conn.execute(
                select(func.count())
                .select_from(s.chat_stars.join(s.chats, c.id == st.chat_id))
                .where(st.manager_id == ctx.id, c.state.concat("") == "open")  # stars first
            )
        ).scalar_one()
    )
    result.sessions = await _count(conn, c.workspace_id == ctx.workspace_id, is_open, sessions_condition(ctx))

    in_workspace = c.workspace_id == ctx.workspace_id
    unassigned = await _grouped(conn, c.team_id, in_workspace, c.assignee_id.is_(None), is_open)
    result.unassigned = sum(unassigned.values())
    queued = await _grouped(conn, c.team_id, in_workspace, c.state == "queued")
    per_assignee = await _grouped(conn, c.assignee_id, in_workspace, c.assignee_id.is_not(None), is_open)
    await _fill_groups(conn, ctx, result, unassigned, queued, per_assignee)

    per_integration = await _grouped(conn, c.integration_id, c.workspace_id == ctx.workspace_id, is_open)
    result.integrations = {int(k): v for k, v in per_integration.items() if k is not None}

    t = s.chat_tags.c
    tag_rows = await conn.execute(
        select(t.tag, func.count())
        .join(s.chats, c.id == t.chat_id)
        .where(c.workspace_id == ctx.workspace_id, is_open)
        .group_by(t.tag)
        .order_by(t.tag)
    )
    result.tags = [(str(tag), int(n)) for tag, n in tag_rows]
    return result
