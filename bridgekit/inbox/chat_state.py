"""Chat states: close, reopen, snooze and the snooze's end (I3, I10, E6, I18).

States: ``open``, ``queued`` (waiting in a team's queue, I3), ``snoozed`` (until
``snoozed_until``, at most 180 days ahead) and ``closed``. Every change writes a
``chat_state_changed`` flow event (bots see it) and returns ``chat.updated`` events. An
assignee whose open chat closes or is snoozed has room again, so their teams' queues drain.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.inbox.assignment import drain_for_managers
from bridgekit.inbox.chat_batch import (
    CLOSED,
    OPEN,
    QUEUED,
    SNOOZED,
    Outcome,
    Refusal,
    chat_updated_events,
    lock_chats,
    missing,
    state_changed,
)
from bridgekit.inbox.chats import ChatError
from bridgekit.inbox.notify import notify_pairs
from bridgekit.runtime.clock import utcnow
from bridgekit.runtime.events import Event
from bridgekit.storage import schema as s
from bridgekit.storage.integrations import IntegrationRegistry

MAX_SNOOZE = timedelta(days=180)  # I10
WAKE_BATCH = 500


def check_snooze_until(until: datetime, now: datetime) -> None:
    """I10: a snooze ends in the future and at most 180 days from now (naive UTC)."""
    if until <= now:
        raise ChatError("until must be in the future", code="snooze_in_past")
    if until > now + MAX_SNOOZE:
        raise ChatError(
            f"a chat can be snoozed for at most {MAX_SNOOZE.days} days",
            code="snooze_too_far",
            details={"days": MAX_SNOOZE.days},
        )


async def _set_state(
    conn: AsyncConnection, rows: dict[int, Any], targets: Sequence[int], new: str, values: dict[str, Any]
) -> list[Event]:
    """Move ``targets`` to state ``new`` with ``values``; flow events, queue drain, events."""
    if not targets:
        return []
    c = s.chats
    now = utcnow()
    await conn.execute(update(c).where(c.c.id.in_(list(targets))).values(state=new, updated_at=now, **values))
    await state_changed(conn, [(cid, rows[cid].state, new) for cid in targets])
    freed = {
        rows[cid].assignee_id
        for cid in targets
        if rows[cid].state == OPEN and new != OPEN and rows[cid].assignee_id is not None
    }
    events = await drain_for_managers(conn, freed)
    return events + await chat_updated_events(conn, targets)


async def close_chats(conn: AsyncConnection, chat_ids: Sequence[int]) -> Outcome:
    """Close chats (closing a closed chat is a no-op). A queued chat leaves the queue."""
    rows = await lock_chats(conn, chat_ids)
    outcome = Outcome(errors=missing(chat_ids, rows))
    targets = [cid for cid in sorted(rows) if rows[cid].state != CLOSED]
    outcome.changed = targets
    outcome.events = await _set_state(
        conn, rows, targets, CLOSED, {"closed_at": utcnow(), "snoozed_until": None, "queued_at": None}
    )
    return outcome


async def reopen_chats(
    conn: AsyncConnection, chat_ids: Sequence[int], registry: IntegrationRegistry
) -> Outcome:
    """Reopen closed chats or end snoozes early. E6: channels that declare
    ``manager_can_reopen = False`` (email) refuse it; the customer's next mail opens a new chat.
    """
    rows = await lock_chats(conn, chat_ids)
    outcome = Outcome(errors=missing(chat_ids, rows))
    targets = []
    for cid in sorted(rows):
        row = rows[cid]
        if row.state in (OPEN, QUEUED):
            continue
        bound = registry.by_id(row.integration_id) if row.integration_id is not None else None
        if (
            row.state == CLOSED
            and bound is not None
            and not bound.channel.spec.capabilities.manager_can_reopen
        ):
            outcome.errors[cid] = Refusal(
                f"a closed {bound.channel.spec.title} chat cannot be reopened by a manager; "
                "the customer's next message opens a new chat",
                code="chat_closed",
                channel=bound.channel.spec.title,
            )
            continue
        targets.append(cid)
    outcome.changed = targets
    outcome.events = await _set_state(conn, rows, targets, OPEN, {"closed_at": None, "snoozed_until": None})
    return outcome


async def snooze_chats(conn: AsyncConnection, chat_ids: Sequence[int], until: datetime) -> Outcome:
    """Snooze chats until ``until`` (naive UTC, checked by :func:`check_snooze_until`).

    A queued chat is refused: it waits for an assignee, and snoozing would take it out of
    the queue unnoticed.
    """
    check_snooze_until(until, utcnow())
    rows = await lock_chats(conn, chat_ids)
    outcome = Outcome(errors=missing(chat_ids, rows))
    targets = []
    for cid in sorted(rows):
        if rows[cid].state == QUEUED:
            outcome.errors[cid] = "a queued chat waits for an assignee; assign it before snoozing"
        else:
            targets.append(cid)
    outcome.changed = targets
    # Re-snoozing a snoozed chat only moves its time: no state change to report.
    moved = [cid for cid in targets if rows[cid].state == SNOOZED]
    fresh = [cid for cid in targets if rows[cid].state != SNOOZED]
    if moved:
        await conn.execute(
            update(s.chats).where(s.chats.c.id.in_(moved)).values(snoozed_until=until, updated_at=utcnow())
        )
        outcome.events += await chat_updated_events(conn, moved)
    outcome.events += await _set_state(
        conn, rows, fresh, SNOOZED, {"snoozed_until": until, "closed_at": None}
    )
    return outcome


async def wake_due(conn: AsyncConnection, now: datetime) -> tuple[list[Event], bool]:
    """Reopen snoozed chats whose time has come and notify their assignees (I10).

    Returns the events and whether more chats are due than one batch took.
    """
    c = s.chats
    rows = (
        await conn.execute(
            select(c.c.id, c.c.state, c.c.assignee_id)
            .where(c.c.state == SNOOZED, c.c.snoozed_until <= now)
            .order_by(c.c.snoozed_until, c.c.id)
            .limit(WAKE_BATCH)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not rows:
        return [], False
    ids = [r.id for r in rows]
    await conn.execute(
        update(c)
        .where(c.c.id == bindparam("b_id"), c.c.state == SNOOZED)
        .values(state=OPEN, snoozed_until=None, updated_at=now),
        [{"b_id": cid} for cid in ids],
    )
    await state_changed(conn, [(cid, SNOOZED, OPEN) for cid in ids])
    events = await notify_pairs(
        conn, ((r.assignee_id, r.id) for r in rows if r.assignee_id is not None), "snooze_ended"
    )
    return events + await chat_updated_events(conn, ids), len(rows) == WAKE_BATCH


async def next_wake(conn: AsyncConnection) -> datetime | None:
    """The earliest time a snoozed chat is due (served by the (state, snoozed_until) index)."""
    c = s.chats
    value = (await conn.execute(select(func.min(c.c.snoozed_until)).where(c.c.state == SNOOZED))).scalar()
    return value if isinstance(value, datetime) else None
