"""Manager notifications (mentions, assignment, snooze ended, new messages)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.core import schema as s
from bridgekit.core.clock import utcnow
from bridgekit.core.events import Event


async def notify(
    conn: AsyncConnection,
    manager_ids: Iterable[int],
    *,
    chat_id: int,
    kind: str,
    message_id: int | None = None,
    push: bool = True,
) -> list[Event]:
    """Store one notification per manager in the caller's transaction.

    Returns the realtime events to publish once that transaction has committed. ``push``
    False keeps it in the inbox without a push (I13: notes on closed chats).
    """
    ids = sorted(set(manager_ids))
    if not ids:
        return []
    now = utcnow()
    await conn.execute(
        s.notifications.insert(),
        [
            {
                "manager_id": mid,
                "chat_id": chat_id,
                "message_id": message_id,
                "kind": kind,
                "push": push,
                "created_at": now,
            }
            for mid in ids
        ],
    )
    return [
        Event(
            "notification.created",
            {"chat_id": chat_id, "kind": kind, "message_id": message_id, "push": push},
            frozenset([mid]),
        )
        for mid in ids
    ]
