"""The customer panel (I17) and changes to a customer: profile edits, events, form answers.

The panel gathers, each in one bounded, indexed query: the profile with its contacts, the
latest events, previous chats, messages sent to the customer by billed external sends (SMS,
Alimtalk...), and the files and web links exchanged in their chats (internal notes excluded).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.exceptions import RequestRefused
from bridgekit.inbox.forms import is_web_url
from bridgekit.runtime.clock import iso, utcnow
from bridgekit.runtime.events import Event
from bridgekit.storage import schema as s
from bridgekit.storage.integrations import IntegrationRegistry
from bridgekit.storage.sql import insert_for, upsert
from bridgekit.storage.storable import storable

EVENTS_LIMIT = 50
CHATS_LIMIT = 100
SENT_LIMIT = 50
FILES_LIMIT = 100
LINKS_LIMIT = 100
LINK_SCAN_MESSAGES = 500  # links are looked for in the customer's latest messages
MAX_PROFILE_KEYS = 100
MAX_EVENT_PROPERTIES_BYTES = 16_384
URL_RE = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
EVENT_NAME_RE = re.compile(r"^[\w.:/ -]{1,100}$")
PROFILE_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


class CustomerError(RequestRefused):
    """A customer change was refused; ``status`` is the HTTP status to answer with."""


async def new_lead(
    conn: AsyncConnection,
    workspace_id: int,
    name: str | None,
    contact: tuple[str, int, str],
    verified: bool,
    now: datetime,
) -> tuple[int, int]:
    """A new lead customer with one contact (kind, scope, value): the customer and contact ids.
    (The ingest group commit creates its leads in bulk with plain SQL: ``ingest._customers``.)

    A verified handle has one owner: if a concurrent writer gave it one first, the new lead
    is dropped again and the owner's ids are returned (insert-or-get)."""
    customer_id = (
        await conn.execute(
            s.customers.insert()
            .values(
                workspace_id=workspace_id, name=name, is_lead=True, profile={}, created_at=now, updated_at=now
            )
            .returning(s.customers.c.id)
        )
    ).scalar_one()
    kind, scope, value = contact
    ct = s.contacts
    contact_id = (
        await conn.execute(
            insert_for(conn, ct)
            .values(
                customer_id=customer_id,
                kind=kind,
                scope=scope,
                value=value,
                verified=verified,
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(ct.c.id)
        )
    ).scalar()
    if contact_id is not None:
        return int(customer_id), int(contact_id)
    owner = (
        await conn.execute(
            select(ct.c.customer_id, ct.c.id).where(
                ct.c.kind == kind, ct.c.scope == scope, ct.c.value == value, ct.c.verified.is_(True)
            )
        )
    ).one()
    await conn.execute(delete(s.customers).where(s.customers.c.id == customer_id))
    return int(owner.customer_id), int(owner.id)


async def customer_summary(conn: AsyncConnection, customer_id: int) -> dict[str, Any]:
    """The customer beside a chat (I17): name, lead or not, contacts, how many chats."""
    cu, ct, ch = s.customers.c, s.contacts.c, s.chats.c
    customer = (await conn.execute(select(cu.id, cu.name, cu.is_lead).where(cu.id == customer_id))).one()
    contacts = await conn.execute(
        select(ct.kind, ct.value, ct.verified).where(ct.customer_id == customer_id).order_by(ct.id)
    )
    chats = (
        await conn.execute(select(func.count()).select_from(s.chats).where(ch.customer_id == customer_id))
    ).scalar_one()
    return {
        "id": int(customer.id),
        "name": customer.name,
        "is_lead": bool(customer.is_lead),
        "contacts": [{"kind": r.kind, "value": r.value, "verified": bool(r.verified)} for r in contacts],
        "chats_count": int(chats),
    }


async def customer_row(conn: AsyncConnection, customer_id: int, workspace_id: int) -> Any:
    c = s.customers
    row = (
        await conn.execute(select(c).where(c.c.id == customer_id, c.c.workspace_id == workspace_id))
    ).first()
    if row is None:
        raise CustomerError("no such customer", status=404)
    return row


async def profile_json(conn: AsyncConnection, row: Any) -> dict[str, Any]:
    ct = s.contacts
    contacts = (
        await conn.execute(
            select(ct.c.id, ct.c.kind, ct.c.scope, ct.c.value, ct.c.verified)
            .where(ct.c.customer_id == row.id)
            .order_by(ct.c.id)
        )
    ).all()
    return {
        "id": row.id,
        "name": row.name,
        "is_lead": row.is_lead,
        "profile": dict(row.profile or {}),
        "contacts": [
            {
                "id": x.id,
                "kind": x.kind,
                "value": x.value,
                "verified": x.verified,
                "shared": x.scope == 0,
                "integration_id": x.scope or None,
            }
            for x in contacts
        ],
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


async def customer_panel(
    conn: AsyncConnection, customer_id: int, workspace_id: int, registry: IntegrationRegistry
) -> dict[str, Any]:
    row = await customer_row(conn, customer_id, workspace_id)
    return {
        "customer": await profile_json(conn, row),
        "events": await _events(conn, customer_id),
        "chats": await _chats(conn, customer_id, registry),
        "sent_messages": await _sent(conn, customer_id, registry),
        "files": await _files(conn, customer_id),
        "links": await _links(conn, customer_id),
    }


def _channel(registry: IntegrationRegistry, integration_id: int | None) -> str | None:
    bound = registry.by_id(integration_id) if integration_id else None
    return bound.integration.channel if bound else None


async def _events(conn: AsyncConnection, customer_id: int) -> list[dict[str, Any]]:
    e = s.customer_events
    rows = (
        await conn.execute(
            select(e.c.id, e.c.name, e.c.properties, e.c.created_at)
            .where(e.c.customer_id == customer_id)
            .order_by(e.c.id.desc())
            .limit(EVENTS_LIMIT)
        )
    ).all()
    return [
        {"id": r.id, "name": r.name, "properties": r.properties, "created_at": iso(r.created_at)}
        for r in rows
    ]


async def _chats(
    conn: AsyncConnection, customer_id: int, registry: IntegrationRegistry
) -> list[dict[str, Any]]:
    c = s.chats
    rows = (
        await conn.execute(
            select(c.c.id, c.c.title, c.c.state, c.c.integration_id, c.c.last_message_at)
            .where(c.c.customer_id == customer_id)
            .order_by(c.c.last_message_at.desc(), c.c.id.desc())
            .limit(CHATS_LIMIT)
        )
    ).all()
    return [
        {
            "id": r.id,
            "title": r.title,
            "state": r.state,
            "channel": _channel(registry, r.integration_id),
            "last_message_at": iso(r.last_message_at),
        }
        for r in rows
    ]


async def _sent(
    conn: AsyncConnection, customer_id: int, registry: IntegrationRegistry
) -> list[dict[str, Any]]:
    # Billed external sends. Ledger rows are written by the outbox for the job they bill,
    # so the join goes message -> outbox (unique message_id) -> ledger (unique outbox_id):
    # both sides indexed, no ledger scan.
    m, c, o, lg = s.messages, s.chats, s.outbox, s.ledger
    rows = (
        await conn.execute(
            select(
                m.c.id,
                m.c.chat_id,
                m.c.text,
                m.c.delivery_status,
                m.c.created_at,
                m.c.integration_id,
                lg.c.amount_pu,
                lg.c.category,
            )
            .select_from(c.join(m, m.c.chat_id == c.c.id).join(o, o.c.message_id == m.c.id))
            .join(lg, lg.c.outbox_id == o.c.id)
            .where(c.c.customer_id == customer_id, m.c.direction == "outbound")
            .order_by(m.c.id.desc())
            .limit(SENT_LIMIT)
        )
    ).all()
    return [
        {
            "message_id": r.id,
            "chat_id": r.chat_id,
            "channel": _channel(registry, r.integration_id),
            "text": r.text,
            "delivery_status": r.delivery_status,
            "amount_pu": r.amount_pu,
            "category": r.category,
            "created_at": iso(r.created_at),
        }
        for r in rows
    ]


async def _files(conn: AsyncConnection, customer_id: int) -> list[dict[str, Any]]:
    a, m, c = s.attachments, s.messages, s.chats
    rows = (
        await conn.execute(
            select(
                a.c.id,
                a.c.filename,
                a.c.content_type,
                a.c.size,
                a.c.created_at,
                m.c.id.label("message_id"),
                m.c.chat_id,
                m.c.direction,
            )
            .select_from(c.join(m, m.c.chat_id == c.c.id).join(a, a.c.message_id == m.c.id))
            .where(c.c.customer_id == customer_id, m.c.direction != "note")
            .order_by(a.c.id.desc())
            .limit(FILES_LIMIT)
        )
    ).all()
    return [
        {
            "id": r.id,
            "filename": r.filename,
            "content_type": r.content_type,
            "size": r.size,
            "message_id": r.message_id,
            "chat_id": r.chat_id,
            "direction": r.direction,
            "url": f"/api/v1/attachments/{r.id}",
            "created_at": iso(r.created_at),
        }
        for r in rows
    ]


def urls_in(text: str, meta: Mapping[str, Any] | None) -> list[str]:
    """http(s) URLs in a message's text and its link buttons, in order, without duplicates."""
    found = [u.rstrip(".,;:!?)]}") for u in URL_RE.findall(text or "")]
    for button in (meta or {}).get("buttons") or []:
        if isinstance(button, dict) and isinstance(button.get("url"), str):
            found.append(button["url"])
    return list(dict.fromkeys(u for u in found if is_web_url(u)))


async def _links(conn: AsyncConnection, customer_id: int) -> list[dict[str, Any]]:
    m, c = s.messages, s.chats
    rows = (
        await conn.execute(
            select(m.c.id, m.c.chat_id, m.c.direction, m.c.text, m.c.meta, m.c.created_at)
            .select_from(c.join(m, m.c.chat_id == c.c.id))
            .where(c.c.customer_id == customer_id, m.c.direction != "note")
            .order_by(m.c.id.desc())
            .limit(LINK_SCAN_MESSAGES)
        )
    ).all()
    links: dict[str, dict[str, Any]] = {}
    for r in rows:  # newest first: the first sighting of a URL is its latest
        for url in urls_in(r.text, r.meta):
            if url not in links and len(links) < LINKS_LIMIT:
                links[url] = {
                    "url": url,
                    "message_id": r.id,
                    "chat_id": r.chat_id,
                    "direction": r.direction,
                    "created_at": iso(r.created_at),
                }
    return list(links.values())


def validate_event(body: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    name, properties = body.get("name"), body.get("properties", {})
    if not isinstance(name, str) or not EVENT_NAME_RE.match(name):
        raise CustomerError("name must be 1-100 letters, digits, spaces or . : / _ -")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise CustomerError("properties must be an object")
    try:
        encoded = json.dumps(properties, allow_nan=False)
    except ValueError:
        raise CustomerError("properties must be plain JSON (no NaN or Infinity)") from None
    if len(encoded) > MAX_EVENT_PROPERTIES_BYTES or not storable(encoded):
        raise CustomerError("properties are too large or hold unstorable text")
    return name, properties


async def record_event(
    conn: AsyncConnection, customer_id: int, name: str, properties: dict[str, Any]
) -> dict[str, Any]:
    now = utcnow()
    event_id = (
        await conn.execute(
            s.customer_events.insert()
            .values(customer_id=customer_id, name=name, properties=properties, created_at=now)
            .returning(s.customer_events.c.id)
        )
    ).scalar_one()
    return {"id": int(event_id), "name": name, "properties": properties, "created_at": iso(now)}


def validate_profile_patch(value: object) -> dict[str, Any]:
    """``{key: scalar or null}``; null removes the field."""
    if not isinstance(value, dict):
        raise CustomerError("profile must be an object")
    for key, item in value.items():
        if not PROFILE_KEY_RE.match(key):
            raise CustomerError(f"profile key {key!r} must be letters, digits, '_', '.' or '-'")
        if item is not None and not isinstance(item, str | int | float | bool):
            raise CustomerError(f"profile field {key!r} must be text, a number, true/false or null")
        if isinstance(item, str) and (len(item) > 2000 or not storable(item)):
            raise CustomerError(f"profile field {key!r} must be text of at most 2000 characters")
        if isinstance(item, float) and not math.isfinite(item):
            raise CustomerError(f"profile field {key!r} must be a finite number")
    return value


async def update_customer(
    conn: AsyncConnection,
    row: Any,
    *,
    name: str | None = None,
    set_name: bool = False,
    profile: Mapping[str, Any] | None = None,
) -> None:
    values: dict[str, Any] = {"updated_at": utcnow()}
    if set_name:
        values["name"] = name
    if profile:
        merged = dict(row.profile or {})
        for key, item in profile.items():
            if item is None:
                merged.pop(key, None)
            else:
                merged[key] = item
        if len(merged) > MAX_PROFILE_KEYS:
            raise CustomerError(f"a profile holds at most {MAX_PROFILE_KEYS} fields")
        values["profile"] = merged
    await conn.execute(update(s.customers).where(s.customers.c.id == row.id).values(**values))


async def save_form_answers(
    conn: AsyncConnection,
    *,
    chat_id: int,
    customer: Any,
    message_id: int,
    message_meta: Mapping[str, Any],
    fields: list[dict[str, Any]],
    answers: dict[str, Any],
) -> list[Event]:
    """I15: answers go to the profile; email/phone answers become unverified shared contacts."""
    await update_customer(conn, customer, profile=answers)
    now = utcnow()
    types = {f["key"]: f["type"] for f in fields}
    contacts = [
        {
            "customer_id": customer.id,
            "kind": "email" if types[key] == "email" else "phone",
            "scope": 0,
            "value": value.lower() if types[key] == "email" else value,
            "verified": False,
            "created_at": now,
        }
        for key, value in answers.items()
        if types[key] in ("email", "phone")
    ]
    await upsert(conn, s.contacts, contacts, ["customer_id", "kind", "scope", "value"])
    meta = {**message_meta, "form_answers": answers, "form_answered_at": iso(now)}
    await conn.execute(update(s.messages).where(s.messages.c.id == message_id).values(meta=meta))
    await record_event(conn, customer.id, "form_submitted", {"message_id": message_id, "chat_id": chat_id})
    return [
        Event("message.updated", {"chat_id": chat_id, "message_id": message_id, "form_answered": True}),
        Event("customer.updated", {"customer_id": customer.id}),
    ]
