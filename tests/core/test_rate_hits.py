"""The rate limits' moving window in the database (storage/rate_hits.py)."""

from __future__ import annotations

import time

from sqlalchemy import insert, select

from bridgekit.storage import schema as s
from bridgekit.storage.db import Database
from bridgekit.storage.rate_hits import DatabaseRateStorage


async def test_a_full_window_refuses_and_old_hits_of_forgotten_keys_are_swept(db_url: str) -> None:
    db = Database(db_url)
    await db.migrate()
    try:
        storage = DatabaseRateStorage(db, longest_window=60, sweep_every=0)
        assert [await storage.acquire_entry("guess/10.0.0.1", 2, 60) for _ in range(3)] == [True, True, False]
        started, used = await storage.get_moving_window("guess/10.0.0.1", 2, 60)
        assert used == 2
        assert time.time() - 5 < started <= time.time()
        assert (await storage.get_moving_window("guess/10.0.0.2", 2, 60))[1] == 0  # another key

        forgotten = "f" * 64
        async with db.write() as conn:  # a key nobody counts any more, with an hour-old hit
            await conn.execute(insert(s.rate_hits), [{"key": forgotten, "at": time.time() - 3600}])
        assert await storage.acquire_entry("guess/10.0.0.3", 2, 60)  # the next count sweeps
        async with db.read() as conn:
            keys = (await conn.execute(select(s.rate_hits.c.key))).scalars().all()
        assert forgotten not in keys
        assert len(keys) == 3
        await storage.clear("guess/10.0.0.1")
        assert (await storage.get_moving_window("guess/10.0.0.1", 2, 60))[1] == 0
        assert await storage.acquire_entry("guess/10.0.0.1", 2, 60)  # cleared: counting anew
    finally:
        await db.dispose()
