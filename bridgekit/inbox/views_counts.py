"""The sidebar's maintained counts: read, and folded, from ``chat_counts``.

Database triggers (migration 0010) add a +1/-1 row per figure in the transaction that changes
a chat, a tag, a star or a follower; a figure is the sum of its rows. Reading the sidebar sums
a few hundred rows whatever the number of chats. :class:`CountCompactor` folds the rows of
each key into one, so the sum stays short under a steady stream of changes.

One exception on SQLite: a new chat is counted by its writer (:func:`count_new_chats`, the
ingest group commit once per batch and ``inbox/chats.start_chat``), not by a trigger
(migration 0016).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import func, not_, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.runtime.workers import BackgroundWorker
from bridgekit.storage import schema as s
from bridgekit.storage.db import Database

cc = s.chat_counts.c
# Figures kept per manager (key = the manager's id): only the asking manager's are read.
PER_MANAGER = ("star", "follow", "follow_free", "read_inbound", "read_unread")
COMPACT_EVERY = 2.0  # seconds

log = logging.getLogger("bridgekit.counts")


@dataclass(slots=True)
class Counts:
    """One workspace's figures, with one manager's per-manager ones: kind -> key -> count."""

    by_kind: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))

    def total(self, kind: str) -> int:
        return sum(self.by_kind.get(kind, {}).values())

    def get(self, kind: str, key: str = "") -> int:
        return self.by_kind.get(kind, {}).get(key, 0)

    def ids(self, kind: str) -> dict[int | None, int]:
        """A figure per id (teams, managers, integrations); the key '' is None."""
        return {int(k) if k else None: n for k, n in self.by_kind.get(kind, {}).items()}


async def read_counts(conn: AsyncConnection, workspace_id: int, manager_id: int) -> Counts:
    """Every figure of the workspace with one manager's own; keys with no chat left out."""
    total = func.sum(cc.n)
    rows = await conn.execute(
        select(cc.kind, cc.key, total)
        .where(
            cc.workspace_id == workspace_id,
            or_(not_(cc.kind.in_(PER_MANAGER)), cc.key == str(manager_id)),
        )
        .group_by(cc.kind, cc.key)
        .having(total != 0)
        .order_by(cc.kind, cc.key)  # tags in the database's order, as the tag list shows them
    )
    counts = Counts()
    for kind, key, n in rows:
        counts.by_kind[str(kind)][str(key)] = int(n)
    return counts


class NewChat(NamedTuple):
    """The columns of a chat being inserted that its figures depend on."""

    workspace_id: int
    state: str
    integration_id: int | None
    assignee_id: int | None
    team_id: int | None
    has_inbound: bool


CountRow = tuple[int, str, str, int]  # (workspace_id, kind, key, n): a row of chat_counts
COUNT_COLUMNS = ("workspace_id", "kind", "key", "n")


def _key(value: int | None) -> str:
    return "" if value is None else str(value)


def new_chat_counts(chats: Mapping[NewChat, int]) -> list[CountRow]:
    """What inserting chats adds to the figures, one row per key; ``chats`` says how many of
    each kind were inserted. The rules of migration 0010's ``chat_inserted`` trigger (a new
    chat has no tag, star, follower or marker yet)."""
    counts: Counter[tuple[int, str, str]] = Counter()
    for chat, n in chats.items():
        workspace = chat.workspace_id
        if chat.state == "open":
            counts[(workspace, "open", "")] += n
            if chat.has_inbound:
                counts[(workspace, "inbound", "")] += n
            counts[(workspace, "integration", _key(chat.integration_id))] += n
            if chat.assignee_id is not None:
                counts[(workspace, "assignee", str(chat.assignee_id))] += n
            else:
                counts[(workspace, "unassigned", _key(chat.team_id))] += n
        elif chat.state == "queued":
            counts[(workspace, "queued", _key(chat.team_id))] += n
    return [(*key, n) for key, n in counts.items()]


def writers_count_new_chats(dialect: str) -> bool:
    """Whether a chat's writer counts it: on SQLite, where no trigger does (migration 0016);
    on PostgreSQL ``chat_counts_chat_insert`` does."""
    return dialect == "sqlite"


async def count_new_chats(conn: AsyncConnection, chats: Iterable[NewChat]) -> None:
    """Count chats just inserted in ``conn``'s transaction, where the writer counts them
    (:func:`writers_count_new_chats`)."""
    if not writers_count_new_chats(conn.dialect.name):
        return
    rows = new_chat_counts(Counter(chats))
    if rows:
        await conn.execute(
            s.chat_counts.insert(), [dict(zip(COUNT_COLUMNS, row, strict=True)) for row in rows]
        )


_GROUPS_TO_FOLD = """
    SELECT workspace_id, kind, key FROM chat_counts {where}
    GROUP BY workspace_id, kind, key HAVING COUNT(*) > 1 OR SUM(n) = 0
"""
_FOLD_POSTGRESQL = text(
    f"""
    WITH folded AS (
        DELETE FROM chat_counts WHERE (workspace_id, kind, key) IN ({_GROUPS_TO_FOLD.format(where="")})
        RETURNING workspace_id, kind, key, n
    )
    INSERT INTO chat_counts (workspace_id, kind, key, n)
    SELECT workspace_id, kind, key, SUM(n) FROM folded
    GROUP BY workspace_id, kind, key HAVING SUM(n) <> 0
    """
)
_UP_TO = "WHERE id <= :last"
_FOLD_SQLITE = (
    text(
        "INSERT INTO chat_counts (workspace_id, kind, key, n)"
        f" SELECT workspace_id, kind, key, SUM(n) FROM chat_counts {_UP_TO}"
        " GROUP BY workspace_id, kind, key HAVING COUNT(*) > 1 AND SUM(n) <> 0"
    ),
    text(
        f"DELETE FROM chat_counts {_UP_TO} AND (workspace_id, kind, key) IN"
        f" ({_GROUPS_TO_FOLD.format(where=_UP_TO)})"
    ),
)


async def fold_counts(conn: AsyncConnection) -> None:
    """Replace the rows of every key that has several by one row with their sum (none when
    it is 0), in the caller's write transaction.

    On PostgreSQL one statement: the rows summed are exactly the rows it deleted (RETURNING),
    so a row committed meanwhile is neither lost nor counted twice. SQLite has one writer:
    the sums go in as new rows (ids above ``last``), then the rows up to ``last`` go."""
    if conn.dialect.name == "postgresql":
        await conn.execute(_FOLD_POSTGRESQL)
        return
    last = (await conn.execute(select(func.max(cc.id)))).scalar()
    if last is not None:
        for statement in _FOLD_SQLITE:
            await conn.execute(statement, {"last": last})


class CountCompactor(BackgroundWorker):
    """Folds ``chat_counts`` every few seconds (cheap when nothing changed); with several
    processes on one database, only the elected one (two folds at once would only wait on
    each other's row locks)."""

    name = "count-compactor"

    def __init__(
        self,
        db: Database,
        interval: float = COMPACT_EVERY,
        elected: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        super().__init__(interval, elected)
        self.db = db
        self._seen: int | None = None  # the highest row id at the last fold

    async def run_once(self) -> int:
        async with self.db.read() as conn:
            last = (await conn.execute(select(func.max(cc.id)))).scalar()
        if last != self._seen:  # no write transaction while nothing changed
            async with self.db.write() as conn:
                await fold_counts(conn)
            self._seen = last
        return 0  # then sleep for the interval
