"""One customer known by its verified handles, and two customers merged into one (K5).

A lead a channel created (a Kakao consultation-talk customer, known only by its ``user_key``)
turns out to be a site's member: the site tells bridgekit, and the lead is merged into the
member's customer. Everything that names a customer follows the merge in one transaction:
contacts (one per handle, the kept customer's, verified if either was), chats (moved, not
merged: their thread keys still point at them), customer events and the customer's own
messages; the kept customer keeps its name and profile fields and takes the merged one's
where it has none, and stays a lead only if both were. The merged customer is deleted.
Migration 0011 merges customers that shared a verified handle by the same rules.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.inbox.customers import MAX_PROFILE_KEYS, CustomerError, new_lead
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s

#: A handle: (contact kind, scope (0 = shared, else the integration id), value).
Handle = tuple[str, int, str]


async def customer_for_handle(conn: AsyncConnection, workspace_id: int, handle: Handle) -> int | None:
    """The customer owning the verified ``handle``, or None."""
    ct, cu = s.contacts.c, s.customers.c
    kind, scope, value = handle
    found = (
        await conn.execute(
            select(ct.customer_id)
            .join(s.customers, cu.id == ct.customer_id)
            .where(
                ct.kind == kind,
                ct.scope == scope,
                ct.value == value,
                ct.verified.is_(True),
                cu.workspace_id == workspace_id,
            )
        )
    ).scalar()
    return None if found is None else int(found)


async def add_handle(
    conn: AsyncConnection,
    workspace_id: int,
    handle: Handle,
    *,
    customer_id: int | None,
    name: str | None = None,
    member: bool = False,
) -> int:
    """Give ``customer_id`` (a new customer when None) the verified ``handle``; returns the
    handle's owner, which is another customer when the handle had one already (insert-or-get:
    nothing is moved, merging is the caller's decision). ``member``: the owner is marked a
    member (not a lead)."""
    owner = await customer_for_handle(conn, workspace_id, handle)
    now = utcnow()
    if owner is None and customer_id is None:
        owner, _contact = await new_lead(conn, workspace_id, name, handle, True, now)
    elif owner is None:
        await _customer(conn, workspace_id, int(customer_id or 0))
        kind, scope, value = handle
        ct = s.contacts
        # The customer may hold the handle unverified (an address typed into a form).
        await conn.execute(
            delete(ct).where(
                ct.c.customer_id == customer_id, ct.c.kind == kind, ct.c.scope == scope, ct.c.value == value
            )
        )
        await conn.execute(
            ct.insert().values(
                customer_id=customer_id, kind=kind, scope=scope, value=value, verified=True, created_at=now
            )
        )
        owner = int(customer_id or 0)
    if member:
        values: dict[str, Any] = {"is_lead": False, "updated_at": now}
        row = await _customer(conn, workspace_id, owner)
        if name and not row.name:
            values["name"] = name
        await conn.execute(update(s.customers).where(s.customers.c.id == owner).values(**values))
    return owner


async def merge_customers(conn: AsyncConnection, workspace_id: int, keep_id: int, merge_id: int) -> None:
    """Merge customer ``merge_id`` into ``keep_id`` (module docstring); ``CustomerError`` 404
    for a customer not found, 409 for a customer merged with itself."""
    if keep_id == merge_id:
        raise CustomerError(f"customer {keep_id} cannot be merged with itself", status=409)
    keep = await _customer(conn, workspace_id, keep_id)
    gone = await _customer(conn, workspace_id, merge_id)
    ct = s.contacts
    kept_handles = {
        (r.kind, r.scope, r.value): r
        for r in await conn.execute(
            select(ct.c.id, ct.c.kind, ct.c.scope, ct.c.value, ct.c.verified).where(
                ct.c.customer_id == keep_id
            )
        )
    }
    moving = await conn.execute(
        select(ct.c.id, ct.c.kind, ct.c.scope, ct.c.value, ct.c.verified).where(ct.c.customer_id == merge_id)
    )
    for row in moving.all():
        twin = kept_handles.get((row.kind, row.scope, row.value))
        if twin is None:
            continue
        # One contact per handle: the kept customer's. Its chats talk through the kept one,
        # which is verified if either was (the dropped one goes first: one verified owner).
        await conn.execute(update(s.chats).where(s.chats.c.contact_id == row.id).values(contact_id=twin.id))
        await conn.execute(delete(ct).where(ct.c.id == row.id))
        if row.verified and not twin.verified:
            await conn.execute(update(ct).where(ct.c.id == twin.id).values(verified=True))
    await conn.execute(update(ct).where(ct.c.customer_id == merge_id).values(customer_id=keep_id))
    await conn.execute(update(s.chats).where(s.chats.c.customer_id == merge_id).values(customer_id=keep_id))
    ev = s.customer_events
    await conn.execute(update(ev).where(ev.c.customer_id == merge_id).values(customer_id=keep_id))
    m = s.messages
    await conn.execute(
        update(m).where(m.c.author_kind == "customer", m.c.author_id == merge_id).values(author_id=keep_id)
    )
    profile = {**dict(gone.profile or {}), **dict(keep.profile or {})}
    if len(profile) > MAX_PROFILE_KEYS:  # the kept customer's fields first
        profile = dict(keep.profile or {})
    await conn.execute(
        update(s.customers)
        .where(s.customers.c.id == keep_id)
        .values(
            name=keep.name or gone.name,
            is_lead=bool(keep.is_lead) and bool(gone.is_lead),
            profile=profile,
            updated_at=utcnow(),
        )
    )
    await conn.execute(delete(s.customers).where(s.customers.c.id == merge_id))


async def _customer(conn: AsyncConnection, workspace_id: int, customer_id: int) -> Any:
    cu = s.customers
    row = (
        await conn.execute(
            select(cu.c.id, cu.c.name, cu.c.is_lead, cu.c.profile).where(
                cu.c.id == customer_id, cu.c.workspace_id == workspace_id
            )
        )
    ).one_or_none()
    if row is None:
        raise CustomerError(f"no customer {customer_id}", status=404)
    return row
