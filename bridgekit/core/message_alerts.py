"""Who hears about a customer's new message (I1 "My sessions", I3).

The chat's assignee and followers; for a chat nobody is assigned to, the managers who turned
on "notify unassigned chats". A queued chat notifies nobody until it is assigned (I3), and
auto-replies and bounces notify nobody either. Called inside the ingest transaction with a
fixed number of statements per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bridgekit.core.events import Event
from bridgekit.core.hotsql import HotSQL, placeholders

NOTIFICATION_COLUMNS = ("manager_id", "chat_id", "message_id", "kind", "push", "created_at")


async def alert_new_messages(sql: HotSQL, now: datetime, messages: Sequence[tuple[int, int]]) -> list[Event]:
    """Notify for new customer messages, given as (chat id, message id) pairs."""
    if not messages:
        return []
    chat_ids = sorted({chat_id for chat_id, _ in messages})
    # One statement: each chat with its followers, plus the unassigned-chat watchers (the
    # rows whose chat id is NULL). It runs inside every group commit.
    rows = await sql.all(
        "SELECT c.id, c.state, c.assignee_id, f.manager_id"
        " FROM chats c LEFT OUTER JOIN chat_followers f ON f.chat_id = c.id"
        f" WHERE c.id IN ({placeholders(len(chat_ids))})"
        " UNION ALL SELECT NULL, NULL, NULL, m.id FROM managers m WHERE m.notify_unassigned",
        chat_ids,
    )
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
    notifications: list[tuple[int, int, int, str, bool, object]] = []
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
            notifications.append((manager_id, chat_id, message_id, "message", push, stamp))
            events.append(
                Event(
                    "notification.created",
                    {"chat_id": chat_id, "kind": "message", "message_id": message_id, "push": push},
                    frozenset([manager_id]),
                )
            )
    await sql.insert("notifications", NOTIFICATION_COLUMNS, notifications)
    return events
