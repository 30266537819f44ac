"""What the ingest writer last read about handles and thread keys, kept between group commits.

Every group commit resolves each message's customer (by its handles, ``contacts``) and its
chat (by its thread keys, ``chat_keys``). Under webhook load the same few handles and keys
come back in every batch, and the two look-ups were about a tenth of the commit.

A cache of database rows is only as good as its invalidation. This one is exact and cheap
because it relies on SQLite itself:

* SQLite has one writer at a time, and the ingest writer holds the write lock (``BEGIN
  IMMEDIATE``) for the whole batch, so nothing changes under it while it reads and writes;
* ``PRAGMA data_version`` on the writer's connection changes whenever *any other*
  connection (the API's, another process's) has committed since the connection last looked
  (https://www.sqlite.org/pragma.html#pragma_data_version). The ingest writer's own
  connection commits only ingest batches (``Database.inline_commits`` counts them, in case
  that ever changes).

So at the start of each batch: if anything but this cache's own batches committed since the
last one, everything is dropped. Within its own batches the writer knows what it changed:
after the commit, every handle it added contacts for, every key it pointed at a chat and every
chat whose state it changed is dropped, to be read again the next time. The cache never
guesses a row it did not read, and a batch that rolls back leaves it untouched.

The same token keeps the next free id of ``raw_deliveries`` and ``messages``, which inside a
batch only the writer's own inserts touch: after a batch, the next one starts after its
last id, as the two ``max(id)`` queries would have said.

The same token also keeps which chats are *settled*: marked as having a customer message, with
no tag and no read marker. For those, the group commit's per-batch statements for the sidebar
counts, the tag view and read markers would change nothing, so they are skipped (a tag or a
read is another connection's commit, which drops the whole cache).

PostgreSQL has many concurrent writers and no such version: there, nothing is cached.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

#: A handle: (contact kind, scope (0 = shared, else integration id), value).
Handle = tuple[str, int, str]
#: One contact row of a handle: (contact id, customer id, verified, customer is a lead).
ContactRow = tuple[int, int, bool, bool]
#: A thread key: (integration id, key).
ThreadKey = tuple[int, str]
#: What a key points at: (chat id, customer id), or None for no chat yet.
KeyTarget = tuple[int, int] | None
#: Whose commits the cache has seen: (data_version, writer connections opened, inline commits).
Token = tuple[int, int, int]

#: Entries kept across all maps; past it the cache starts over (simple and always correct).
MAX_ENTRIES = 100_000


@dataclass(slots=True)
class BatchRoutes:
    """What one batch read from the database and what it changed, applied after its commit."""

    handles: dict[Handle, tuple[ContactRow, ...]] = field(default_factory=dict)
    keys: dict[ThreadKey, KeyTarget] = field(default_factory=dict)
    chat_states: dict[int, str] = field(default_factory=dict)
    changed_handles: set[Handle] = field(default_factory=set)
    changed_keys: set[ThreadKey] = field(default_factory=set)
    changed_chats: set[int] = field(default_factory=set)
    next_ids: dict[str, int] = field(default_factory=dict)  # table -> its next free id
    settled: set[int] = field(default_factory=set)  # see RoutingCache.settled


class RoutingCache:
    """Handles -> contact rows, thread keys -> chats, chats -> state (see the module doc)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self.handles: dict[Handle, tuple[ContactRow, ...]] = {}
        self.keys: dict[ThreadKey, KeyTarget] = {}
        self.chat_states: dict[int, str] = {}
        self.next_ids: dict[str, int] = {}
        # Chats marked ``has_inbound`` with no tag and no read marker: a batch's message makes
        # no count, tag-view or read-marker change there, so its statements for those skip them.
        self.settled: set[int] = set()
        self.token: Token | None = None

    def usable(self, token: Token | None) -> bool:
        """Whether the cached rows are still the database's, as of ``token`` (read inside the
        batch's write transaction). Drops everything when they may not be."""
        if token is not None and token == self.token:
            return True
        self.clear()
        return token is not None

    def clear(self) -> None:
        self.handles.clear()
        self.keys.clear()
        self.chat_states.clear()
        self.next_ids.clear()
        self.settled.clear()
        self.token = None

    def chat_of(self, key: ThreadKey) -> tuple[bool, KeyTarget, str | None]:
        """(known, target, state): a key is known with its target's chat state, or not at all."""
        if key not in self.keys:
            return False, None, None
        target = self.keys[key]
        if target is None:
            return True, None, None
        state = self.chat_states.get(target[0])
        return (state is not None), target, state

    def committed(self, batch: BatchRoutes, token: Token) -> None:
        """Take in what a committed batch read, minus what it changed."""
        size = len(self.handles) + len(self.keys) + len(self.chat_states) + len(self.settled)
        added = len(batch.handles) + len(batch.keys) + len(batch.chat_states) + len(batch.settled)
        if size + added > self.max_entries:
            self.clear()
        self.handles.update(batch.handles)
        self.keys.update(batch.keys)
        self.chat_states.update(batch.chat_states)
        self.next_ids.update(batch.next_ids)
        self.settled.update(batch.settled)
        _drop(self.handles, batch.changed_handles)
        _drop(self.keys, batch.changed_keys)
        _drop(self.chat_states, batch.changed_chats)
        self.settled.difference_update(batch.changed_chats)
        self.token = token


def _drop(mapping: dict[K, V], keys: Iterable[K]) -> None:
    for key in keys:
        mapping.pop(key, None)
