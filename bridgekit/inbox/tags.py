"""Tags across all chats (I6): the tags in use with their counts, and renaming or removing one
tag everywhere at once (the admin pages). One chat's tags are ``chat_info``'s."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.inbox.chat_batch import OPEN, ChatNotFound, Outcome, chat_updated_events, lock_chats
from bridgekit.inbox.chat_info import clean_tag
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s


@dataclass(frozen=True, slots=True)
class TagUse:
    tag: str
    chats: int  # chats carrying it, in any state
    open_chats: int  # of those, open (the sidebar's count, I6)

    def as_json(self) -> dict[str, Any]:
        return {"tag": self.tag, "chats": self.chats, "open_chats": self.open_chats}


async def list_tags(conn: AsyncConnection, workspace_id: int) -> list[TagUse]:
    """Every tag some chat carries, by name, with how many chats carry it."""
    t, c = s.chat_tags, s.chats
    rows = await conn.execute(
        select(
            t.c.tag,
            func.count().label("chats"),
            func.coalesce(func.sum(case((c.c.state == OPEN, 1), else_=0)), 0).label("open_chats"),
        )
        .join(c, c.c.id == t.c.chat_id)
        .where(c.c.workspace_id == workspace_id)
        .group_by(t.c.tag)
        .order_by(t.c.tag)
    )
    return [TagUse(r.tag, int(r.chats), int(r.open_chats)) for r in rows]


async def _chats_with(conn: AsyncConnection, workspace_id: int, tag: str) -> list[int]:
    t, c = s.chat_tags, s.chats
    ids = await conn.execute(
        select(t.c.chat_id)
        .join(c, c.c.id == t.c.chat_id)
        .where(t.c.tag == tag, c.c.workspace_id == workspace_id)
        .order_by(t.c.chat_id)
    )
    found = list(ids.scalars())
    if not found:
        raise ChatNotFound(f"no chat has the tag {tag}")
    return found


# Chats per statement: a tag on 40,000 chats must not bind more values than a statement may
# (asyncpg 32,767, SQLite 32,766); every chunk runs in the caller's one transaction.
CHUNK = 5_000


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[start : start + CHUNK] for start in range(0, len(ids), CHUNK)]


async def rename_tag(conn: AsyncConnection, workspace_id: int, tag: object, new_name: object) -> Outcome:
    """``tag`` becomes ``new_name`` on every chat; a chat that has both keeps one. A chat's
    number of tags never grows, so the limit of 8 (I6) holds."""
    old, new = clean_tag(tag), clean_tag(new_name)
    ids = await _chats_with(conn, workspace_id, old)
    if new == old:
        return Outcome()
    t = s.chat_tags
    outcome = Outcome()
    for chunk in _chunks(ids):
        locked = sorted(await lock_chats(conn, chunk))
        has_new = set(
            (await conn.execute(select(t.c.chat_id).where(t.c.tag == new, t.c.chat_id.in_(locked)))).scalars()
        )
        await conn.execute(delete(t).where(t.c.tag == old, t.c.chat_id.in_(locked)))
        renamed = [cid for cid in locked if cid not in has_new]
        if renamed:
            await conn.execute(t.insert(), [{"chat_id": cid, "tag": new} for cid in renamed])
        await _changed(conn, locked, outcome)
    return outcome


async def delete_tag(conn: AsyncConnection, workspace_id: int, tag: object) -> Outcome:
    """Take ``tag`` off every chat."""
    old = clean_tag(tag)
    t = s.chat_tags
    outcome = Outcome()
    for chunk in _chunks(await _chats_with(conn, workspace_id, old)):
        locked = sorted(await lock_chats(conn, chunk))
        await conn.execute(delete(t).where(t.c.tag == old, t.c.chat_id.in_(locked)))
        await _changed(conn, locked, outcome)
    return outcome


async def _changed(conn: AsyncConnection, chat_ids: list[int], outcome: Outcome) -> None:
    await conn.execute(update(s.chats).where(s.chats.c.id.in_(chat_ids)).values(updated_at=utcnow()))
    outcome.changed.extend(chat_ids)  # the chunks are disjoint: no id twice
    outcome.events.extend(await chat_updated_events(conn, chat_ids))
