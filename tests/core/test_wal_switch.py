"""Several processes opening one new SQLite file at once all start, in WAL mode.

Switching a new file to WAL takes an exclusive lock without SQLite's busy handler: before
bridgekit retried it, one of three ``serve`` processes started together on a new database
failed with "database is locked" (CI, tests/core/test_election.py), and so could a plugin's
LocalStore opened by several workers.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from sqlalchemy import text

from bridgekit.channelkit import LocalStore
from bridgekit.storage.db import Database

OPENERS = 12


class _Notes(LocalStore):
    SCHEMA = "CREATE TABLE IF NOT EXISTS notes (body TEXT)"


def _journal_mode(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


def test_workers_opening_a_new_plugin_store_at_once_all_open_it(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def open_store(path: Path, start: threading.Barrier) -> None:
        start.wait()
        try:
            _Notes(path).close()
        except BaseException as error:  # collected for the assertion
            errors.append(error)

    for trial in range(60):
        path = tmp_path / f"store{trial}.db"
        start = threading.Barrier(OPENERS)
        threads = [threading.Thread(target=open_store, args=(path, start)) for _ in range(OPENERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert _journal_mode(path) == "wal"


async def test_bridges_opening_a_new_database_at_once_all_connect(tmp_path: Path) -> None:
    for trial in range(30):
        path = tmp_path / f"bridgekit{trial}.db"
        databases = [Database(f"sqlite:///{path}", writer_thread=False) for _ in range(OPENERS)]

        async def first_read(db: Database) -> int:
            async with db.read() as conn:
                return int((await conn.execute(text("SELECT 1"))).scalar_one())

        try:
            assert await asyncio.gather(*(first_read(db) for db in databases)) == [1] * OPENERS
        finally:
            for db in databases:
                await db.dispose()
        assert _journal_mode(path) == "wal"
