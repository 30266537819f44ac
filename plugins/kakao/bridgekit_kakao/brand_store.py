"""Which customers are friends of a brand integration's Kakao channel, in SQLite under
``<data_dir>/kakao/brand.sqlite3``. Learned two ways (README, "Brand messages"): a customer
event reported through ``PUT /api/v1/kakao_brand/friends`` (the site or a bot relaying
Kakao's channel added/blocked event), and NHN's result of every brand message
(``isAddedChannel``). The newest word wins; ``source`` says whose it was."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bridgekit.channelkit import LocalStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS brand_friends (
    integration TEXT NOT NULL, customer_id INTEGER NOT NULL, friend INTEGER NOT NULL,
    source TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (integration, customer_id));
"""


@dataclass(frozen=True, slots=True)
class FriendState:
    friend: bool
    source: str  # "event" (reported to bridgekit) or "nhn" (a brand message's result)
    updated_at: str


class BrandStore(LocalStore):
    """Small synchronous writes; one connection, one lock."""

    SCHEMA = SCHEMA

    def friend(self, integration: str, customer_id: int) -> FriendState | None:
        with self._lock:
            row = self._db.execute(
                "SELECT friend, source, updated_at FROM brand_friends "
                "WHERE integration = ? AND customer_id = ?",
                (integration, customer_id),
            ).fetchone()
        return FriendState(bool(row[0]), row[1], row[2]) if row else None

    def set_friend(self, integration: str, customer_id: int, friend: bool, source: str) -> FriendState:
        now = datetime.now(UTC).isoformat()
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO brand_friends VALUES (?, ?, ?, ?, ?)",
                (integration, customer_id, int(friend), source, now),
            )
        return FriendState(friend, source, now)

    def move_customer(self, from_id: int, to_id: int) -> None:
        """Customer ``from_id`` was merged into ``to_id``: its friendships follow, the newer
        word winning where both have one."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO brand_friends "
                "SELECT integration, ?, friend, source, updated_at FROM brand_friends f "
                "WHERE customer_id = ? AND NOT EXISTS (SELECT 1 FROM brand_friends k "
                "WHERE k.integration = f.integration AND k.customer_id = ? AND k.updated_at >= f.updated_at)",
                (to_id, from_id, to_id),
            )
            self._db.execute("DELETE FROM brand_friends WHERE customer_id = ?", (from_id,))
