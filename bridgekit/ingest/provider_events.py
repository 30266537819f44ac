"""Provider events that are not messages (``IngestResult.events``): retractions, edits and
customer events, applied inside the ingest transaction after the batch's messages.

They are rare next to messages, so this is the simple path: SQLAlchemy Core, one event at a
time. The group commit's batched statements stay for messages only.

* :class:`~bridgekit.model.Retraction`: the message's text, provider details (``meta``),
  attachments and raw-delivery link are removed; it stays in the chat marked retracted.
* :class:`~bridgekit.model.Edit`: the text is replaced and the message marked edited.
* :class:`~bridgekit.model.CustomerEvent`: a row on the customer's timeline
  (``customer_events``, I17), and a ``customer_event`` flow event for bots when the customer
  has a chat on the event's thread key. It never opens a chat.

Redeliveries change nothing: customer events are deduplicated by their event id (kept in the
timeline row's properties), a retraction is idempotent and an edit applies only if it is newer
than the last one applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.inbox.customers import new_lead
from bridgekit.ingest.routing_cache import Handle
from bridgekit.model import Contact, CustomerEvent, Edit, ProviderEvent, Retraction
from bridgekit.queues.flow_events import FlowRow, flow_wanted, write_flow_events
from bridgekit.runtime.clock import as_naive_utc, iso
from bridgekit.runtime.events import Event
from bridgekit.storage import schema as s


@dataclass(slots=True)
class AppliedEvents:
    """What applying a batch's provider events produced, for the ingest writer."""

    events: list[Event] = field(default_factory=list)  # realtime, published after the commit
    changed_handles: set[Handle] = field(default_factory=set)  # contacts added (routing cache)
    wrote_flow: bool = False


def _when(sent_at: datetime | None, now: datetime) -> datetime:
    """The provider's time of the event (naive UTC, as stored), else now."""
    return as_naive_utc(sent_at) if sent_at is not None else now


async def apply_provider_events(
    conn: AsyncConnection,
    deliveries: Iterable[tuple[int, Sequence[ProviderEvent]]],
    *,
    workspace_id: int,
    now: datetime,
    listened: frozenset[str],
) -> AppliedEvents:
    """Apply every delivery's events, as ``(integration id, events)``, in order."""
    applied = AppliedEvents()
    for integration_id, events in deliveries:
        for event in events:
            if isinstance(event, Retraction):
                await _retract(conn, integration_id, event, now, applied)
            elif isinstance(event, Edit):
                await _edit(conn, integration_id, event, now, applied)
            else:
                await _customer_event(conn, integration_id, event, workspace_id, now, listened, applied)
    return applied


async def _inbound_by_ref(conn: AsyncConnection, integration_id: int, ref: str) -> list[Any]:
    m = s.messages
    return list(
        (
            await conn.execute(
                select(m.c.id, m.c.chat_id, m.c.meta).where(
                    m.c.integration_id == integration_id,
                    m.c.provider_message_id == ref,
                    m.c.direction == "inbound",
                )
            )
        ).all()
    )


async def _retract(
    conn: AsyncConnection, integration_id: int, event: Retraction, now: datetime, applied: AppliedEvents
) -> None:
    m = s.messages
    for row in await _inbound_by_ref(conn, integration_id, event.message_ref):
        if (row.meta or {}).get("retracted_at"):
            continue  # a redelivery
        # Nothing of the content stays reachable from the message: not its text, not the
        # provider's details (file names, sticker keywords, quote tokens), not its files and
        # not the raw delivery (which holds the original text).
        meta = {
            "retracted_at": iso(_when(event.sent_at, now), "microseconds"),
            "retracted_by": event.event_id,
        }
        await conn.execute(update(m).where(m.c.id == row.id).values(text="", meta=meta, raw_delivery_id=None))
        await conn.execute(delete(s.attachments).where(s.attachments.c.message_id == row.id))
        applied.events.append(
            Event("message.updated", {"chat_id": row.chat_id, "message_id": row.id, "retracted": True})
        )


async def _edit(
    conn: AsyncConnection, integration_id: int, event: Edit, now: datetime, applied: AppliedEvents
) -> None:
    m = s.messages
    edited_at = iso(_when(event.sent_at, now), "microseconds")
    for row in await _inbound_by_ref(conn, integration_id, event.message_ref):
        meta = dict(row.meta or {})
        if meta.get("retracted_at"):
            continue  # an unsent message stays unsent
        # A late redelivery of an older edit must not undo a newer one.
        if meta.get("edit_event_id") == event.event_id or str(meta.get("edited_at", "")) > edited_at:
            continue
        meta["edited_at"] = edited_at
        meta["edit_event_id"] = event.event_id
        await conn.execute(update(m).where(m.c.id == row.id).values(text=event.text, meta=meta))
        applied.events.append(
            Event("message.updated", {"chat_id": row.chat_id, "message_id": row.id, "edited": True})
        )


async def _customer_of(
    conn: AsyncConnection, integration_id: int, sender: Contact, workspace_id: int, now: datetime
) -> tuple[int, Handle | None]:
    """The customer a handle belongs to (E7: verified first, then a lead), or a new lead.
    Returns the customer id and the handle if a contact was added for it."""
    handle: Handle = (sender.kind, 0 if sender.shared else integration_id, sender.value)
    ct, cu = s.contacts, s.customers
    rows = (
        await conn.execute(
            select(ct.c.customer_id, ct.c.verified, cu.c.is_lead)
            .join(cu, cu.c.id == ct.c.customer_id)
            .where(ct.c.kind == handle[0], ct.c.scope == handle[1], ct.c.value == handle[2])
            .order_by(ct.c.id)
        )
    ).all()
    for wanted in ("verified", "lead"):
        for row in rows:
            if (row.verified if wanted == "verified" else row.is_lead) is True:
                return int(row.customer_id), None
    customer_id, _contact_id = await new_lead(conn, workspace_id, sender.name, handle, sender.verified, now)
    return customer_id, handle


async def _customer_event(
    conn: AsyncConnection,
    integration_id: int,
    event: CustomerEvent,
    workspace_id: int,
    now: datetime,
    listened: frozenset[str],
    applied: AppliedEvents,
) -> None:
    customer_id, added = await _customer_of(conn, integration_id, event.sender, workspace_id, now)
    if added is not None:
        applied.changed_handles.add(added)
    e = s.customer_events
    seen = (
        await conn.execute(
            select(e.c.id).where(
                e.c.customer_id == customer_id, e.c.properties["event_id"].as_string() == event.event_id
            )
        )
    ).first()
    if seen is not None:
        return  # a redelivery
    # The core's keys win over a plugin's keys of the same name.
    properties = {**event.data, "event_id": event.event_id, "integration_id": integration_id}
    await conn.execute(
        e.insert().values(
            customer_id=customer_id,
            name=event.kind,
            properties=properties,
            created_at=_when(event.sent_at, now),
        )
    )
    applied.events.append(Event("customer.updated", {"customer_id": customer_id, "event": event.kind}))
    if not flow_wanted("customer_event", listened):
        return
    k, c = s.chat_keys, s.chats
    chat_id = (
        await conn.execute(
            select(c.c.id)
            .join(k, k.c.chat_id == c.c.id)
            .where(
                k.c.integration_id == integration_id,
                k.c.key == event.thread_key,
                c.c.customer_id == customer_id,
            )
        )
    ).scalar()
    if chat_id is None:
        return
    row = FlowRow("customer_event", chat_id, None, {"kind": event.kind, "data": dict(event.data)})
    applied.wrote_flow |= await write_flow_events(conn, [row], now)
