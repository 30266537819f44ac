"""The profile cache: bounded in size and age, with a shorter life for remembered failures."""

from __future__ import annotations

import pytest

from bridgekit.channelkit import TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_their_ttl() -> None:
    clock = Clock()
    cache: TTLCache[str, str | None] = TTLCache(100, ttl=3600, clock=clock)
    cache.set("mina", "Mina Kim")
    cache.set("ghost", None, ttl=60)  # a failed look-up, retried after a minute
    assert cache.get("mina") == (True, "Mina Kim")
    assert cache.get("ghost") == (True, None)  # a remembered failure is a hit, not a miss
    clock.now += 61
    assert cache.get("ghost") == (False, None)
    assert "mina" in cache
    clock.now += 3600
    assert cache.get("mina") == (False, None)
    assert "mina" not in cache


def test_size_is_bounded_and_the_least_recently_used_goes_first() -> None:
    clock = Clock()
    cache: TTLCache[int, int] = TTLCache(3, ttl=3600, clock=clock)
    for key in (1, 2, 3):
        cache.set(key, key * 10)
    assert cache.get(1) == (True, 10)  # 1 is now the most recently used
    cache.set(4, 40)
    assert len(cache) == 3
    assert cache.get(2) == (False, None)
    assert [cache.get(k)[0] for k in (1, 3, 4)] == [True, True, True]


def test_an_expired_entry_makes_room_before_a_live_one_is_dropped() -> None:
    clock = Clock()
    cache: TTLCache[str, str] = TTLCache(2, ttl=3600, clock=clock)
    cache.set("live", "a")
    cache.set("brief", "b", ttl=1)
    clock.now += 2
    cache.set("new", "c")
    assert cache.get("live") == (True, "a")
    assert cache.get("new") == (True, "c")


def test_a_cache_without_room_is_refused() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        TTLCache(0, ttl=1)
