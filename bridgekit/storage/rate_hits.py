"""The rate limits' storage: the ``limits`` package's moving window, kept in the database.

Every process of an install (``serve --workers N``, several machines on one PostgreSQL)
counts against the same budget, and a restart forgets nothing. A hit is a row of
``rate_hits`` kept for its rate's window; on PostgreSQL a transaction-scoped advisory lock on
the key makes "count, then add" one step across processes (SQLite has one writer already).
Keys are stored as their SHA-256: they hold what a client sent (an email address, its
address), which may be anything, NUL included, and is nobody's business in a table.
"""

from __future__ import annotations

import hashlib
import time

from limits.aio.storage import MovingWindowSupport, Storage
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.storage import schema as s
from bridgekit.storage.db import Database

#: How often a process deletes the hits of keys nobody used since (every key's own old hits
#: go whenever it is counted again).
SWEEP_SECONDS = 600.0


class DatabaseRateStorage(Storage, MovingWindowSupport):
    """A ``limits`` storage for :class:`~limits.aio.strategies.MovingWindowRateLimiter` only."""

    STORAGE_SCHEME = None  # not made from a URI: constructed with the bridge's database

    def __init__(self, database: Database, longest_window: float, sweep_every: float = SWEEP_SECONDS) -> None:
        """``longest_window``: seconds, the longest window of the rates counted here; older
        hits count for nothing and are swept every ``sweep_every`` seconds."""
        super().__init__()
        self.database = database
        self.longest_window = longest_window
        self.sweep_every = sweep_every
        self._swept_at = time.time()

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return DBAPIError

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        key = _stored(key)
        now = time.time()
        sweep = now - self._swept_at >= self.sweep_every
        if sweep:
            self._swept_at = now
        hits = s.rate_hits

        async def acquire(conn: AsyncConnection) -> bool:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"rate:{key}"}
                )
            if sweep:
                await conn.execute(delete(hits).where(hits.c.at <= now - self.longest_window))
            await conn.execute(delete(hits).where(hits.c.key == key, hits.c.at <= now - expiry))
            used = (await conn.execute(select(func.count()).where(hits.c.key == key))).scalar_one()
            if used + amount > limit:
                return False
            await conn.execute(insert(hits), [{"key": key, "at": now}] * amount)
            return True

        return await self.database.write_short(acquire)

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        key = _stored(key)
        now = time.time()
        hits = s.rate_hits
        row = await self.database.read_first(
            select(func.min(hits.c.at), func.count()).where(hits.c.key == key, hits.c.at > now - expiry)
        )
        oldest, used = tuple(row) if row is not None else (None, 0)
        return (now, 0) if oldest is None else (float(oldest), int(used))

    # The fixed-window part of the interface; the moving window does not use it.

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("rate_hits keeps a moving window only")

    async def get(self, key: str) -> int:
        raise NotImplementedError("rate_hits keeps a moving window only")

    async def get_expiry(self, key: str) -> float:
        raise NotImplementedError("rate_hits keeps a moving window only")

    async def check(self) -> bool:
        return True  # the database's health is /ready's

    async def reset(self) -> int | None:
        async def wipe(conn: AsyncConnection) -> int:
            return (await conn.execute(delete(s.rate_hits))).rowcount

        return await self.database.write_short(wipe)

    async def clear(self, key: str) -> None:
        async def forget(conn: AsyncConnection) -> None:
            await conn.execute(delete(s.rate_hits).where(s.rate_hits.c.key == _stored(key)))

        await self.database.write_short(forget)


def _stored(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
