"""Numbers a transaction's realtime events about chats in commit order (PostgreSQL).

Every transaction that publishes events about a chat (``message.*``, ``chat.*``) adds one to
the chat's ``event_seq`` before it commits and stamps those events with the new number as
``data["chat_seq"]``. The UPDATE holds the chat's row lock until the commit, so the numbers of
one chat follow commit order across every process, and each number is one transaction's group
of events: a receiver (``bridgekit.runtime.events.ChatOrder``) puts early arrivals back in
order and tells a missing group from none. Call :func:`sequence_events` last in the
transaction, once, with all its events: a second bump of one chat would leave a number no
event carries. On SQLite (one process, events published in commit order already) it does
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.runtime.events import CHAT_SEQ, Event
from bridgekit.storage.hotsql import numbered

#: Kinds that describe a chat and go in its order; notifications and customers' events do not.
SEQUENCED_PREFIXES = ("message.", "chat.")


def sequenced_chat(event: Event) -> int | None:
    """The chat whose order ``event`` goes in (not stamped yet), else None."""
    chat_id = event.data.get("chat_id")
    if type(chat_id) is int and event.kind.startswith(SEQUENCED_PREFIXES) and CHAT_SEQ not in event.data:
        return chat_id
    return None


#: What an UPDATE of chats on PostgreSQL adds to number the chats' next event group.
BUMP = ", event_seq = event_seq + 1"
RETURNING = " RETURNING id, event_seq"


#: Numbers the next event group of the chats whose ids follow (``IN (...)`` or ``= ANY(?)``,
#: ``HotSQL.member_of``).
BUMP_CHATS = "UPDATE chats SET event_seq = event_seq + 1 WHERE id"


def seqs_of(rows: Iterable[Any]) -> dict[int, int]:
    """Chat id -> number, from the rows of a statement ending in :data:`RETURNING`."""
    return {int(chat_id): int(seq) for chat_id, seq in rows}


async def sequence_events(conn: AsyncConnection, events: Iterable[Event]) -> list[Event]:
    """``events`` with each chat's new number, its chat bumped once (PostgreSQL); as they are
    on SQLite. A chat deleted meanwhile has no number: its events go unstamped."""
    listed = list(events)
    if conn.dialect.name != "postgresql":
        return listed
    chat_ids = sorted({c for e in listed if (c := sequenced_chat(e)) is not None})
    if not chat_ids:
        return listed
    # One array parameter: a bulk change may touch more chats than a statement binds (32767).
    rows = await conn.exec_driver_sql(numbered(BUMP_CHATS + " = ANY(?)" + RETURNING), (chat_ids,))
    return stamp(listed, seqs_of(rows))


def stamp(events: Sequence[Event], seqs: Mapping[int, int]) -> list[Event]:
    """``events`` with ``data["chat_seq"]`` set for the chats in ``seqs``."""
    stamped = []
    for event in events:
        chat_id = sequenced_chat(event)
        if chat_id is not None and chat_id in seqs:
            event = Event(event.kind, {**event.data, CHAT_SEQ: seqs[chat_id]}, event.manager_ids)
        stamped.append(event)
    return stamped
