"""Permanent delete of one chat (I12): unrecoverable, one chat at a time.

The chat row goes with everything hanging off it (messages, attachments, notes, outbox
jobs, tags, followers, stars, read marks, notifications, flow events, chat keys: foreign
keys cascade). Raw deliveries that only carried this chat's messages go too, since they
hold the same text. Attachment files are removed from disk after the commit when no other
attachment row still refers to the same content (files are content-addressed, so another
chat may share one). Billing rows stay: they record money, not the conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.inbox.chat_batch import NOT_FOUND, ChatNotFound, lock_chats
from bridgekit.storage import schema as s
from bridgekit.storage.db import Database


@dataclass(frozen=True, slots=True)
class Deleted:
    chat_id: int
    messages: int
    attachments: int
    files: tuple[tuple[str, str], ...]  # (sha256, storage path) candidates for removal


async def delete_chat_rows(conn: AsyncConnection, chat_id: int) -> Deleted:
    """Delete the chat and its rows in the caller's transaction."""
    rows = await lock_chats(conn, [chat_id])
    if not rows:
        raise ChatNotFound(NOT_FOUND)
    m, a, r = s.messages, s.attachments, s.raw_deliveries
    messages = (await conn.execute(select(m.c.id, m.c.raw_delivery_id).where(m.c.chat_id == chat_id))).all()
    message_ids = [row.id for row in messages]
    files: list[tuple[str, str]] = []
    if message_ids:
        files = [
            (row.sha256, row.storage_path)
            for row in await conn.execute(
                select(a.c.sha256, a.c.storage_path).where(a.c.message_id.in_(message_ids))
            )
        ]
    raw_ids = sorted({row.raw_delivery_id for row in messages if row.raw_delivery_id is not None})
    shared_raw: set[int] = set()
    if raw_ids:
        # One delivery may carry messages of several chats (a batch webhook): keep those.
        shared_raw = set(
            (
                await conn.execute(
                    select(m.c.raw_delivery_id)
                    .where(m.c.raw_delivery_id.in_(raw_ids), m.c.chat_id != chat_id)
                    .distinct()
                )
            ).scalars()
        )
    await conn.execute(delete(s.chats).where(s.chats.c.id == chat_id))
    own_raw = [rid for rid in raw_ids if rid not in shared_raw]
    if own_raw:
        await conn.execute(delete(r).where(r.c.id.in_(own_raw)))
    return Deleted(chat_id, len(message_ids), len(files), tuple(sorted(set(files))))


async def remove_unreferenced_files(db: Database, deleted: Deleted) -> int:
    """After the commit: unlink files no remaining attachment row refers to. Returns how many."""
    if not deleted.files:
        return 0
    a = s.attachments
    async with db.read() as conn:
        still_used = set(
            (
                await conn.execute(
                    select(a.c.sha256).where(a.c.sha256.in_([sha for sha, _ in deleted.files])).distinct()
                )
            ).scalars()
        )
    doomed = [Path(path) for sha, path in deleted.files if sha not in still_used]

    def unlink_all() -> None:
        for path in doomed:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    await asyncio.to_thread(unlink_all)
    return len(doomed)
