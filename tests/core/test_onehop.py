"""The SQLite hot path runs a whole transaction in one go: in the writer thread, or on the
event loop when the process has one CPU (``Database(writer_thread=...)``)."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bridgekit.runtime.clock import utcnow
from bridgekit.storage import db as db_module
from bridgekit.storage import schema as s
from bridgekit.storage.db import Database, is_busy
from bridgekit.storage.onehop import SuspendedError

WRITER = pytest.mark.parametrize("writer_thread", [True, False], ids=["thread", "event-loop"])


def test_the_writer_thread_is_used_only_with_a_second_cpu(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setattr(db_module, "usable_cpus", lambda: 1)
    assert Database(url).writer_thread is False
    monkeypatch.setattr(db_module, "usable_cpus", lambda: 2)
    assert Database(url).writer_thread is True
    assert Database(url, writer_thread=False).writer_thread is False


async def add(conn) -> int:  # type: ignore[no-untyped-def]
    """Add a workspace; how many there are now."""
    await conn.execute(s.workspaces.insert().values(name="a", created_at=utcnow()))
    return int(await conn.scalar(select(func.count()).select_from(s.workspaces)))


@WRITER
async def test_write_inline_commits_on_return_and_rolls_back_on_error(
    db_url: str, writer_thread: bool
) -> None:
    db = Database(db_url, writer_thread=writer_thread)
    await db.migrate()
    try:
        assert await db.write_inline(add) == 1

        async def fail(conn) -> None:  # type: ignore[no-untyped-def]
            await conn.execute(s.workspaces.insert().values(name="b", created_at=utcnow()))
            raise ValueError("boom")

        with pytest.raises(ValueError, match="boom"):
            await db.write_inline(fail)
        async with db.read() as conn:
            assert await conn.scalar(select(func.count()).select_from(s.workspaces)) == 1
    finally:
        await db.dispose()


class _Yield:
    def __await__(self):  # type: ignore[no-untyped-def]
        yield None


@WRITER
async def test_code_that_waits_on_the_event_loop_is_refused_on_sqlite(tmp_path, writer_thread: bool) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", writer_thread=writer_thread)
    await db.migrate()
    try:

        async def sleeps(conn) -> None:  # type: ignore[no-untyped-def]
            await asyncio.sleep(0.01)

        # Refused either way: no loop runs in the writer thread, and drive() catches the
        # suspension on the event loop; a bare yield is caught in both.
        with pytest.raises(RuntimeError):
            await db.write_inline(sleeps)

        async def yields(conn) -> None:  # type: ignore[no-untyped-def]
            await _Yield()

        with pytest.raises(SuspendedError):
            await db.write_inline(yields)
    finally:
        await db.dispose()


async def test_a_unit_on_the_loop_does_not_wait_for_another_process_lock(tmp_path) -> None:
    """The outbox's units run on the event loop even beside the writer thread (``on_loop``).
    While another process holds SQLite's write lock such a unit gives up at once, with an
    error ``is_busy`` recognises (the outbox then writes the ordinary way), instead of
    freezing the event loop for the busy timeout; the writer thread still waits its turn."""
    path = tmp_path / "x.db"
    db = Database(f"sqlite+aiosqlite:///{path}", writer_thread=True)
    await db.migrate()
    other = sqlite3.connect(path, isolation_level=None)  # another process's connection

    try:
        other.execute("BEGIN IMMEDIATE")
        started = time.perf_counter()
        with pytest.raises((OperationalError, sqlite3.OperationalError)) as refused:
            await db.write_inline(add, on_loop=True)
        assert is_busy(refused.value)
        assert time.perf_counter() - started < db.ingest_busy_timeout / 2
        # The writer thread waits for the lock (its busy timeout is back): released meanwhile.
        asyncio.get_running_loop().call_later(0.2, other.execute, "COMMIT")
        assert await db.write_inline(add) == 1
        assert await db.write_inline(add, on_loop=True) == 2
    finally:
        other.close()
        await db.dispose()


async def test_a_short_write_runs_again_the_ordinary_way_while_another_process_writes(tmp_path) -> None:
    """``write_short`` (the outbox's units, a manager's reply) runs on the event loop; while
    another process holds SQLite's write lock it does not freeze the loop waiting, and is not
    lost: it runs again on the ordinary writer, which waits for the lock off the loop."""
    path = tmp_path / "x.db"
    db = Database(f"sqlite+aiosqlite:///{path}", writer_thread=True)
    await db.migrate()
    other = sqlite3.connect(path, isolation_level=None)  # another process's connection

    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(ticking())
    try:
        assert await db.write_short(add) == 1
        other.execute("BEGIN IMMEDIATE")
        asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
        assert await db.write_short(add) == 2  # after the other process's commit
        assert ticks >= 10  # the loop went on meanwhile
    finally:
        ticker.cancel()
        other.close()
        await db.dispose()


async def test_a_short_read_sees_every_commit_and_does_not_wait_for_a_writer(tmp_path) -> None:
    """``read_short`` (every API request's token, a chat) reads on the event loop: it sees
    what was committed last, by this process or another, and a writer holding the lock with
    uncommitted rows neither blocks it nor shows it those rows."""
    path = tmp_path / "x.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.migrate()
    other = sqlite3.connect(path, isolation_level=None)

    async def count(conn) -> int:  # type: ignore[no-untyped-def]
        return int(await conn.scalar(select(func.count()).select_from(s.workspaces)))

    try:
        assert await db.read_short(count) == 0
        async with db.write() as conn:
            await conn.execute(s.workspaces.insert().values(name="a", created_at=utcnow()))
        assert await db.read_short(count) == 1
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO workspaces (name, created_at) VALUES ('b', '2026-01-01 00:00:00')")
        started = time.perf_counter()
        assert await db.read_short(count) == 1
        assert time.perf_counter() - started < 0.5
        other.execute("COMMIT")
        assert await db.read_short(count) == 2
    finally:
        other.close()
        await db.dispose()
