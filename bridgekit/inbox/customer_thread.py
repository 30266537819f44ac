"""A chat as its customer sees it through the customer link (I11), and what they write there.

Customers see inbound and outbound messages only — never internal notes — with link buttons,
forms (and whether they were answered) and attachment links scoped to their token.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.inbox.messages import message_page
from bridgekit.queues.flow_events import FlowRow, write_flow_events
from bridgekit.runtime.clock import iso, utcnow
from bridgekit.runtime.events import Event
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


async def add_customer_message(conn: AsyncConnection, chat: Any, text: str) -> tuple[int, list[Event]]:
    """The customer writes through their link: an inbound message from the customer."""
    now = utcnow()
    name = (
        await conn.execute(select(s.customers.c.name).where(s.customers.c.id == chat.customer_id))
    ).scalar()
    message_id = (
        await conn.execute(
            s.messages.insert()
            .values(
                chat_id=chat.id,
                integration_id=None,  # it did not come through the chat's messenger
                direction="inbound",
                author_kind="customer",
                author_id=chat.customer_id,
                author_name=name,
                text=text,
                meta={"via": "customer_link"},
                created_at=now,
            )
            .returning(s.messages.c.id)
        )
    ).scalar_one()
    # Bots see it like any customer message (same durable flow queue as ingest).
    await write_flow_events(conn, [FlowRow("message_received", chat.id, message_id)], now)
    await conn.execute(
        update(s.chats).where(s.chats.c.id == chat.id).values(last_message_at=now, updated_at=now)
    )
    event = Event("message.created", {"chat_id": chat.id, "message_id": message_id, "direction": "inbound"})
    return int(message_id), [event]


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
