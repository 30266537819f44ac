"""A bounded cache with a time-to-live per entry, for provider look-ups (profiles...).

Bounded in both size and age, so a busy bot neither grows memory without limit nor shows a
display name the customer changed long ago. Each entry may have its own time-to-live, so
a failed look-up can be remembered briefly (not to hammer a failing API) and a good one
for long. Built on ``cachetools.TLRUCache``: expired entries go first, then the least
recently used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import cachetools

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    ttl: float


def _expires(_key: object, entry: _Entry[Any], now: float) -> float:
    return now + entry.ttl


class TTLCache(Generic[K, V]):
    """Map keys to values for at most ``ttl`` seconds (or the entry's own), keeping at most
    ``maxsize`` entries. ``clock`` is monotonic seconds (tests pass their own)."""

    def __init__(self, maxsize: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.ttl = ttl
        self._data: cachetools.TLRUCache[K, _Entry[V]] = cachetools.TLRUCache(
            maxsize=maxsize, ttu=_expires, timer=clock
        )

    def get(self, key: K) -> tuple[bool, V | None]:
        """``(True, value)`` for a fresh entry, ``(False, None)`` for a missing or expired one.

        The flag tells a cached ``None`` (a remembered failure) from a miss.
        """
        entry = self._data.get(key)
        if entry is None:
            return False, None
        return True, entry.value

    def set(self, key: K, value: V, ttl: float | None = None) -> None:
        """Remember ``value`` for ``ttl`` seconds (default: the cache's ``ttl``)."""
        self._data[key] = _Entry(value, self.ttl if ttl is None else ttl)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        """Entries held, including expired ones not yet dropped (at most ``maxsize``)."""
        return len(self._data)
