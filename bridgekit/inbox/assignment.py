"""Assignment: teams, auto-assignment and the queue (I2-I4, I16, I18).

``route_new_chats`` is called by the ingest pipeline inside the transaction that opens new
chats, so a chat is never visible before it is routed. A chat gets the team named in its
integration's settings (``team = "Support"``). An auto-assigning team hands it to the
available operator member with the fewest open chats among those under their
``max_auto_assign``; when nobody can take it the chat waits in the team's queue (state
``queued``) and notifies nobody until it is assigned (I3). Chats without a team stay
unassigned (I2) and notify the managers who turned on "notify unassigned chats".

The queue drains whenever capacity appears: an assignee's open chat closes, is snoozed or
reassigned, or a member becomes available, gets the operator seat, a higher maximum or joins
the team (:func:`drain_queues`, :func:`drain_for_managers`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.inbox.chat_batch import (
    OPEN,
    QUEUED,
    Outcome,
    add_followers,
    chat_updated_events,
    lock_chats,
    missing,
    state_changed,
    unassigned_watchers,
)
from bridgekit.inbox.chats import ChatError
from bridgekit.inbox.notify import notify_pairs
from bridgekit.runtime.clock import utcnow
from bridgekit.runtime.events import Event
from bridgekit.storage import schema as s


class _Unset(enum.Enum):
    UNSET = enum.auto()


UNSET: Final = _Unset.UNSET
"""An argument left out (``team_id`` absent from a request keeps the chat's team)."""


@dataclass
class OperatorPool:
    """Available operators of some teams with their open-chat load, for picking assignees.

    Loaded once per transaction; picking updates the loads in memory so one batch spreads
    its chats like a sequence of single assignments would.
    """

    members: dict[int, list[int]] = field(default_factory=dict)  # team -> manager ids
    load: dict[int, int] = field(default_factory=dict)
    limit: dict[int, int] = field(default_factory=dict)

    @classmethod
    async def load_for(cls, conn: AsyncConnection, team_ids: Iterable[int]) -> OperatorPool:
        pool = cls()
        teams = sorted(set(team_ids))
        if not teams:
            return pool
        tm, m, c = s.team_members, s.managers, s.chats
        rows = await conn.execute(
            select(tm.c.team_id, tm.c.manager_id)
            .join(m, m.c.id == tm.c.manager_id)
            .where(tm.c.team_id.in_(teams), m.c.operator, m.c.available)
        )
        for row in rows:
            pool.members.setdefault(row.team_id, []).append(row.manager_id)
        manager_ids = sorted({mid for ids in pool.members.values() for mid in ids})
        if manager_ids:
            loads = await conn.execute(
                select(m.c.id, m.c.max_auto_assign, func.count(c.c.id))
                .select_from(m.outerjoin(c, and_(c.c.assignee_id == m.c.id, c.c.state == OPEN)))
                .where(m.c.id.in_(manager_ids))
                .group_by(m.c.id, m.c.max_auto_assign)
            )
            for mid, limit, count in loads:
                pool.load[mid] = int(count)
                pool.limit[mid] = int(limit)
        return pool

    def room(self, team_id: int) -> int:
        """How many more chats the team's available operators can take."""
        return sum(max(0, self.limit[m] - self.load[m]) for m in self.members.get(team_id, []))

    def pick(self, team_id: int) -> int | None:
        """The member under their maximum with the fewest open chats (then lowest id)."""
        free = [m for m in self.members.get(team_id, []) if self.load[m] < self.limit[m]]
        if not free:
            return None
        chosen = min(free, key=lambda m: (self.load[m], m))
        self.load[chosen] += 1
        return chosen


@dataclass
class _Routing:
    """Decisions for a set of chats, written by :func:`_write_routing` in a few statements."""

    assigned: dict[int, int] = field(default_factory=dict)  # chat -> manager
    queued: list[int] = field(default_factory=list)
    unassigned: list[int] = field(default_factory=list)
    team: dict[int, int | None] = field(default_factory=dict)  # chat -> team (all routed chats)
    old_state: dict[int, str] = field(default_factory=dict)


async def _auto_teams(conn: AsyncConnection, team_ids: Iterable[int]) -> set[int]:
    """Which of these teams auto-assign; their rows are locked so concurrent routings into
    the same team see each other's loads (PostgreSQL)."""
    ids = sorted({t for t in team_ids if t is not None})
    if not ids:
        return set()
    t = s.teams
    rows = await conn.execute(
        select(t.c.id).where(t.c.id.in_(ids), t.c.auto_assign).order_by(t.c.id).with_for_update()
    )
    return set(rows.scalars())


async def _route(conn: AsyncConnection, chats: Sequence[tuple[int, int | None, str]]) -> _Routing:
    """Decide (chat, team, current state) in order: assign, queue or leave unassigned."""
    routing = _Routing()
    auto = await _auto_teams(conn, (team for _, team, _ in chats if team is not None))
    pool = await OperatorPool.load_for(conn, auto)
    for chat_id, team_id, state in chats:
        routing.team[chat_id] = team_id
        routing.old_state[chat_id] = state
        if team_id is None or team_id not in auto:
            routing.unassigned.append(chat_id)
            continue
        manager = pool.pick(team_id)
        if manager is None:
            routing.queued.append(chat_id)
        else:
            routing.assigned[chat_id] = manager
    return routing


async def _update_routes(conn: AsyncConnection, rows: list[dict[str, Any]], now: datetime) -> None:
    """Write team, assignee, state and their timestamps of many chats in one statement; each
    row holds ``b_id``, ``b_team``, ``b_assignee``, ``b_assigned_at``, ``b_state``, ``b_queued_at``."""
    if not rows:
        return
    c = s.chats
    await conn.execute(
        update(c)
        .where(c.c.id == bindparam("b_id"))
        .values(
            team_id=bindparam("b_team"),
            assignee_id=bindparam("b_assignee"),
            assigned_at=bindparam("b_assigned_at"),
            state=bindparam("b_state"),
            queued_at=bindparam("b_queued_at"),
            updated_at=now,
        ),
        rows,
    )


async def _write_routing(conn: AsyncConnection, routing: _Routing) -> list[Event]:
    """Write routing decisions: team, assignee, state; followers, notifications, flow events.

    Old state ``""`` marks a brand-new chat (ingest wrote its opening flow event already).
    Managers watching unassigned chats hear of new ones and of queued ones let out of the
    queue unassigned, not of chats that were waiting unassigned already.
    """
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for chat_id, team in routing.team.items():
        manager = routing.assigned.get(chat_id)
        queued = chat_id in routing.queued
        rows.append(
            {
                "b_id": chat_id,
                "b_team": team,
                "b_assignee": manager,
                "b_assigned_at": now if manager is not None else None,
                "b_state": QUEUED if queued else OPEN,
                "b_queued_at": now if queued else None,
            }
        )
    await _update_routes(conn, rows, now)
    changes = [
        (cid, routing.old_state[cid], QUEUED if cid in routing.queued else OPEN)
        for cid in routing.team
        if routing.old_state[cid] != (QUEUED if cid in routing.queued else OPEN)
    ]
    await state_changed(conn, [ch for ch in changes if ch[1] != ""])
    await add_followers(conn, ((cid, mid) for cid, mid in routing.assigned.items()))
    events = await notify_pairs(conn, ((mid, cid) for cid, mid in routing.assigned.items()), "assigned")
    fresh = [cid for cid in routing.unassigned if routing.old_state[cid] in ("", QUEUED)]
    if fresh:
        watchers = await unassigned_watchers(conn)
        events += await notify_pairs(conn, ((mid, cid) for cid in fresh for mid in watchers), "unassigned")
    return events + await chat_updated_events(conn, routing.team)


async def route_new_chats(
    conn: AsyncConnection,
    chat_ids: Sequence[int],
    team_names: Mapping[int, tuple[int, str | None]] | None = None,
) -> list[Event]:
    """Give new chats their team, then an available operator or the team's queue.

    ``team_names`` maps each chat to (channel id, its integration's ``team`` setting) when
    the caller knows them (ingest does); otherwise they are read. Returns realtime events to
    publish after the commit.
    """
    if not chat_ids:
        return []
    if team_names is None:
        team_names = await _team_names(conn, chat_ids)
    chat_ids = sorted(cid for cid in chat_ids if cid in team_names)  # oldest first; gone ones skipped
    wanted = {key for key in team_names.values() if key[1]}
    team_ids: dict[tuple[int, str | None], int] = {}
    if wanted:
        t = s.teams
        found = await conn.execute(
            select(t.c.id, t.c.workspace_id, t.c.name).where(t.c.name.in_({name for _, name in wanted}))
        )
        team_ids = {(r.workspace_id, r.name): r.id for r in found}
    # "" marks a brand-new chat: ingest has written its opening flow event already.
    routed = [(cid, team_ids[team_names[cid]], "") for cid in chat_ids if team_names[cid] in team_ids]
    events = await _write_routing(conn, await _route(conn, routed)) if routed else []
    teamless = [cid for cid in chat_ids if team_names[cid] not in team_ids]
    if teamless:
        # Already as inserted (open, nobody's, no team): only the watchers hear of them. The
        # common case, so it costs one query instead of a routing pass.
        watchers = await unassigned_watchers(conn)
        events += await notify_pairs(conn, ((mid, cid) for cid in teamless for mid in watchers), "unassigned")
        events += [
            Event(
                "chat.updated",
                {"chat_id": cid, "state": OPEN, "assignee_id": None, "team_id": None, "snoozed_until": None},
            )
            for cid in sorted(teamless)
        ]
    return events


async def _team_names(conn: AsyncConnection, chat_ids: Sequence[int]) -> dict[int, tuple[int, str | None]]:
    c, i = s.chats, s.integrations
    rows = await conn.execute(
        select(c.c.id, c.c.workspace_id, i.c.settings)
        .select_from(c.outerjoin(i, i.c.id == c.c.integration_id))
        .where(c.c.id.in_(list(chat_ids)))
    )
    names: dict[int, tuple[int, str | None]] = {}
    for row in rows:
        team = row.settings.get("team") if isinstance(row.settings, dict) else None
        names[row.id] = (row.workspace_id, team if isinstance(team, str) and team else None)
    return names


async def drain_queues(conn: AsyncConnection, team_ids: Iterable[int]) -> list[Event]:
    """Assign the oldest queued chats of these teams while their operators have room (I3)."""
    auto = sorted(await _auto_teams(conn, team_ids))
    if not auto:
        return []
    pool = await OperatorPool.load_for(conn, auto)
    c = s.chats
    assigned: dict[int, int] = {}
    for team_id in auto:  # teams are few; each gets one query for its oldest queued chats
        room = pool.room(team_id)
        if room <= 0:
            continue
        queued = await conn.execute(
            select(c.c.id)
            .where(c.c.team_id == team_id, c.c.state == QUEUED)
            .order_by(c.c.queued_at, c.c.id)
            .limit(room)
            # A queued chat another transaction holds (a bulk assign) is theirs to decide;
            # waiting for it could deadlock against their wait for this team's row.
            .with_for_update(skip_locked=True)
        )
        for chat_id in queued.scalars():
            manager = pool.pick(team_id)
            if manager is None:
                break
            assigned[chat_id] = manager
    if not assigned:
        return []
    routing = _Routing(
        assigned=assigned,
        team={cid: None for cid in assigned},
        old_state=dict.fromkeys(assigned, QUEUED),
    )
    teams = await conn.execute(select(c.c.id, c.c.team_id).where(c.c.id.in_(list(assigned))))
    routing.team.update({row.id: row.team_id for row in teams})
    return await _write_routing(conn, routing)


async def drain_for_managers(conn: AsyncConnection, manager_ids: Iterable[int]) -> list[Event]:
    """Capacity appeared for these managers: drain the queues of all their teams."""
    ids = sorted(set(manager_ids))
    if not ids:
        return []
    tm = s.team_members
    teams = await conn.execute(select(tm.c.team_id).where(tm.c.manager_id.in_(ids)).distinct())
    return await drain_queues(conn, teams.scalars())


async def ensure_assignable(conn: AsyncConnection, manager_id: int) -> None:
    """I4: only managers with the operator seat can be assigned."""
    m = s.managers
    row = (await conn.execute(select(m.c.operator).where(m.c.id == manager_id))).first()
    if row is None:
        raise ChatError(f"no manager {manager_id}")
    if not row.operator:
        raise ChatError("only managers with the operator seat can be assigned", code="assignee_not_operator")


async def ensure_team(conn: AsyncConnection, team_id: int) -> None:
    exists = (await conn.execute(select(s.teams.c.id).where(s.teams.c.id == team_id))).first()
    if exists is None:
        raise ChatError(f"no team {team_id}")


async def assign_chats(
    conn: AsyncConnection,
    chat_ids: Sequence[int],
    *,
    manager_id: int | _Unset | None = UNSET,
    team_id: int | _Unset | None = UNSET,
    actor_id: int | None = None,
) -> Outcome:
    """Manual assignment (I3, I4): set the assignee and/or the team of chats.

    Assigning a queued chat takes it out of the queue. Moving an unassigned open or queued
    chat to another team routes it like a new chat of that team (auto-assign or queue); a
    queued chat moved to a team without auto-assignment waits unassigned. The new assignee
    becomes a follower (I16) and is notified unless they assigned themselves.
    """
    if isinstance(manager_id, int):
        await ensure_assignable(conn, manager_id)
    if isinstance(team_id, int):
        await ensure_team(conn, team_id)
    rows = await lock_chats(conn, chat_ids)
    outcome = Outcome(errors=missing(chat_ids, rows))
    now = utcnow()
    updates: list[dict[str, Any]] = []
    changes: list[tuple[int, str | None, str]] = []
    freed: set[int] = set()
    new_assignee: list[tuple[int, int]] = []
    reroute: list[tuple[int, int | None, str]] = []
    for chat_id in sorted(rows):
        row = rows[chat_id]
        outcome.changed.append(chat_id)
        team = row.team_id if team_id is UNSET else team_id
        assignee = row.assignee_id if manager_id is UNSET else manager_id
        if row.assignee_id is not None and row.assignee_id != assignee and row.state == OPEN:
            freed.add(row.assignee_id)
        if assignee is None and team != row.team_id and row.state in (OPEN, QUEUED):
            reroute.append((chat_id, team, row.state))
            continue
        state = OPEN if row.state == QUEUED and assignee is not None else row.state
        if (assignee, team, state) == (row.assignee_id, row.team_id, row.state):
            continue  # already so: still a success
        changed_hands = assignee is not None and assignee != row.assignee_id
        if assignee is not None and changed_hands:
            new_assignee.append((chat_id, assignee))
        if state != row.state:
            changes.append((chat_id, row.state, state))
        updates.append(
            {
                "b_id": chat_id,
                "b_team": team,
                "b_assignee": assignee,
                "b_state": state,
                "b_queued_at": row.queued_at if state == QUEUED else None,
                "b_assigned_at": now
                if changed_hands
                else (row.assigned_at if assignee is not None else None),
            }
        )
    await _update_routes(conn, updates, now)
    await state_changed(conn, changes)
    await add_followers(conn, new_assignee)
    outcome.events += await notify_pairs(
        conn, ((mid, cid) for cid, mid in new_assignee if mid != actor_id), "assigned"
    )
    if reroute:
        outcome.events += await _write_routing(conn, await _route(conn, reroute))
    outcome.events += await drain_for_managers(conn, freed)
    outcome.events += await chat_updated_events(conn, [u["b_id"] for u in updates])
    return outcome


__all__ = [
    "UNSET",
    "OperatorPool",
    "assign_chats",
    "drain_for_managers",
    "drain_queues",
    "ensure_assignable",
    "route_new_chats",
]
