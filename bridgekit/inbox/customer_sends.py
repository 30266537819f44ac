"""A plugin queues a message for a customer (``BridgeAPI.send_to_customer``).

The message is written the one way every reply is (``start_chat`` / ``write_reply``), so it
goes through the outbox: exactly once, retried, billed through ``bridgekit_bill`` and listed
among the customer's sent messages (I17). Which chat it joins:

- the customer's most recent chat on that integration, whatever its state, which the send
  leaves as it is (a notification is not something for a manager to answer);
- when there is none, a chat started for it and closed at once, so it does not sit in the
  open inbox; a customer's answer reopens it (or opens a new one) by the channel's
  ``closed_chat_policy``. A send-only channel (Kakao Alimtalk) thus keeps one chat per
  customer holding all their sends.

The caller's ``idempotency_key`` becomes the outbox job's key (scoped by integration and
hashed to the length of the core's own), so a second call with it returns the first call's
message and queues nothing; that key is what the plugin's ``bridgekit_deliver`` receives.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.inbox.capabilities import MAX_TEXT, ChannelLimits
from bridgekit.inbox.chat_state import close_chats
from bridgekit.inbox.chats import ChatError, start_chat
from bridgekit.inbox.message_writer import message_created, write_reply
from bridgekit.runtime.events import Event
from bridgekit.storage import schema as s
from bridgekit.storage.integrations import BoundIntegration
from bridgekit.storage.storable import storable

#: The longest idempotency key a plugin may give.
MAX_KEY = 200


def delivery_key(bound: BoundIntegration, idempotency_key: str) -> str:
    """The outbox key of a plugin's send: one per integration and caller's key, 32 hex digits
    like the core's own keys (providers take it as their retry key)."""
    if not idempotency_key or len(idempotency_key) > MAX_KEY or not storable(idempotency_key):
        raise ChatError(f"idempotency_key must be 1 to {MAX_KEY} characters, without NUL")
    scoped = f"{bound.integration.id}\n{idempotency_key}".encode()
    return hashlib.sha256(scoped).hexdigest()[:32]


async def queued_send(conn: AsyncConnection, key: str, customer_id: int) -> int | None:
    """The message an earlier send with this outbox key queued, or None."""
    o, m, c = s.outbox, s.messages, s.chats
    row = (
        await conn.execute(
            select(o.c.message_id, c.c.customer_id)
            .join(m, m.c.id == o.c.message_id)
            .join(c, c.c.id == m.c.chat_id)
            .where(o.c.idempotency_key == key)
        )
    ).first()
    if row is None:
        return None
    if row.customer_id != customer_id:
        raise ChatError("this idempotency_key was already used for another customer's message")
    return int(row.message_id)


async def send_to_customer(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    bound: BoundIntegration,
    customer_id: int,
    text: str,
    meta: Mapping[str, Any] | None,
    key: str,
    manager: tuple[int, str] | None,
    author_name: str | None,
) -> tuple[int, list[Event]]:
    """Queue the message (see the module's docstring); returns its id and the events to
    publish once the transaction commits. ``manager`` (id, name): written by that manager,
    else by the plugin under ``author_name``."""
    try:
        json.dumps(dict(meta or {}))
    except (TypeError, ValueError):
        raise ChatError("meta must be JSON: strings, numbers, booleans, lists and objects") from None
    earlier = await queued_send(conn, key, customer_id)
    if earlier is not None:
        return earlier, []
    author_kind, author_id = ("manager", manager[0]) if manager else ("plugin", None)
    name = manager[1] if manager else author_name
    c = s.chats
    chat_id = (
        await conn.execute(
            select(c.c.id)
            .where(c.c.customer_id == customer_id, c.c.integration_id == bound.integration.id)
            .order_by(c.c.id.desc())
            .limit(1)
        )
    ).scalar()
    if chat_id is None:
        chat_id, message_id = await start_chat(
            conn,
            workspace_id=workspace_id,
            bound=bound,
            text=text,
            title=None,
            customer_id=customer_id,
            author_kind=author_kind,
            author_id=author_id,
            author_name=name,
            meta=meta,
            delivery_key=key,
        )
        closed = await close_chats(conn, [chat_id])
        return message_id, [message_created(chat_id, message_id, "outbound"), *closed.events]
    # The checks start_chat makes of a first message (limits, a reachable handle) hold here
    # too: the chat is on the same integration, with the handle it was started with.
    check_text(bound, text)
    message_id = await write_reply(
        conn,
        chat_id=int(chat_id),
        text=text,
        author_kind=author_kind,
        author_id=author_id,
        author_name=name,
        meta=meta,
        delivery_key=key,
    )
    return message_id, [message_created(int(chat_id), message_id, "outbound")]


def check_text(bound: BoundIntegration, text: str) -> None:
    if not text.strip() or not storable(text):
        raise ChatError("text is required, without NUL characters or unpaired surrogates")
    if len(text) > MAX_TEXT:
        raise ChatError(f"text is longer than {MAX_TEXT} characters")
    ChannelLimits(bound.channel.spec).check_text(text)
