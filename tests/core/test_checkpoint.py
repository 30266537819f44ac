"""SQLite checkpoints run on their own thread, never inside a writer's commit."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.storage.db import Database

ROWS = 600
BLOB = 8192  # 600 x 8 KiB: well past the 1,000-page automatic checkpoint threshold


async def _fill(db: Database) -> None:
    async def work(conn: AsyncConnection) -> None:
        await conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, data BLOB)")
        for _ in range(ROWS):
            await conn.exec_driver_sql("INSERT INTO filler (data) VALUES (randomblob(8192))")

    await db.write_inline(work)


def _poll(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


async def _wait_for(condition: Callable[[], bool]) -> None:
    await asyncio.to_thread(_poll, condition)


def _size(path: Path) -> int:
    return os.path.getsize(path)


async def test_commits_leave_the_checkpoint_to_the_background_thread(tmp_path: Path) -> None:
    path = tmp_path / "bridgekit.db"
    db = Database(f"sqlite:///{path}")
    try:
        assert db.checkpointer is not None
        db.checkpointer.delay = 0.5  # long enough to look at the file before it runs
        await _fill(db)
        # The commit wrote ~4.8 MB to the log and none of it to the database file: the
        # automatic checkpoint, which would sync inside the commit, is off for writers.
        assert _size(path) < ROWS * BLOB / 10
        assert _size(Path(f"{path}-wal")) > ROWS * BLOB
        checkpointer = db.checkpointer
        await _wait_for(lambda: checkpointer.checkpoints >= 1)
        await _wait_for(lambda: _size(path) > ROWS * BLOB)
        async with db.read() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM filler"))).scalar() == ROWS
    finally:
        await db.dispose()


async def test_the_aiosqlite_writer_commits_poke_it_too(tmp_path: Path) -> None:
    path = tmp_path / "bridgekit.db"
    db = Database(f"sqlite:///{path}")
    try:
        async with db.write() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)"))
            await conn.execute(text("INSERT INTO t (data) VALUES (randomblob(1000000))"))
            autocheckpoint = (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar()
        assert autocheckpoint == 0
        checkpointer = db.checkpointer
        assert checkpointer is not None
        await _wait_for(lambda: checkpointer.checkpoints >= 1)
        assert _size(path) > 1_000_000
    finally:
        await db.dispose()


async def test_dispose_ends_the_thread_after_a_last_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "bridgekit.db"
    db = Database(f"sqlite:///{path}")
    checkpointer = db.checkpointer
    assert checkpointer is not None
    checkpointer.delay = 60  # only the stop can make it run now
    await _fill(db)
    await db.dispose()
    assert checkpointer._thread is None
    assert checkpointer.checkpoints == 1
    assert _size(path) > ROWS * BLOB


async def test_under_sustained_writes_the_log_starts_over_instead_of_growing(tmp_path: Path) -> None:
    """SQLite rewinds the log only when a write begins with everything copied; commits that
    land during every background pass would prevent that forever (and appending costs twice
    what overwriting does). The writer's catch-up after each pass makes it happen."""
    path = tmp_path / "bridgekit.db"
    db = Database(f"sqlite:///{path}", writer_thread=False)
    commits, blob = 1500, 16384  # ~24 MB through the log, in a steady stream
    try:
        checkpointer = db.checkpointer
        assert checkpointer is not None
        checkpointer.delay = 0.005

        async def one(conn: AsyncConnection) -> None:
            await conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, data BLOB)")
            await conn.exec_driver_sql(f"INSERT INTO t (data) VALUES (randomblob({blob}))")

        for n in range(commits):
            await db.write_inline(one)
            if n % 50 == 0:
                await asyncio.sleep(0.001)  # the background pass gets its turns, commits keep coming
        assert checkpointer.checkpoints >= 2
        assert checkpointer.caught_up >= 2
        # The log kept being reused: far smaller than what went through it.
        assert _size(Path(f"{path}-wal")) < commits * blob / 4
        async with db.read() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == commits
    finally:
        await db.dispose()
