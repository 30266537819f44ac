"""Manager notifications, all written here: mentions, assignment, unassigned chats, snooze
ended, new customer messages.

Each notification is a row for the inbox plus a ``notification.created`` realtime event for
its manager, published after the commit. :func:`store_notices` writes them through Core in
the caller's transaction; :func:`alert_new_messages` decides who hears about new customer
messages inside the ingest group commit and writes with plain SQL (``bridgekit.storage.hotsql``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.runtime.clock import utcnow
from bridgekit.runtime.events import Event
from bridgekit.storage import schema as s
from bridgekit.storage.hotsql import HotSQL

NOTIFICATION_COLUMNS = ("manager_id", "chat_id", "message_id", "kind", "push", "created_at")


class Notice(NamedTuple):
    """One notification, in the order of :data:`NOTIFICATION_COLUMNS` (less ``created_at``)."""

    manager_id: int
    chat_id: int
    message_id: int | None
    kind: str  # message | mention | assigned | unassigned | snooze_ended ...
    push: bool = True  # False: in the inbox without a push (I13: notes on closed chats)

    def event(self) -> Event:
        data = {"chat_id": self.chat_id, "kind": self.kind, "message_id": self.message_id, "push": self.push}
        return Event("notification.created", data, frozenset([self.manager_id]))


async def store_notices(conn: AsyncConnection, notices: Iterable[Notice]) -> list[Event]:
    """Store notifications (each distinct one once) in one statement of the caller's
    transaction; returns the realtime events to publish once it has committed."""
    unique = sorted(set(notices), key=lambda n: (n.manager_id, n.chat_id, n.kind, n.message_id or 0))
    if not unique:
        return []
    now = utcnow()
    await conn.execute(
        s.notifications.insert(), [dict(zip(NOTIFICATION_COLUMNS, (*n, now), strict=True)) for n in unique]
    )
    return [n.event() for n in unique]


async def notify(
    conn: AsyncConnection,
    manager_ids: Iterable[int],
    *,
    chat_id: int,
    kind: str,
    message_id: int | None = None,
    push: bool = True,
) -> list[Event]:
    """Notify managers about one chat; see :func:`store_notices`."""
    return await store_notices(conn, (Notice(mid, chat_id, message_id, kind, push) for mid in manager_ids))


async def notify_pairs(conn: AsyncConnection, pairs: Iterable[tuple[int, int]], kind: str) -> list[Event]:
    """Notify (manager, chat) pairs of one kind; see :func:`store_notices`."""
    return await store_notices(conn, (Notice(mid, cid, None, kind) for mid, cid in pairs))


def recipients_query(chats: str, params: Sequence[object]) -> tuple[str, list[object]]:
    """Who hears about new messages in the chats ``c`` that the condition ``chats`` picks:
    rows (chat id, state, assignee, follower), each chat with its followers, plus the
    unassigned-chat watchers (the rows whose chat id is NULL)."""
    return (
        "SELECT c.id, c.state, c.assignee_id, f.manager_id"
        " FROM chats c LEFT OUTER JOIN chat_followers f ON f.chat_id = c.id"
        f" WHERE {chats}"
        " UNION ALL SELECT NULL, NULL, NULL, m.id FROM managers m WHERE m.notify_unassigned",
        list(params),
    )


async def alert_new_messages(
    sql: HotSQL,
    now: datetime,
    messages: Sequence[tuple[int, int]],
    read_ahead: Sequence[Sequence[Any]] | None = None,
) -> list[Event]:
    """Notify for new customer messages, given as (chat id, message id) pairs (I1 "My
    sessions", I3): the chat's assignee and followers; for a chat nobody is assigned to, the
    managers who turned on "notify unassigned chats". A queued chat notifies nobody until it
    is assigned (I3); the caller leaves out auto-replies and bounces. A fixed number of
    statements per batch.

    ``read_ahead``: the rows of :func:`recipients_query` read earlier in the same
    transaction, used when they cover every chat (the group commit reads them ahead on
    PostgreSQL); else they are read here."""
    if not messages:
        return []
    chat_ids = sorted({chat_id for chat_id, _ in messages})
    rows: Sequence[Sequence[Any]]
    if read_ahead is not None and set(chat_ids).issubset(row[0] for row in read_ahead):
        rows = read_ahead
    else:
        # One statement. It runs inside every group commit.
        member, params = sql.member_of(chat_ids)
        rows = await sql.all(*recipients_query(f"c.id{member}", params))
    chats: dict[int, tuple[str, int | None]] = {}
    followers: dict[int, set[int]] = {}
    watchers: list[int] = []
    for chat_id, state, assignee_id, manager_id in rows:
        if chat_id is None:
            watchers.append(manager_id)
            continue
        chats[chat_id] = (state, assignee_id)
        if manager_id is not None:
            followers.setdefault(chat_id, set()).add(manager_id)
    notifications: list[tuple[object, ...]] = []
    events: list[Event] = []
    stamp = sql.ts(now)
    for chat_id, message_id in messages:
        chat = chats.get(chat_id)
        if chat is None or chat[0] == "queued":
            continue
        state, assignee_id = chat
        recipients = set(followers.get(chat_id, ()))
        if assignee_id is not None:
            recipients.add(assignee_id)
        else:
            recipients.update(watchers)
        push = state != "closed"
        for manager_id in sorted(recipients):
            notice = Notice(manager_id, chat_id, message_id, "message", push)
            notifications.append((*notice, stamp))
            events.append(notice.event())
    await sql.insert("notifications", NOTIFICATION_COLUMNS, notifications)
    return events
