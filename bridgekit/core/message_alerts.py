"""Who hears about a customer's new message (I1 "My sessions", I3).

The chat's assignee and followers; for a chat nobody is assigned to, the managers who turned
on "notify unassigned chats". A queued chat notifies nobody until it is assigned (I3), and
auto-replies and bounces notify nobody either. Called inside the ingest transaction with a
fixed number of statements per batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.core import schema as s
from bridgekit.core.chat_batch import unassigned_watchers
from bridgekit.core.clock import utcnow
from bridgekit.core.events import Event


async def alert_new_messages(conn: AsyncConnection, messages: Sequence[tuple[int, int]]) -> list[Event]:
    """Notify for new customer messages, given as (chat id, message id) pairs."""
    if not messages:
        return []
    chat_ids = sorted({chat_id for chat_id, _ in messages})
    chats = {
        row.id: row
        for row in await conn.execute(
            select(s.chats.c.id, s.chats.c.state, s.chats.c.assignee_id).where(s.chats.c.id.in_(chat_ids))
        )
    }
    followers: dict[int, set[int]] = {}
    for row in await conn.execute(
        select(s.chat_followers.c.chat_id, s.chat_followers.c.manager_id).where(
            s.chat_followers.c.chat_id.in_(chat_ids)
        )
    ):
        followers.setdefault(row.chat_id, set()).add(row.manager_id)
    watchers: list[int] | None = None
    rows: list[dict[str, object]] = []
    events: list[Event] = []
    now = utcnow()
    for chat_id, message_id in messages:
        chat = chats.get(chat_id)
        if chat is None or chat.state == "queued":
            continue
        recipients = set(followers.get(chat_id, ()))
        if chat.assignee_id is not None:
            recipients.add(chat.assignee_id)
        else:
            if watchers is None:
                watchers = await unassigned_watchers(conn)
            recipients.update(watchers)
        push = chat.state != "closed"
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
                        "push": chat.state != "closed",
                    },
                    frozenset([manager_id]),
                )
            )
    if rows:
        await conn.execute(s.notifications.insert(), rows)
    return events
