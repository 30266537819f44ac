"""Building blocks shared by the chat operations that work on many chats at once.

Every chat operation (close, snooze, assign, tag...) takes a list of chat ids, so a single
chat and a 500-chat bulk action run the same code with a fixed number of statements. Each
chat is all-or-nothing: a chat that cannot take the change is reported in
:attr:`Outcome.errors` and nothing is written for it, while the others go ahead (I7).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.inbox.chats import ChatError
from bridgekit.queues.flow_events import FlowRow, write_flow_events
from bridgekit.runtime.clock import iso, utcnow
from bridgekit.runtime.events import Event
from bridgekit.storage import schema as s
from bridgekit.storage.event_seq import sequence_events
from bridgekit.storage.schema import valid_id
from bridgekit.storage.sql import upsert
from bridgekit.storage.storable import storable

OPEN, QUEUED, SNOOZED, CLOSED = "open", "queued", "snoozed", "closed"
NOT_FOUND = "no such chat"


def check_text(value: str, what: str) -> str:
    """Refuse text a database cannot store (NUL characters, lone surrogates)."""
    if not storable(value):
        raise ChatError(f"{what} must not contain NUL characters or unpaired surrogates")
    return value


class Refusal(str):
    """A chat's refusal in :attr:`Outcome.errors` that a client tells apart: the English
    message (what bulk results and logs show) with the stable ``code`` and the ``details``
    the API answers next to it (see :class:`~bridgekit.exceptions.RequestRefused`)."""

    code: str
    details: dict[str, str | int]

    def __new__(cls, message: str, code: str, **details: str | int) -> Refusal:
        made = super().__new__(cls, message)
        made.code = code
        made.details = details
        return made

    def refused(self) -> ChatError:
        return ChatError(str(self), code=self.code, details=self.details)


def error_fields(error: str) -> dict[str, Any]:
    """One of :attr:`Outcome.errors` as the API answers it: ``error``, and a
    :class:`Refusal`'s ``code`` and ``details``."""
    if not isinstance(error, Refusal):
        return {"error": error}
    fields: dict[str, Any] = {"error": str(error), "code": error.code}
    if error.details:
        fields["details"] = dict(error.details)
    return fields


def refused(error: str) -> ChatError:
    """The :class:`ChatError` of one of :attr:`Outcome.errors` (with its code, if it has one)."""
    return error.refused() if isinstance(error, Refusal) else ChatError(error)


class ChatNotFound(ChatError):
    """The chat (or the manager/team an operation names) does not exist: answered 404."""

    status = 404


class ChatConflict(ChatError):
    """The change clashes with existing data (a team name in use): answered 409."""

    status = 409


@dataclass
class Outcome:
    """What a batch operation did: refused chats with the reason, changed chats, and the
    realtime events to publish once the transaction has committed."""

    errors: dict[int, str] = field(default_factory=dict)
    changed: list[int] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def check(self, chat_id: int) -> None:
        """Raise the refusal of ``chat_id`` (single-chat endpoints answer it as an error)."""
        error = self.errors.get(chat_id)
        if error is None:
            return
        if error == NOT_FOUND:
            raise ChatNotFound(error)
        raise refused(error)

    async def sequenced(self, conn: AsyncConnection) -> Outcome:
        """This outcome with its events numbered in their chats' order (last in the
        transaction; ``bridgekit.storage.event_seq``)."""
        self.events = await sequence_events(conn, self.events)
        return self

    def merge(self, other: Outcome) -> None:
        self.errors.update(other.errors)
        self.changed.extend(c for c in other.changed if c not in self.changed)
        self.events.extend(other.events)


async def lock_chats(conn: AsyncConnection, chat_ids: Iterable[int]) -> dict[int, Any]:
    """The chats' rows, locked until the transaction ends (PostgreSQL row locks; SQLite has
    a single writer already). Locking in id order keeps concurrent batches deadlock-free."""
    ids = sorted({cid for cid in chat_ids if valid_id(cid)})
    if not ids:
        return {}
    c = s.chats
    rows = await conn.execute(
        select(
            c.c.id,
            c.c.state,
            c.c.assignee_id,
            c.c.team_id,
            c.c.integration_id,
            c.c.queued_at,
            c.c.assigned_at,
        )
        .where(c.c.id.in_(ids))
        .order_by(c.c.id)
        # FOR NO KEY UPDATE: all a chat update needs, and no conflict with the KEY SHARE locks
        # that inserting messages takes (FOR UPDATE there deadlocked against concurrent posts).
        .with_for_update(key_share=True)
    )
    return {row.id: row for row in rows}


def missing(chat_ids: Sequence[int], found: dict[int, Any]) -> dict[int, str]:
    return {cid: NOT_FOUND for cid in chat_ids if cid not in found}


async def state_changed(conn: AsyncConnection, changes: Sequence[tuple[int, str | None, str]]) -> None:
    """``chat_state_changed`` flow events (bots see them) for (chat, old, new) changes."""
    rows = [FlowRow("chat_state_changed", cid, None, {"old": old, "new": new}) for cid, old, new in changes]
    await write_flow_events(conn, rows, utcnow())


async def chat_updated_events(conn: AsyncConnection, chat_ids: Iterable[int]) -> list[Event]:
    """One ``chat.updated`` realtime event per chat, with the chat's state as written."""
    ids = sorted(set(chat_ids))
    if not ids:
        return []
    c = s.chats
    rows = await conn.execute(
        select(c.c.id, c.c.state, c.c.assignee_id, c.c.team_id, c.c.snoozed_until).where(c.c.id.in_(ids))
    )
    return [
        Event(
            "chat.updated",
            {
                "chat_id": r.id,
                "state": r.state,
                "assignee_id": r.assignee_id,
                "team_id": r.team_id,
                "snoozed_until": iso(r.snoozed_until),
            },
        )
        for r in rows
    ]


async def add_followers(conn: AsyncConnection, pairs: Iterable[tuple[int, int]]) -> None:
    """Make managers followers of chats, (chat, manager) pairs; existing ones are kept."""
    rows = [{"chat_id": cid, "manager_id": mid} for cid, mid in sorted(set(pairs))]
    await upsert(conn, s.chat_followers, rows, ["chat_id", "manager_id"])


async def unassigned_watchers(conn: AsyncConnection) -> list[int]:
    """Managers who asked to hear about new unassigned chats (I1, seed 003 settings)."""
    # Plain SQL: it runs in every group commit that opens a chat (Core's overhead was most of it).
    result = await conn.exec_driver_sql("SELECT id FROM managers WHERE notify_unassigned ORDER BY id")
    return [int(row[0]) for row in result]
