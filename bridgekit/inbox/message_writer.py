"""The one writer of a single message, outside ingest's group commit.

Every message a person or bot adds to a chat is written here, in the caller's transaction:
a reply (a manager's or a bot's) with its delivery job in the outbox, an internal note, and a
message the customer writes through their customer link. What each kind does to the chat
is decided here once: replies and customer messages are chat activity (``last_message_at``
moves), notes are not (I13); a customer message is queued for bots like one that came
through ingest. Inbound messages from providers are written in batches by
``bridgekit.ingest.pipeline`` through the hot-path SQL instead.

Every caller announces what it wrote: :func:`message_created` after its commit, numbered with
the transaction's other events (``bridgekit.storage.event_seq.sequence_events``), so an open
inbox shows a bot's reply or a plugin's note as it shows a manager's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.model import DeliveryStatus
from bridgekit.queues.flow_events import FlowRow, write_flow_events
from bridgekit.queues.outbox import queue_delivery
from bridgekit.runtime.clock import utcnow
from bridgekit.runtime.events import Event
from bridgekit.storage import schema as s
from bridgekit.storage.hotsql import driver_sql

Direction = Literal["inbound", "outbound", "note"]

# What a new message does to the sidebar's figures, completed by ``IN (...)`` or ``= ?`` with
# the chats' ids: the chat has a customer message (I1 Inbound), and a read marker behind a
# message someone else wrote is unread (the recount's rule, ``inbox/views.unread_condition``).
# The two writers of messages run them in their transaction: ``_insert`` below for each
# message, ingest's group commit once per batch. (Until migration 0015 a trigger on messages
# ran them for every row: 2.3 µs a stored message on SQLite even where its condition failed.)
MARK_INBOUND = "UPDATE chats SET has_inbound = TRUE WHERE NOT has_inbound AND id"
MARK_UNREAD = (
    "UPDATE read_markers SET unread = TRUE WHERE NOT unread AND EXISTS (SELECT 1 FROM messages m"
    " WHERE m.chat_id = read_markers.chat_id AND m.id > read_markers.last_read_message_id"
    " AND (m.author_kind <> 'manager' OR m.author_id IS NULL OR m.author_id <> read_markers.manager_id))"
    " AND chat_id"
)


async def write_reply(
    conn: AsyncConnection,
    *,
    chat_id: int,
    text: str,
    author_kind: str,
    author_id: int | None = None,
    author_name: str | None = None,
    meta: Mapping[str, Any] | None = None,
    delivery_key: str | None = None,
) -> int:
    """A reply to the customer and its delivery job (none for a chat without integration);
    ``delivery_key``: the job's idempotency key, when the caller chose one."""
    now = utcnow()
    integration_id = (
        await conn.execute(select(s.chats.c.integration_id).where(s.chats.c.id == chat_id))
    ).scalar_one()
    message_id = await _insert(
        conn,
        now,
        chat_id=chat_id,
        integration_id=integration_id,
        direction="outbound",
        author_kind=author_kind,
        author_id=author_id,
        author_name=author_name,
        text=text,
        meta=meta,
        delivery_status=DeliveryStatus.PENDING.value,
    )
    if integration_id is not None:
        await queue_delivery(conn, message_id, integration_id, now, key=delivery_key)
    await _touch_chat(conn, chat_id, now)
    return message_id


async def write_note(
    conn: AsyncConnection,
    chat_id: int,
    text: str,
    *,
    author_kind: str,
    author_id: int | None,
    author_name: str | None,
    meta: Mapping[str, Any] | None = None,
) -> int:
    """An internal note: seen by managers, never delivered to the customer (I13). Notes are
    not customer activity: the chat's ``last_message_at`` stays as it is."""
    return await _insert(
        conn,
        utcnow(),
        chat_id=chat_id,
        integration_id=None,
        direction="note",
        author_kind=author_kind,
        author_id=author_id,
        author_name=author_name,
        text=text,
        meta=meta,
    )


async def write_customer_message(conn: AsyncConnection, chat: Any, text: str) -> tuple[int, list[Event]]:
    """The customer writes through their link: an inbound message from the customer, which
    bots see like any customer message (the same durable flow queue as ingest)."""
    now = utcnow()
    name = (
        await conn.execute(select(s.customers.c.name).where(s.customers.c.id == chat.customer_id))
    ).scalar()
    message_id = await _insert(
        conn,
        now,
        chat_id=chat.id,
        integration_id=None,  # it did not come through the chat's messenger
        direction="inbound",
        author_kind="customer",
        author_id=chat.customer_id,
        author_name=name,
        text=text,
        meta={"via": "customer_link"},
    )
    await write_flow_events(conn, [FlowRow("message_received", chat.id, message_id)], now)
    await _touch_chat(conn, chat.id, now)
    return message_id, [message_created(chat.id, message_id, "inbound")]


def message_created(chat_id: int, message_id: int, direction: Direction) -> Event:
    """What an open inbox learns a new message by (the chat's list entry moves with it)."""
    return Event("message.created", {"chat_id": chat_id, "message_id": message_id, "direction": direction})


async def _insert(
    conn: AsyncConnection,
    now: datetime,
    *,
    chat_id: int,
    integration_id: int | None,
    direction: Direction,
    author_kind: str,
    author_id: int | None,
    author_name: str | None,
    text: str,
    meta: Mapping[str, Any] | None,
    delivery_status: str | None = None,
) -> int:
    result = await conn.execute(
        s.messages.insert()
        .values(
            chat_id=chat_id,
            integration_id=integration_id,
            direction=direction,
            author_kind=author_kind,
            author_id=author_id,
            author_name=author_name,
            text=text,
            meta=dict(meta or {}),
            delivery_status=delivery_status,
            created_at=now,
        )
        .returning(s.messages.c.id)
    )
    message_id = int(result.scalar_one())
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # The chat's row first: the lock the count triggers of read markers take (0010).
        lock = driver_sql(dialect, "SELECT 1 FROM chats WHERE id = ? FOR NO KEY UPDATE")
        await conn.exec_driver_sql(lock, (chat_id,))
    if direction == "inbound":
        await conn.exec_driver_sql(driver_sql(dialect, MARK_INBOUND + " = ?"), (chat_id,))
    await conn.exec_driver_sql(driver_sql(dialect, MARK_UNREAD + " = ?"), (chat_id,))
    return message_id


async def _touch_chat(conn: AsyncConnection, chat_id: int, now: datetime) -> None:
    await conn.execute(
        update(s.chats).where(s.chats.c.id == chat_id).values(last_message_at=now, updated_at=now)
    )
    # The tag view's copy: no trigger follows this column, for the ingest's sake (migration 0012).
    tags = s.chat_tags
    await conn.execute(update(tags).where(tags.c.chat_id == chat_id).values(last_message_at=now))
