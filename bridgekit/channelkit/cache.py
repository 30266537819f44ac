"""A bounded cache with a time-to-live per entry, for provider look-ups (profiles...).

Bounded in both size and age, so a busy bot neither grows memory without limit nor shows a
display name the customer changed long ago. Each entry may have its own time-to-live, so
a failed look-up can be remembered briefly (not to hammer a failing API) and a good one
for long. When full, expired entries go first, then the least recently used.

Hand-written on an ``OrderedDict`` rather than ``cachetools.TLRUCache``: a hit is read on
every inbound message, and the library's hit cost 1 us against 0.25 us here (the LINE
ingest benchmark).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar, cast

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Map keys to values for at most ``ttl`` seconds (or the entry's own), keeping at most
    ``maxsize`` entries. ``clock`` is monotonic seconds (tests pass their own)."""

    def __init__(self, maxsize: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.ttl = ttl
        self._clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()  # least recently used first
        self._no_expiry_before = float("inf")  # no entry expires before this: skip the scan

    def get(self, key: K) -> tuple[bool, V | None]:
        """``(True, value)`` for a fresh entry, ``(False, None)`` for a missing or expired one.

        The flag tells a cached ``None`` (a remembered failure) from a miss.
        """
        item = self._data.get(key)
        if item is None:
            return False, None
        if item[0] <= self._clock():
            del self._data[key]
            return False, None
        self._data.move_to_end(key)
        return True, item[1]

    def set(self, key: K, value: V, ttl: float | None = None) -> None:
        """Remember ``value`` for ``ttl`` seconds (default: the cache's ``ttl``)."""
        now = self._clock()
        expires = now + (self.ttl if ttl is None else ttl)
        self._data[key] = (expires, value)
        self._data.move_to_end(key)
        if len(self._data) > self.maxsize:
            self._make_room(now)
        self._no_expiry_before = min(self._no_expiry_before, expires)

    def _make_room(self, now: float) -> None:
        if now >= self._no_expiry_before:  # something may have expired: drop every such entry
            expired = [k for k, (expires, _) in self._data.items() if expires <= now]
            for k in expired:
                del self._data[k]
            self._no_expiry_before = min((e for e, _ in self._data.values()), default=float("inf"))
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        item = self._data.get(cast(K, key))
        return item is not None and item[0] > self._clock()

    def __len__(self) -> int:
        """Entries held, including expired ones not yet dropped (at most ``maxsize``)."""
        return len(self._data)
