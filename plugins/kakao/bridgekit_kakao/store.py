"""The plugin's own state, in SQLite under ``<data_dir>/kakao/``: each Alimtalk integration's
templates with their review state, as last synced from NHN Cloud."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from bridgekit.channelkit import LocalStore

from bridgekit_kakao.templates import Template, TemplateState

SCHEMA = """
CREATE TABLE IF NOT EXISTS templates (
    integration TEXT NOT NULL, code TEXT NOT NULL, name TEXT NOT NULL, content TEXT NOT NULL,
    state TEXT NOT NULL, nhn_status TEXT NOT NULL, synced_at TEXT NOT NULL,
    PRIMARY KEY (integration, code));
"""


class Store(LocalStore):
    """Small synchronous writes; one connection, one lock."""

    SCHEMA = SCHEMA

    def templates(self, integration: str) -> list[Template]:
        with self._lock:
            rows = self._db.execute(
                "SELECT code, name, content, state, nhn_status FROM templates WHERE integration = ? "
                "ORDER BY code",
                (integration,),
            ).fetchall()
        return [Template(r[0], r[1], r[2], TemplateState(r[3]), r[4]) for r in rows]

    def template(self, integration: str, code: str) -> Template | None:
        return next((t for t in self.templates(integration) if t.code == code), None)

    def replace_templates(self, integration: str, listed: Iterable[Template]) -> None:
        """What NHN listed now; a template it no longer lists is kept as deleted."""
        now = datetime.now(UTC).isoformat()
        rows = [(integration, t.code, t.name, t.content, t.state.value, t.nhn_status, now) for t in listed]
        with self._lock, self._db:
            self._db.execute(
                "UPDATE templates SET state = ?, synced_at = ? WHERE integration = ?",
                (TemplateState.DELETED.value, now, integration),
            )
            self._db.executemany("INSERT OR REPLACE INTO templates VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
