"""A plugin's own small SQLite file: state the core's tables do not hold (an SMS send's
exactly-once record, Kakao templates, links, sessions, friendships).

One connection and one lock per store: writes are small and synchronous, so a store is called
straight from async code. ``path=None`` keeps it in memory (unit tests without a bridge).
The file lives under the bridge's data directory and is per process: under ``serve --workers
N`` on one machine the workers share it (WAL, ``busy_timeout``), on several machines they do
not (docs/deploy.md).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import ClassVar

from bridgekit.storage.wal import switch_to_wal


class LocalStore:
    """Subclasses set ``SCHEMA`` (``CREATE TABLE IF NOT EXISTS ...``) and may add ``PRAGMAS``."""

    SCHEMA: ClassVar[str] = ""
    PRAGMAS: ClassVar[tuple[str, ...]] = ()
    #: How long a write waits for another process's (milliseconds).
    BUSY_TIMEOUT_MS: ClassVar[int] = 5000

    def __init__(self, path: Path | None = None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        self._db.execute(f"PRAGMA busy_timeout={self.BUSY_TIMEOUT_MS}")
        switch_to_wal(self._db.cursor())
        for pragma in self.PRAGMAS:
            self._db.execute(f"PRAGMA {pragma}")
        self._db.executescript(self.SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()
