"""The SQLite hot path runs a whole transaction in one go: in the writer thread, or on the
event loop when the process has one CPU (``Database(writer_thread=...)``)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bridgekit.runtime.clock import utcnow
from bridgekit.storage import db as db_module
from bridgekit.storage import schema as s
from bridgekit.storage.db import Database
from bridgekit.storage.onehop import SuspendedError

WRITER = pytest.mark.parametrize("writer_thread", [True, False], ids=["thread", "event-loop"])


def test_the_writer_thread_is_used_only_with_a_second_cpu(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setattr(db_module, "usable_cpus", lambda: 1)
    assert Database(url).writer_thread is False
    monkeypatch.setattr(db_module, "usable_cpus", lambda: 2)
    assert Database(url).writer_thread is True
    assert Database(url, writer_thread=False).writer_thread is False


@WRITER
async def test_write_inline_commits_on_return_and_rolls_back_on_error(
    db_url: str, writer_thread: bool
) -> None:
    db = Database(db_url, writer_thread=writer_thread)
    await db.migrate()
    try:

        async def add(conn) -> int:  # type: ignore[no-untyped-def]
            await conn.execute(s.workspaces.insert().values(name="a", created_at=utcnow()))
            return int(await conn.scalar(select(func.count()).select_from(s.workspaces)))

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
