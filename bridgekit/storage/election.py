"""Which of the processes sharing one database runs the once-only background loops.

On PostgreSQL the elected process holds a session advisory lock on a connection of its own.
The lock lives exactly as long as that connection: when the holder dies (SIGKILL, a lost
host) PostgreSQL ends its session and frees the lock, and the next process that asks takes it
over (within ``recheck`` seconds; a machine that vanishes without closing its connections is
noticed by PostgreSQL's TCP keepalives, docs/deploy.md). The holder checks its connection every ``recheck``
seconds; a connection that fails means the lock may be gone, so it stops being elected at once.
A lone SQLite process is always elected (SQLite has one writer process anyway).

Election is for efficiency and order, not the only guard: work whose repetition would be
visible still claims its rows in the transaction that does it (the flow worker deletes its
events before applying their actions), so a process that still believes itself elected
for a moment after losing its connection cannot apply anything twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bridgekit.storage.db import ENGINE_OPTIONS, Database

log = logging.getLogger("bridgekit.election")

RECHECK_SECONDS = 1.0
# A look that takes longer is a lost connection: stop being elected rather than wait on it.
LOOK_TIMEOUT = 5.0


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name`` (PostgreSQL's bigint)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


class Election:
    """``await held()``: whether this process is elected now (cheap to ask on every pass)."""

    def __init__(
        self, db: Database, name: str = "bridgekit.background", recheck: float = RECHECK_SECONDS
    ) -> None:
        self.db = db
        self.name = name
        self.key = lock_key(name)
        self.recheck = recheck
        self._engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None
        self._holding = db.is_sqlite
        self._checked_at = float("-inf")
        self._checking = asyncio.Lock()  # the loops asking at once share one look

    async def held(self) -> bool:
        if self.db.is_sqlite:
            return True
        if time.monotonic() - self._checked_at < self.recheck:
            return self._holding
        async with self._checking:
            if time.monotonic() - self._checked_at >= self.recheck:
                await self._check()
            return self._holding

    async def _check(self) -> None:
        self._checked_at = time.monotonic()
        try:
            async with asyncio.timeout(LOOK_TIMEOUT):
                if self._holding:
                    await self._ping()
                else:
                    await self._try_take()
        except Exception as exc:  # the connection (and with it the lock) is gone
            if self._holding:
                log.warning("lost the election %s (%s): another process takes over", self.name, exc)
            self._holding = False
            await self._close()

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            if self._engine is None:
                self._engine = create_async_engine(
                    self.db.sqlalchemy_url, poolclass=NullPool, isolation_level="AUTOCOMMIT", **ENGINE_OPTIONS
                )
            self._conn = await self._engine.connect()
        return self._conn

    async def _ping(self) -> None:
        conn = await self._connection()
        await conn.execute(text("SELECT 1"))

    async def _try_take(self) -> None:
        conn = await self._connection()
        taken = (await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})).scalar()
        self._holding = bool(taken)
        if self._holding:
            log.info("elected for %s", self.name)

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                async with asyncio.timeout(LOOK_TIMEOUT):
                    await conn.close()
            except Exception:
                log.debug("closing the election connection failed", exc_info=True)

    async def resign(self) -> None:
        """Give the lock up (stopping): another process takes over without waiting."""
        self._holding = self.db.is_sqlite
        await self._close()
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
