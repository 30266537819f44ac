"""The last message of each chat on a list page, shortened for the list's preview line
(one query per page, never one per chat)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.storage import schema as s

PREVIEW_CHARS = 120
KINDS = {"outbound": "reply", "note": "note"}  # anything else the customer wrote


@dataclass(frozen=True, slots=True)
class Preview:
    kind: str  # "customer", "reply" or "note", as the messages API names them
    text: str  # at most PREVIEW_CHARS characters, on one line; empty once retracted


def shorten(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"


async def last_messages(conn: AsyncConnection, chat_ids: Sequence[int]) -> dict[int, Preview]:
    """The newest message of each of ``chat_ids`` that has one."""
    if not chat_ids:
        return {}
    m = s.messages.c
    newest = select(func.max(m.id).label("id")).where(m.chat_id.in_(chat_ids)).group_by(m.chat_id).subquery()
    rows = await conn.execute(
        select(m.chat_id, m.direction, m.text, m.meta).join(newest, newest.c.id == m.id)
    )
    found: dict[int, Preview] = {}
    for row in rows:
        retracted = "retracted_at" in (row.meta or {})
        found[int(row.chat_id)] = Preview(
            KINDS.get(row.direction, "customer"), "" if retracted else shorten(row.text)
        )
    return found
