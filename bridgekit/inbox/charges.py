"""Charges a plugin records for what is not an outbound send (``BridgeAPI.record_charge``:
a Kakao consultation, billed once per customer and day, K7). Sends are billed by the outbox
(``bridgekit_bill``); both write the one ``ledger``."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.model import Charge
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s


async def record_charge_once(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    integration_id: int,
    charge: Charge,
    message_id: int | None,
) -> bool:
    """Write ``charge`` to the ledger unless the integration already has one with the same
    description (the description names what is charged: who, and for which window); True
    when written. On PostgreSQL a transaction-scoped advisory lock on that pair serialises
    concurrent writers; SQLite has a single writer already."""
    lg = s.ledger
    if conn.dialect.name == "postgresql":
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"ledger:{integration_id}:{charge.description}"},
        )
    found = (
        await conn.execute(
            select(func.count())
            .select_from(lg)
            .where(lg.c.integration_id == integration_id, lg.c.description == charge.description)
        )
    ).scalar()
    if found:
        return False
    await conn.execute(
        lg.insert().values(
            workspace_id=workspace_id,
            integration_id=integration_id,
            message_id=message_id,
            amount_pu=charge.amount_pu,
            category=charge.category,
            description=charge.description,
            created_at=utcnow(),
        )
    )
    return True
