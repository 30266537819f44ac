"""The plugin's own small state, in SQLite under ``<data_dir>/sms/``: opt-outs, night-time
consents, and each send's provider, type and segment count (NHN's results are polled)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bridgekit.channelkit import LocalStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS opt_outs (phone TEXT PRIMARY KEY, keyword TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS night_consents (phone TEXT PRIMARY KEY, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sends (
    provider_id TEXT PRIMARY KEY, integration TEXT NOT NULL, message_id INTEGER NOT NULL,
    provider TEXT NOT NULL, kind TEXT NOT NULL, encoding TEXT NOT NULL, segments INTEGER NOT NULL,
    status TEXT NOT NULL, reason TEXT, at TEXT NOT NULL, key TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS sends_key ON sends (key);
CREATE TABLE IF NOT EXISTS texts (key TEXT PRIMARY KEY, result TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sends_pending ON sends (provider, status);
CREATE INDEX IF NOT EXISTS sends_message ON sends (message_id);
"""
INSERT_SEND = "INSERT OR REPLACE INTO sends VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
COLUMNS = "provider_id, integration, message_id, provider, kind, encoding, segments, status, reason"
_BEFORE_SEND = (
    "SELECT o.keyword, o.at, "
    + ", ".join(f"s.{c.strip()}" for c in COLUMNS.split(","))
    + " FROM (SELECT 1) LEFT JOIN opt_outs o ON o.phone = ? LEFT JOIN sends s ON s.key = ?"
)


@dataclass(frozen=True, slots=True)
class Send:
    provider_id: str
    integration: str
    message_id: int
    provider: str
    kind: str
    encoding: str
    segments: int
    status: str
    reason: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Store(LocalStore):
    """Small writes (a primary-key upsert each; the sends of one turn of the event loop
    together); one connection, one lock."""

    SCHEMA = SCHEMA
    PRAGMAS = ("synchronous=NORMAL",)

    def __init__(self, path: Path | None = None) -> None:
        super().__init__(path)
        self._unrecorded: list[tuple[tuple[object, ...], asyncio.Future[None]]] = []

    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        with self._lock, self._db:
            self._db.execute(sql, args)

    # opt-outs
    def opt_out(self, phone: str, keyword: str) -> None:
        self._write("INSERT OR REPLACE INTO opt_outs VALUES (?, ?, ?)", (phone, keyword, _now()))

    def opt_in(self, phone: str) -> None:
        self._write("DELETE FROM opt_outs WHERE phone = ?", (phone,))

    def opted_out(self, phone: str) -> tuple[str, str] | None:
        with self._lock:
            row = self._db.execute("SELECT keyword, at FROM opt_outs WHERE phone = ?", (phone,)).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    # night-time consent for advertising
    def set_night_consent(self, phone: str, consent: bool) -> None:
        if consent:
            self._write("INSERT OR REPLACE INTO night_consents VALUES (?, ?)", (phone, _now()))
        else:
            self._write("DELETE FROM night_consents WHERE phone = ?", (phone,))

    def night_consent(self, phone: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM night_consents WHERE phone = ?", (phone,)).fetchone()
        return row is not None

    # texts sent outside chats (bridgekit_send_text), by idempotency key
    def text_result(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT result FROM texts WHERE key = ?", (key,)).fetchone()
        found = json.loads(row[0]) if row else None
        return found if isinstance(found, dict) else None

    def record_text(self, key: str, result: Mapping[str, Any]) -> None:
        self._write("INSERT OR REPLACE INTO texts VALUES (?, ?, ?)", (key, json.dumps(result), _now()))

    # sends
    async def record_send(self, send: Send, key: str | None = None) -> None:
        """Record a send the provider accepted; ``key`` (the message's idempotency key) lets a
        later attempt of the same message find it instead of sending again. Returns once
        committed: the sends recorded in the same turn of the event loop share one transaction
        (a commit of its own cost each send more than its HTTP request)."""
        row = (
            send.provider_id,
            send.integration,
            send.message_id,
            send.provider,
            send.kind,
            send.encoding,
            send.segments,
            send.status,
            send.reason,
            _now(),
            key,
        )
        loop = asyncio.get_running_loop()
        committed = loop.create_future()
        if not self._unrecorded:
            loop.call_soon(self._commit_sends)
        self._unrecorded.append((row, committed))
        # Not shielded: a sender cancelled meanwhile cancels only its wait; its row stays in
        # the batch and is committed all the same (``_commit_sends`` skips a future that is
        # done). A shield cost a second future and two callbacks a send.
        await committed

    def _commit_sends(self) -> None:
        batch, self._unrecorded = self._unrecorded, []
        outcomes: list[Exception | None] = [None] * len(batch)
        try:
            with self._lock, self._db:
                self._db.executemany(INSERT_SEND, [row for row, _ in batch])
        except Exception:
            for i, (row, _) in enumerate(batch):  # one bad row must not cost the others theirs
                try:
                    self._write(INSERT_SEND, row)
                except Exception as exc:
                    outcomes[i] = exc
        for (_, committed), failure in zip(batch, outcomes, strict=True):
            if committed.done():
                continue
            if failure is None:
                committed.set_result(None)
            else:
                committed.set_exception(failure)

    def update_send(self, provider_id: str, status: str, reason: str | None) -> None:
        self._write(
            "UPDATE sends SET status = ?, reason = ? WHERE provider_id = ?", (status, reason, provider_id)
        )

    def pending(self, provider: str, integration: str, limit: int = 100) -> list[Send]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {COLUMNS} FROM sends"
                " WHERE provider = ? AND integration = ? AND status = 'sent' LIMIT ?",
                (provider, integration, limit),
            ).fetchall()
        return [Send(*row) for row in rows]

    def before_send(self, phone: str, key: str) -> tuple[tuple[str, str] | None, Send | None]:
        """:meth:`opted_out` for ``phone`` and the send recorded under ``key`` (by an earlier
        attempt), in one statement: each SQLite call lets the other threads take the GIL."""
        with self._lock:
            row = self._db.execute(_BEFORE_SEND, (phone, key)).fetchone()
        opted = (str(row[0]), str(row[1])) if row[0] is not None else None
        return opted, (Send(*row[2:]) if row[2] is not None else None)

    def sends_of(self, message_id: int) -> list[Send]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {COLUMNS} FROM sends WHERE message_id = ?",
                (message_id,),
            ).fetchall()
        return [Send(*row) for row in rows]
