"""The ``ledger``: charges a plugin records for what is not an outbound send
(``BridgeAPI.record_charge``: a Kakao consultation, billed once per customer and day, K7), and
the monthly usage read from it (F8). Sends are billed by the outbox (``bridgekit_bill``); both
write the one ``ledger``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import MAXYEAR, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, literal, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.exceptions import RequestRefused
from bridgekit.model import Charge
from bridgekit.runtime.clock import as_naive_utc, iso, utcnow
from bridgekit.storage import schema as s

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
#: The months a report may ask for: years before have no ledger, and a zone's offset must not
#: take a bound past what ``datetime`` holds.
_YEARS = range(1970, MAXYEAR)
_MAX_ZONE_NAME = 64  # the longest IANA name is 32 characters


class UsageRefused(RequestRefused):
    """A usage report asked for a month or a time zone that is not one."""


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


@dataclass(frozen=True, slots=True)
class UsageLine:
    """What one integration was charged for one kind of send (``category``) in a month."""

    integration: str | None  # None: the integration was removed since
    channel: str | None
    category: str
    charges: int
    amount_pu: int

    def as_json(self) -> dict[str, Any]:
        return {
            "integration": self.integration,
            "channel": self.channel,
            "category": self.category,
            "charges": self.charges,
            "amount_pu": self.amount_pu,
        }


@dataclass(frozen=True, slots=True)
class MonthlyUsage:
    """A workspace's ledger for one calendar month in one time zone (F8, K7)."""

    month: str  # YYYY-MM
    time_zone: str
    start: datetime  # naive UTC, inclusive
    end: datetime  # naive UTC, exclusive
    lines: tuple[UsageLine, ...]

    @property
    def total_pu(self) -> int:
        return sum(line.amount_pu for line in self.lines)

    @property
    def charges(self) -> int:
        return sum(line.charges for line in self.lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "time_zone": self.time_zone,
            "from": iso(self.start),
            "to": iso(self.end),
            "total_pu": self.total_pu,
            "charges": self.charges,
            "lines": [line.as_json() for line in self.lines],
        }


def month_bounds(month: str | None, time_zone: str | None) -> tuple[str, str, datetime, datetime]:
    """``(month, zone, start, end)``: the calendar month ``YYYY-MM`` in the IANA ``time_zone``
    (UTC when None) as naive UTC times, the month that is running there when ``month`` is None.
    ``UsageRefused`` names what is wrong with either."""
    zone_name = time_zone or "UTC"
    try:
        if len(zone_name) > _MAX_ZONE_NAME:
            raise ValueError(zone_name)
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name no file system takes
        raise UsageRefused(
            f"unknown time zone {zone_name[:60]!r}: use an IANA name such as Asia/Seoul or UTC",
            code="usage_time_zone",
            details={"time_zone": zone_name[:60]},
        ) from None
    if month is None:
        month = datetime.now(zone).strftime("%Y-%m")
    found = _MONTH.fullmatch(month)
    if found is None:
        raise UsageRefused(
            f"month must be YYYY-MM, not {month[:20]!r}", code="usage_month", details={"month": month[:20]}
        )
    year, number = int(found[1]), int(found[2])
    after = (year + 1, 1) if number == 12 else (year, number + 1)
    if not 1 <= number <= 12 or year not in _YEARS:
        raise UsageRefused(
            f"month must be YYYY-MM, not {month!r}", code="usage_month", details={"month": month}
        )

    def utc(y: int, m: int) -> datetime:
        return as_naive_utc(datetime(y, m, 1, tzinfo=zone))

    return month, zone_name, utc(year, number), utc(*after)


async def monthly_usage(
    conn: AsyncConnection, workspace_id: int, month: str | None = None, time_zone: str | None = None
) -> MonthlyUsage:
    """What the workspace's ledger holds for ``month`` (see :func:`month_bounds`): per
    integration and category, how many charges and how many PU. Failed sends are never in it."""
    month, zone, start, end = month_bounds(month, time_zone)
    lg, it = s.ledger, s.integrations
    rows = await conn.execute(
        select(it.c.name, it.c.kind, lg.c.category, func.count(), func.sum(lg.c.amount_pu))
        .select_from(lg.outerjoin(it, it.c.id == lg.c.integration_id))
        .where(lg.c.workspace_id == workspace_id, lg.c.created_at >= start, lg.c.created_at < end)
        .group_by(it.c.name, it.c.kind, lg.c.category)
    )
    lines = sorted(
        (
            UsageLine(name, kind, category, int(count), int(total or 0))
            for name, kind, category, count, total in rows
        ),
        key=lambda line: (line.integration is None, line.integration or "", line.category),
    )
    return MonthlyUsage(month, zone, start, end, tuple(lines))


@dataclass(frozen=True, slots=True)
class ChargeEntry:
    """One row of the ledger: a paid send (its message and chat) or a plugin's charge."""

    id: int
    at: datetime
    integration: str | None
    channel: str | None
    category: str
    description: str
    amount_pu: int
    message_id: int | None
    chat_id: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso(self.at),
            "integration": self.integration,
            "channel": self.channel,
            "category": self.category,
            "description": self.description,
            "amount_pu": self.amount_pu,
            "message_id": self.message_id,
            "chat_id": self.chat_id,
        }


@dataclass(frozen=True, slots=True)
class ChargePage:
    """Some of a month's charges, newest first; the next page is below the last one's id."""

    month: str
    time_zone: str
    entries: list[ChargeEntry]

    def as_json(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "time_zone": self.time_zone,
            "charges": [entry.as_json() for entry in self.entries],
        }


async def month_charges(
    conn: AsyncConnection,
    workspace_id: int,
    month: str | None = None,
    time_zone: str | None = None,
    *,
    before: int | None = None,
    limit: int = 200,
) -> ChargePage:
    """The month's charges one by one (K7: every paid send is in a history), newest first:
    at most ``limit`` of those older than the charge ``before`` (none when it is not one)."""
    month, zone, start, end = month_bounds(month, time_zone)
    lg, it, m = s.ledger, s.integrations, s.messages
    query = (
        select(
            lg.c.id,
            lg.c.created_at,
            it.c.name,
            it.c.kind,
            lg.c.category,
            lg.c.description,
            lg.c.amount_pu,
            lg.c.message_id,
            m.c.chat_id,
        )
        .select_from(lg.outerjoin(it, it.c.id == lg.c.integration_id).outerjoin(m, m.c.id == lg.c.message_id))
        .where(lg.c.workspace_id == workspace_id, lg.c.created_at >= start, lg.c.created_at < end)
        # Newest first by the time, the id breaking ties: the order of the month's index.
        .order_by(lg.c.created_at.desc(), lg.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        # The page after the charge ``before``: older than it, in the same order.
        at = select(lg.c.created_at).where(lg.c.id == before, lg.c.workspace_id == workspace_id)
        found = (await conn.execute(at)).scalar()
        if found is None:
            return ChargePage(month, zone, [])
        query = query.where(tuple_(lg.c.created_at, lg.c.id) < tuple_(literal(found), literal(before)))
    return ChargePage(month, zone, [ChargeEntry(*row) for row in await conn.execute(query)])
