"""Who hears about a customer's new message (I1 "My sessions", I3).

The chat's assignee and followers; for a chat nobody is assigned to, the managers who turned
on "notify unassigned chats". A queued chat notifies nobody until it is assigned (I3), and
auto-replies and bounces notify nobody either. Called inside the ingest transaction with a
fixed number of statements per batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Integer, String, cast, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.core import schema as s
from bridgekit.core.clock import utcnow
from bridgekit.core.events import Event


async def alert_new_messages(conn: AsyncConnection, messages: Sequence[tuple[int, int]]) -> list[Event]:
    """Notify for new customer messages, given as (chat id, message id) pairs."""
    if not messages:
        return []
    chat_ids = sorted({chat_id for chat_id, _ in messages})
    c, f, m = s.chats, s.chat_followers, s.managers
    # One statement: each chat with its followers, plus the unassigned-chat watchers (the
    # rows whose chat_id is NULL). It runs inside every group commit.
    per_chat = (
        select(c.c.id.label("chat_id"), c.c.state, c.c.assignee_id, f.c.manager_id)
        .select_from(c.outerjoin(f, f.c.chat_id == c.c.id))
        .where(c.c.id.in_(chat_ids))
    )
    watcher_rows = select(
        cast(null(), Integer).label("chat_id"),
        cast(null(), String).label("state"),
        cast(null(), Integer).label("assignee_id"),
        m.c.id.label("manager_id"),
    ).where(m.c.notify_unassigned)
    chats: dict[int, tuple[str, int | None]] = {}
    followers: dict[int, set[int]] = {}
    watchers: list[int] = []
    for row in await conn.execute(union_all(per_chat, watcher_rows)):
        if row.chat_id is None:
            watchers.append(row.manager_id)
            continue
        chats[row.chat_id] = (row.state, row.assignee_id)
        if row.manager_id is not None:
            followers.setdefault(row.chat_id, set()).add(row.manager_id)
    rows: list[dict[str, object]] = []
    events: list[Event] = []
    now = utcnow()
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
            rows.append(
                {
                    "manager_id": manager_id,
                    "chat_id": chat_id,
                    "message_id": message_id,
                    "kind": "message",
                    "push": push,
                    "created_at": now,
                }
            )
            events.append(
                Event(
                    "notification.created",
                    {
                        "chat_id": chat_id,
                        "kind": "message",
                        "message_id": message_id,
                        "push": push,
                    },
                    frozenset([manager_id]),
                )
            )
    if rows:
        await conn.execute(s.notifications.insert(), rows)
    return events
