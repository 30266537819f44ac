"""A small bounded cache with a time-to-live, for LINE profile look-ups.

Bounded in both size (least recently used entries go first) and age, so a busy bot neither
grows memory without limit nor shows a display name the customer changed long ago.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Map keys to values for at most ``ttl`` seconds, keeping at most ``maxsize`` entries."""

    def __init__(self, maxsize: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.ttl = ttl
        self._clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> tuple[bool, V | None]:
        """Return ``(True, value)`` for a fresh entry, ``(False, None)`` otherwise."""
        item = self._data.get(key)
        if item is None:
            return False, None
        expires, value = item
        if expires <= self._clock():
            del self._data[key]
            return False, None
        self._data.move_to_end(key)
        return True, value

    def set(self, key: K, value: V, ttl: float | None = None) -> None:
        self._data[key] = (self._clock() + (self.ttl if ttl is None else ttl), value)
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return self.get(key)[0]  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self._data)
