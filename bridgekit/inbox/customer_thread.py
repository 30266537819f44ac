"""A chat as its customer sees it through the customer link (I11), and what they write there.

Customers see inbound and outbound messages only — never internal notes — with link buttons,
forms (and whether they were answered) and attachment links scoped to their token.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.inbox.messages import message_page
from bridgekit.runtime.clock import iso
from bridgekit.storage import schema as s

VISIBLE = ("inbound", "outbound")
MAX_TEXT = 10_000


async def visible_messages(
    conn: AsyncConnection, chat_id: int, token: str, *, before: int | None, limit: int
) -> list[dict[str, Any]]:
    """The latest ``limit`` customer-visible messages (older than ``before``), oldest first."""
    rows, files = await message_page(conn, chat_id, before=before, limit=limit, directions=VISIBLE)
    by_message: dict[int, list[dict[str, Any]]] = {
        message_id: [
            {
                "id": f.id,
                "filename": f.filename,
                "content_type": f.content_type,
                "size": f.size,
                "url": f"/c/{token}/attachments/{f.id}",
            }
            for f in found
        ]
        for message_id, found in files.items()
    }
    out = []
    for r in rows:
        meta = r.meta or {}
        item: dict[str, Any] = {
            "id": r.id,
            "from": "customer" if r.direction == "inbound" else "team",
            "author_name": r.author_name,
            "text": r.text,
            "buttons": meta.get("buttons", []),
            "form": meta.get("form"),
            "form_answered": "form_answers" in meta,
            "attachments": by_message.get(r.id, []),
            "created_at": iso(r.created_at),
        }
        out.append(item)
    return out


async def attachment_in_chat(conn: AsyncConnection, chat_id: int, attachment_id: int) -> Any:
    """An attachment of a customer-visible message of the chat, or None."""
    a, m = s.attachments, s.messages
    return (
        await conn.execute(
            select(a.c.filename, a.c.content_type, a.c.storage_path)
            .join(m, m.c.id == a.c.message_id)
            .where(a.c.id == attachment_id, m.c.chat_id == chat_id, m.c.direction.in_(VISIBLE))
        )
    ).first()
