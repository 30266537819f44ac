"""Per-manager marks on chats: favourites (I10) and read markers (I1 Unread), and the
per-page look-ups that show them in a list (one query per kind, never one per chat)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.exceptions import RequestRefused
from bridgekit.inbox.chat_batch import lock_chats
from bridgekit.inbox.views import unread_condition
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s
from bridgekit.storage.sql import upsert


class MarkError(RequestRefused):
    """A read marker that cannot be set (a message of another chat); HTTP 400."""


async def set_star(conn: AsyncConnection, manager_id: int, chat_id: int, starred: bool) -> None:
    """Star or unstar a chat for one manager; both are idempotent."""
    st = s.chat_stars
    if starred:
        await upsert(
            conn,
            st,
            [{"manager_id": manager_id, "chat_id": chat_id, "created_at": utcnow()}],
            ["manager_id", "chat_id"],
        )
    else:
        await conn.execute(delete(st).where(st.c.manager_id == manager_id, st.c.chat_id == chat_id))


async def mark_read(
    conn: AsyncConnection, manager_id: int, chat_id: int, message_id: int | None
) -> int | None:
    """Move the manager's read marker in ``chat_id`` forward to ``message_id`` (default: the
    chat's latest message); never backward. Returns the marker after the call."""
    m, rm = s.messages.c, s.read_markers
    if message_id is None:
        message_id = (await conn.execute(select(func.max(m.id)).where(m.chat_id == chat_id))).scalar()
    elif (await conn.execute(select(m.chat_id).where(m.id == message_id))).scalar() != chat_id:
        raise MarkError(f"message {message_id} is not in chat {chat_id}")
    if message_id is not None:
        # The chat first, as a new message's trigger locks it (migration 0010): then the marker.
        await lock_chats(conn, [chat_id])
        now = utcnow()
        # Forward only, also under concurrency: the UPDATE's own condition decides, and the
        # insert for a first marker is a no-op when another request created it meanwhile.
        moved = await conn.execute(
            update(rm)
            .where(
                rm.c.manager_id == manager_id,
                rm.c.chat_id == chat_id,
                rm.c.last_read_message_id < message_id,
            )
            .values(last_read_message_id=message_id, updated_at=now)
        )
        if moved.rowcount == 0:
            await upsert(
                conn,
                rm,
                [
                    {
                        "manager_id": manager_id,
                        "chat_id": chat_id,
                        "last_read_message_id": message_id,
                        "updated_at": now,
                    }
                ],
                ["manager_id", "chat_id"],
            )
    marker = (
        await conn.execute(
            select(rm.c.last_read_message_id).where(rm.c.manager_id == manager_id, rm.c.chat_id == chat_id)
        )
    ).scalar()
    return int(marker) if marker is not None else None


@dataclass(frozen=True, slots=True)
class PageMarks:
    """What a list shows next to each chat of one page, for one manager."""

    tags: dict[int, list[str]]
    starred: set[int]
    unread: set[int]
    customer_names: dict[int, str | None]


async def tags_of(conn: AsyncConnection, chat_ids: Sequence[int]) -> dict[int, list[str]]:
    t = s.chat_tags.c
    found: dict[int, list[str]] = {}
    if chat_ids:
        rows = await conn.execute(select(t.chat_id, t.tag).where(t.chat_id.in_(chat_ids)).order_by(t.tag))
        for chat_id, tag in rows:
            found.setdefault(int(chat_id), []).append(str(tag))
    return found


async def page_marks(
    conn: AsyncConnection, manager_id: int, chat_ids: Sequence[int], customer_ids: Sequence[int]
) -> PageMarks:
    if not chat_ids:
        return PageMarks({}, set(), set(), {})
    st, ch, cu = s.chat_stars.c, s.chats.c, s.customers.c
    starred = {
        int(r[0])
        for r in await conn.execute(
            select(st.chat_id).where(st.manager_id == manager_id, st.chat_id.in_(chat_ids))
        )
    }
    unread = {
        int(r[0])
        for r in await conn.execute(select(ch.id).where(ch.id.in_(chat_ids), unread_condition(manager_id)))
    }
    names = {
        int(r.id): r.name
        for r in await conn.execute(select(cu.id, cu.name).where(cu.id.in_(sorted(set(customer_ids)))))
    }
    return PageMarks(await tags_of(conn, chat_ids), starred, unread, names)
