"""SQLite's write-ahead log, switched on for every database file bridgekit opens.

Switching a new file to WAL takes an exclusive lock, and SQLite does not call the busy
handler for it: several processes (or connections) opening one new file at once get
"database is locked" at once, whatever the busy timeout. The mode is kept in the file, so
only the first switch can collide; it is retried here for a bounded time.
"""

from __future__ import annotations

from typing import Any

from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random_exponential

# How long a connection keeps trying to switch a new file to WAL before it gives up.
SWITCH_SECONDS = 10.0


def _is_locked(error: BaseException) -> bool:
    return "database is locked" in str(error)


def switch_to_wal(cursor: Any) -> None:
    """Put the database of ``cursor`` (a DB-API cursor on SQLite) in WAL mode, if it is not."""
    for attempt in Retrying(
        retry=retry_if_exception(_is_locked),
        stop=stop_after_delay(SWITCH_SECONDS),
        wait=wait_random_exponential(multiplier=0.005, max=0.1),
        reraise=True,
    ):
        with attempt:
            cursor.execute("PRAGMA journal_mode")
            if cursor.fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.fetchall()
