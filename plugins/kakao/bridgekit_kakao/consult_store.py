"""What the consultation-talk channel remembers of Kakao's sessions, in SQLite under
``<data_dir>/kakao/``: which session a chat is in, which sessions were ended, and which
customer's consultation window was billed (the ledger keeps a charge once by its description,
which names the customer; after a lead merged into a member, this says the member's window is
paid)."""

from __future__ import annotations

from datetime import UTC, datetime

from bridgekit.channelkit import LocalStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS consult_sessions (
    integration TEXT NOT NULL, session_id TEXT NOT NULL, user_key TEXT NOT NULL,
    chat_id INTEGER, ended_at TEXT, PRIMARY KEY (integration, session_id));
CREATE INDEX IF NOT EXISTS consult_sessions_chat ON consult_sessions (integration, chat_id);
CREATE TABLE IF NOT EXISTS consult_billed (
    integration TEXT NOT NULL, customer_id INTEGER NOT NULL, day TEXT NOT NULL,
    PRIMARY KEY (integration, customer_id, day));
"""


class SessionStore(LocalStore):
    """Small synchronous writes; one connection, one lock."""

    SCHEMA = SCHEMA

    def seen(self, integration: str, session_id: str, user_key: str, chat_id: int | None = None) -> None:
        """The session exists (a customer's message came in it), in ``chat_id`` when known."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO consult_sessions (integration, session_id, user_key, chat_id) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (integration, session_id) DO UPDATE SET "
                "chat_id = COALESCE(excluded.chat_id, consult_sessions.chat_id)",
                (integration, session_id, user_key, chat_id),
            )

    def end(self, integration: str, session_id: str, user_key: str) -> None:
        now = datetime.now(UTC).isoformat()
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO consult_sessions (integration, session_id, user_key, ended_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (integration, session_id) DO UPDATE SET "
                "ended_at = COALESCE(consult_sessions.ended_at, excluded.ended_at)",
                (integration, session_id, user_key, now),
            )

    def ended(self, integration: str, session_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT ended_at FROM consult_sessions WHERE integration = ? AND session_id = ?",
                (integration, session_id),
            ).fetchone()
        return row is not None and row[0] is not None

    def latest_for_chat(self, integration: str, chat_id: int) -> tuple[str, str, bool] | None:
        """The chat's latest session: ``(session_id, user_key, ended)``."""
        with self._lock:
            row = self._db.execute(
                "SELECT session_id, user_key, ended_at FROM consult_sessions "
                "WHERE integration = ? AND chat_id = ? ORDER BY rowid DESC LIMIT 1",
                (integration, chat_id),
            ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]), row[2] is not None)

    def billed(self, integration: str, customer_id: int, day: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM consult_billed WHERE integration = ? AND customer_id = ? AND day = ?",
                (integration, customer_id, day),
            ).fetchone()
        return row is not None

    def mark_billed(self, integration: str, customer_id: int, day: str) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO consult_billed VALUES (?, ?, ?)", (integration, customer_id, day)
            )

    def move_customer(self, from_id: int, to_id: int) -> None:
        """Customer ``from_id`` was merged into ``to_id`` (K5): the windows it paid are paid."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO consult_billed SELECT integration, ?, day FROM consult_billed "
                "WHERE customer_id = ?",
                (to_id, from_id),
            )
            self._db.execute("DELETE FROM consult_billed WHERE customer_id = ?", (from_id,))
