"""SQLite WAL checkpoints off the write path.

SQLite's automatic checkpoint runs inside the ``COMMIT`` that takes the write-ahead log past
1,000 pages, and with ``synchronous=NORMAL`` it syncs the database file right there. Under
webhook load that was one group commit in about fifteen, stalled for 5-10 ms, and with it
the acknowledgement of every delivery waiting on that commit (``bench/line_ingest.py``).

So the writer connections turn the automatic checkpoint off (``wal_autocheckpoint=0``) and a
:class:`Checkpointer` thread runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection a
moment after commits. A passive checkpoint never blocks the writer or the readers, so a
commit no longer waits for a sync, and the log is still copied back and reused as before.
SQLite documents this split (https://www.sqlite.org/wal.html, "Application-Initiated
Checkpoints").

Under sustained load that alone never lets the log start over: SQLite rewinds it only when a
write transaction begins with every frame already copied, and commits land while a
background pass copies. The log then grew by every commit (216 MB in 8 s of the LINE
benchmark), and appending to a file costs twice what overwriting does (ext4 allocates the
blocks). So the writer calls :meth:`Checkpointer.catch_up` between its transactions: once
after each background pass it copies the few frames committed meanwhile (a millisecond),
its next transaction finds the log fully copied, and SQLite starts it over from the top.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("bridgekit.db")

#: How long commits may gather before a checkpoint copies them: fewer, larger checkpoints.
#: A page changed by many commits in that time (an index leaf of a busy chat, the chats
#: rows) is copied once: at 1 s instead of 0.1 s the checkpoints of the LINE benchmark read
#: and wrote 40% fewer pages (strace), and synced ten times less often. The log grows by
#: what one second of commits writes (~12 MB at 5,000 webhooks/s) before it is copied.
CHECKPOINT_DELAY = 1.0


class Checkpointer:
    """A daemon thread that checkpoints one SQLite database file when poked."""

    def __init__(self, path: str, delay: float = CHECKPOINT_DELAY) -> None:
        self.path = path
        self.delay = delay
        self.checkpoints = 0  # completed passes, for tests and curiosity
        self.caught_up = 0  # catch-up passes the writer ran
        self._caught_up_after = 0  # the background pass the last catch-up followed
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()  # commits poke from the loop's and the writers' threads

    def poke(self) -> None:
        """Note a commit: a checkpoint follows within ``delay``. Cheap enough for every commit."""
        if not self._wake.is_set():
            if self._thread is None:
                self._start()
            self._wake.set()

    def catch_up(self, writer: sqlite3.Connection) -> None:
        """From the writer, between transactions: after a background pass, copy what was
        committed during it, so the next transaction can start the log over (module doc)."""
        done = self.checkpoints
        if done == self._caught_up_after:
            return
        self._caught_up_after = done
        try:
            writer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.caught_up += 1
        except sqlite3.Error:
            log.exception("WAL catch-up checkpoint of %s failed", self.path)

    def _start(self) -> None:
        with self._starting:
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="bridgekit-sqlite-checkpoint", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Run a last checkpoint and end the thread."""
        if self._thread is None:
            return
        with self._starting:
            self._stopping.set()
        self._wake.set()
        self._thread.join()
        self._thread = None

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            log.exception("no WAL checkpoints for %s: cannot open it", self.path)
            return
        try:
            conn.execute("PRAGMA busy_timeout=10000")
            while True:
                self._wake.wait()
                # Let more commits land first: one pass then copies them all.
                self._stopping.wait(self.delay)
                self._wake.clear()
                self._checkpoint(conn)
                if self._stopping.is_set():
                    return
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except sqlite3.Error:
            # The next poke tries again; a failed checkpoint only lets the log grow meanwhile.
            log.exception("WAL checkpoint of %s failed", self.path)
