"""Chat operations shared by the manager API and plugins: start a chat (E10), transcripts and
raw deliveries."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.exceptions import RequestRefused
from bridgekit.flow import ChatView
from bridgekit.inbox.capabilities import MAX_TEXT, ChannelLimits
from bridgekit.inbox.customers import new_lead
from bridgekit.inbox.message_writer import write_reply
from bridgekit.inbox.views_counts import NewChat, count_new_chats
from bridgekit.model import TranscriptEntry
from bridgekit.queues.flow_events import FlowRow, write_flow_events
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s
from bridgekit.storage.integrations import BoundIntegration, IntegrationRegistry
from bridgekit.storage.sql import upsert
from bridgekit.storage.storable import storable


class ChatError(RequestRefused):
    """A chat operation was refused; the message says why (answered 400 by the API)."""


class UnreachableContact(ChatError):
    """The channel cannot start a chat with this kind of contact (answered 422)."""

    status = 422


@dataclass(frozen=True, slots=True)
class NewContact:
    kind: str
    value: str
    name: str | None = None
    shared: bool = True


async def _customer_for_contact(
    conn: AsyncConnection, workspace_id: int, bound: BoundIntegration, contact: NewContact
) -> tuple[int, int]:
    """The customer owning ``contact`` (verified first), else a new lead. Returns ids."""
    scope = 0 if contact.shared else bound.integration.id
    ct = s.contacts
    row = (
        await conn.execute(
            select(ct.c.id, ct.c.customer_id)
            .where(ct.c.kind == contact.kind, ct.c.scope == scope, ct.c.value == contact.value)
            .order_by(ct.c.verified.desc(), ct.c.id)
            .limit(1)
        )
    ).first()
    if row is not None:
        return int(row.customer_id), int(row.id)
    return await new_lead(
        conn, workspace_id, contact.name, (contact.kind, scope, contact.value), False, utcnow()
    )


async def _contact_of_customer(conn: AsyncConnection, customer_id: int, bound: BoundIntegration) -> int:
    kind = bound.channel.spec.contact_kind
    ct = s.contacts
    query = select(ct.c.id).where(ct.c.customer_id == customer_id)
    if kind is not None:
        query = query.where(ct.c.kind == kind, ct.c.scope == 0)
    else:
        query = query.where(ct.c.scope == bound.integration.id)
    found = (await conn.execute(query.order_by(ct.c.verified.desc(), ct.c.id).limit(1))).scalar()
    if found is None:
        reach = f"{kind} handle" if kind else f"handle on {bound.integration.name}"
        raise ChatError(
            f"customer {customer_id} has no {reach}",
            code="customer_unreachable",
            details={"customer_id": customer_id},
        )
    return int(found)


async def start_chat(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    bound: BoundIntegration,
    text: str,
    title: str | None,
    customer_id: int | None = None,
    contact: NewContact | None = None,
    author_id: int | None = None,
    author_name: str | None = None,
    author_kind: str = "manager",
    meta: Mapping[str, Any] | None = None,
    delivery_key: str | None = None,
) -> tuple[int, int]:
    """A manager writes first (E10): open a chat on ``bound`` and queue the first message.

    The customer is given by id (their handle of the channel's ``contact_kind`` is used) or
    by a contact handle (an existing customer owning it, else a new lead). Returns
    ``(chat_id, message_id)``. A plugin's send (``BridgeAPI.send_to_customer``) starts its
    chat here too, with ``author_kind="plugin"``, the message's ``meta`` and its outbox key.
    """
    if not text.strip():
        raise ChatError("text is required")
    given = {"text": text, "title": title}
    if contact is not None:
        given |= {"contact kind": contact.kind, "contact value": contact.value, "contact name": contact.name}
    for what, value in given.items():
        if value is not None and not storable(value):
            raise ChatError(f"{what} must not contain NUL characters or unpaired surrogates")
    if (customer_id is None) == (contact is None):
        raise ChatError("give either customer_id or contact")
    if len(text) > MAX_TEXT:
        raise ChatError(f"text is longer than {MAX_TEXT} characters")
    ChannelLimits(bound.channel.spec).check_text(text)
    kinds = bound.channel.spec.capabilities.start_chat_with
    if not kinds:
        raise UnreachableContact(f"{bound.integration.name} cannot start chats: its customers write first")
    if contact is not None:
        if contact.kind not in kinds:
            raise UnreachableContact(
                f"{bound.integration.name} reaches customers by {' or '.join(kinds)}, not {contact.kind}"
            )
        customer_id, contact_id = await _customer_for_contact(conn, workspace_id, bound, contact)
    else:
        assert customer_id is not None
        exists = (
            await conn.execute(select(s.customers.c.id).where(s.customers.c.id == customer_id))
        ).scalar()
        if exists is None:
            raise ChatError(f"no customer {customer_id}")
        contact_id = await _contact_of_customer(conn, customer_id, bound)
    handle = (
        await conn.execute(
            select(s.contacts.c.scope, s.contacts.c.value).where(s.contacts.c.id == contact_id)
        )
    ).one()
    # One-to-one messengers thread on the customer's id (what ingest keys their chats by, and
    # what LINE pushes to); the others get a key of their own.
    one_to_one = handle.scope == bound.integration.id
    now = utcnow()
    chat_id = (
        await conn.execute(
            s.chats.insert()
            .values(
                workspace_id=workspace_id,
                integration_id=bound.integration.id,
                customer_id=customer_id,
                contact_id=contact_id,
                thread_key=handle.value if one_to_one else f"bk-started-{uuid.uuid4().hex}",
                title=title,
                state="open",
                assignee_id=author_id,
                assigned_at=now if author_id is not None else None,
                created_at=now,
                updated_at=now,
                last_message_at=now,
            )
            .returning(s.chats.c.id)
        )
    ).scalar_one()
    await count_new_chats(
        conn, [NewChat(workspace_id, "open", bound.integration.id, author_id, None, has_inbound=False)]
    )
    await write_flow_events(
        conn, [FlowRow("chat_state_changed", chat_id, None, {"old": None, "new": "open"})], now
    )
    if one_to_one:  # the customer's answer joins this chat
        await upsert(
            conn,
            s.chat_keys,
            [{"integration_id": bound.integration.id, "key": handle.value, "chat_id": chat_id}],
            ["integration_id", "key"],
            ["chat_id"],
        )
    message_id = await write_reply(
        conn,
        chat_id=chat_id,
        text=text,
        author_kind=author_kind,
        author_id=author_id,
        author_name=author_name,
        meta=meta,
        delivery_key=delivery_key,
    )
    return int(chat_id), message_id


async def transcript(conn: AsyncConnection, chat_id: int) -> list[TranscriptEntry]:
    m, r = s.messages, s.raw_deliveries
    rows = (
        await conn.execute(
            select(
                m.c.id, m.c.direction, m.c.author_kind, m.c.author_name, m.c.text, m.c.created_at, r.c.body
            )
            .outerjoin(r, r.c.id == m.c.raw_delivery_id)
            .where(m.c.chat_id == chat_id)
            .order_by(m.c.id)
        )
    ).all()
    return [
        TranscriptEntry(
            row.id, row.direction, row.author_kind, row.author_name, row.text, row.created_at, row.body
        )
        for row in rows
    ]


async def raw_delivery(conn: AsyncConnection, message_id: int) -> Any:
    """The raw delivery row a message came from (None for outbound messages and notes)."""
    m, r = s.messages, s.raw_deliveries
    return (
        await conn.execute(
            select(
                r.c.id, r.c.method, r.c.headers, r.c.body, r.c.received_at, m.c.chat_id, m.c.integration_id
            )
            .join(m, m.c.raw_delivery_id == r.c.id)
            .where(m.c.id == message_id)
        )
    ).first()


def chat_view(row: Any, registry: IntegrationRegistry) -> ChatView:
    """A chat row as plugins and bots see it."""
    bound = registry.by_id(row.integration_id) if row.integration_id else None
    return ChatView(
        id=row.id,
        state=row.state,
        title=row.title,
        customer_id=row.customer_id,
        integration_id=row.integration_id,
        channel=bound.integration.channel if bound else None,
        assignee_id=row.assignee_id,
        team_id=row.team_id,
    )
