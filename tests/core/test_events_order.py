"""A chat's numbered events reach the streams in number order (issue 17: commit order per chat
across processes on PostgreSQL): ``EventBus`` with ``ChatOrder``, no database needed."""

from __future__ import annotations

import asyncio

import pytest

from bridgekit.runtime import events as events_module
from bridgekit.runtime.events import CHAT_SEQ, RESYNC, Event, EventBus


def numbered(chat_id: int, seq: int, kind: str = "chat.updated", **data: object) -> Event:
    return Event(kind, {"chat_id": chat_id, CHAT_SEQ: seq, **data})


def drain(queue: asyncio.Queue[Event]) -> list[tuple[str, int | None]]:
    """What the stream got: (kind, number) in order."""
    got = []
    while not queue.empty():
        event = queue.get_nowait()
        got.append((event.kind, event.data.get(CHAT_SEQ)))
    return got


@pytest.fixture
def short_hold(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(events_module, "HOLD_SECONDS", 0.05)
    return 0.05


async def test_events_that_arrive_out_of_order_reach_the_stream_in_commit_order() -> None:
    bus = EventBus()
    async with bus.subscribe(1) as queue:
        bus.deliver(numbered(7, 4))  # the first seen sets where chat 7 starts
        bus.deliver(numbered(7, 6, "message.updated"))  # 5 is still on its way
        bus.deliver(numbered(7, 7))
        assert drain(queue) == [("chat.updated", 4)]
        assert bus.order.holding == 2
        bus.deliver(numbered(7, 5, "message.created"))
        bus.deliver(numbered(7, 5, "chat.updated"))  # the rest of group 5, in the same turn
        await asyncio.sleep(0)
        assert drain(queue) == [
            ("message.created", 5),
            ("chat.updated", 5),
            ("message.updated", 6),
            ("chat.updated", 7),
        ]
    assert bus.order.holding == 0
    assert bus.resyncs == 0


async def test_a_group_of_one_number_goes_out_whole_and_in_its_order() -> None:
    bus = EventBus()
    async with bus.subscribe(1) as queue:
        bus.deliver(numbered(3, 1, "message.created"))
        bus.deliver(numbered(3, 3, "message.created"))
        bus.deliver(numbered(3, 3, "chat.updated"))
        bus.deliver(numbered(3, 2, "message.updated"))
        await asyncio.sleep(0)
        assert drain(queue) == [
            ("message.created", 1),
            ("message.updated", 2),
            ("message.created", 3),
            ("chat.updated", 3),
        ]
        assert bus.order.holding == 0


async def test_chats_wait_only_for_their_own_missing_events() -> None:
    bus = EventBus()
    async with bus.subscribe(1) as queue:
        bus.deliver(numbered(1, 10))
        bus.deliver(numbered(1, 12))  # held: 11 missing
        bus.deliver(numbered(2, 5))
        bus.deliver(numbered(2, 6))
        bus.deliver(Event("customer.updated", {"customer_id": 9}))  # not about a chat: at once
        assert drain(queue) == [
            ("chat.updated", 10),
            ("chat.updated", 5),
            ("chat.updated", 6),
            ("customer.updated", None),
        ]
        bus.deliver(numbered(1, 11))
        await asyncio.sleep(0)
        assert drain(queue) == [("chat.updated", 11), ("chat.updated", 12)]


async def test_a_real_gap_is_released_after_the_bound_with_a_resync(short_hold: float) -> None:
    bus = EventBus()
    async with bus.subscribe(1) as queue:
        bus.deliver(numbered(7, 1))
        bus.deliver(numbered(7, 3))  # 2 never comes (its process died after committing)
        bus.deliver(numbered(7, 4))
        assert drain(queue) == [("chat.updated", 1)]
        await asyncio.sleep(short_hold * 4)
        # What waited went out in order, then the order to read everything again (which
        # replaces what the stream had not read yet: it reads everything anyway).
        assert drain(queue) == [(RESYNC, None)]
        assert bus.order.holding == 0
        # 2 turns up late after all: the resync already covered it, so it is dropped quietly.
        bus.deliver(numbered(7, 2))
        assert drain(queue) == []
        assert bus.resyncs == 1
        bus.deliver(numbered(7, 5))  # and the chat goes on from 4
        assert drain(queue) == [("chat.updated", 5)]


async def test_nothing_is_held_longer_than_the_bound(short_hold: float) -> None:
    bus = EventBus()
    released: list[int] = []
    async with bus.subscribe(1) as queue:
        for chat_id in range(1, 51):
            bus.deliver(numbered(chat_id, 1))
            bus.deliver(numbered(chat_id, 3))
        assert bus.order.holding == 50
        bus.resync = lambda why="": released.append(bus.order.holding)  # type: ignore[method-assign]
        await asyncio.sleep(short_hold * 4)
        assert bus.order.holding == 0
        assert len(released) == 50  # one release per chat, each after its events went out
        got = drain(queue)
        assert got.count(("chat.updated", 3)) == 50


async def test_an_event_older_than_the_first_one_seen_makes_the_streams_resync() -> None:
    """A process that has not seen a chat yet takes its first event as the start; an earlier
    one arriving after it cannot be put before it any more, so the streams read again."""
    bus = EventBus()
    async with bus.subscribe(1) as queue:
        bus.deliver(numbered(7, 9))
        assert drain(queue) == [("chat.updated", 9)]
        bus.deliver(numbered(7, 8))
        assert drain(queue) == [(RESYNC, None)]
        assert bus.resyncs == 1
        bus.deliver(numbered(7, 10))
        assert drain(queue) == [("chat.updated", 10)]


async def test_memory_stays_bounded_least_recently_active_chats_are_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events_module, "MAX_CHATS", 100)
    bus = EventBus()
    async with bus.subscribe(1) as queue:
        bus.deliver(numbered(1, 1))
        bus.deliver(numbered(1, 3))  # held when chat 1 is forgotten: released, not lost
        for chat_id in range(2, 1002):
            bus.deliver(numbered(chat_id, 1))
        assert len(bus.order._chats) == 100
        assert drain(queue)[0] == (RESYNC, None)  # chat 1's 3 went out, then the resync
        assert bus.order.holding == 0
        bus.deliver(numbered(1, 2))  # forgotten: a new start, not a stale event
        assert drain(queue) == [("chat.updated", 2)]


async def test_unnumbered_events_go_out_at_once_as_on_sqlite() -> None:
    bus = EventBus()
    async with bus.subscribe(1) as queue:
        for n in (3, 1, 2):
            bus.deliver(Event("chat.updated", {"chat_id": 7, "n": n}))
        assert [queue.get_nowait().data["n"] for _ in range(3)] == [3, 1, 2]


async def test_the_next_group_waits_behind_its_own_held_events() -> None:
    """Whatever splits a group, its events keep their order: the part that arrives after a
    held part goes out after it."""
    bus = EventBus()
    async with bus.subscribe(1) as queue:
        bus.deliver(numbered(7, 1))
        bus.deliver(numbered(7, 3, "message.created"))  # held: 2 missing
        bus.deliver(numbered(7, 2))  # 2 goes out; 3 is drained after this turn ...
        bus.deliver(numbered(7, 3, "chat.updated"))  # ... and the rest of 3 behind it
        await asyncio.sleep(0)
        assert drain(queue) == [
            ("chat.updated", 1),
            ("chat.updated", 2),
            ("message.created", 3),
            ("chat.updated", 3),
        ]
        assert bus.order.holding == 0


async def test_with_no_stream_open_nothing_is_held_and_a_later_stream_starts_from_its_events() -> None:
    bus = EventBus()
    bus.deliver(numbered(7, 4))
    bus.deliver(numbered(7, 6))  # would wait for 5 if anyone were streaming
    assert bus.order.holding == 0
    async with bus.subscribe(1) as queue:
        bus.deliver(numbered(7, 9))  # the first this stream sees sets where chat 7 starts
        bus.deliver(numbered(7, 10))
        assert drain(queue) == [("chat.updated", 9), ("chat.updated", 10)]
    assert bus.resyncs == 0
