"""Realtime events for managers: an in-process publish/subscribe bus.

Core operations build :class:`Event`s while they write and publish them *after* their
transaction commits (never announce what may still roll back). ``manager_ids=None`` means
every manager of the channel may see it; otherwise only those managers receive it (a
mention, an assignment). The SSE endpoint subscribes one queue per connected manager.
Several processes on PostgreSQL fan out through LISTEN/NOTIFY: :attr:`EventBus.forward` hands
each published event to ``bridgekit.storage.event_relay``, which delivers the other
processes' events here (:meth:`EventBus.deliver`) and resyncs every stream after a gap.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

QUEUE_LIMIT = 1000
#: What a subscriber that fell more than QUEUE_LIMIT events behind gets instead of them: read
#: everything again (the browser inbox treats it like a reconnection). Never a silent gap.
RESYNC = "stream.resync"


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # e.g. message.created, message.updated, chat.updated, notification.created
    data: dict[str, Any]
    manager_ids: frozenset[int] | None = None
    id: int = field(default=0)


class EventBus:
    def __init__(self) -> None:
        self._subscribers: dict[int, tuple[int, asyncio.Queue[Event]]] = {}
        self._ids = itertools.count(1)
        self._tokens = itertools.count(1)
        #: Where published events also go (the relay to other processes on PostgreSQL).
        self.forward: Callable[[Event], None] | None = None

    def publish(self, event: Event) -> None:
        """An event of this process, after its commit: to the streams here and the relay."""
        self.deliver(event)
        if self.forward is not None:
            self.forward(event)

    def deliver(self, event: Event) -> None:
        """An event to this process's streams only (one relayed from another process)."""
        numbered = Event(event.kind, event.data, event.manager_ids, next(self._ids))
        for manager_id, queue in self._subscribers.values():
            if numbered.manager_ids is not None and manager_id not in numbered.manager_ids:
                continue
            if queue.qsize() >= QUEUE_LIMIT:
                # A stalled client costs no server memory: what it missed is replaced by one
                # order to read everything again.
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(Event(RESYNC, {}, None, numbered.id))
                continue
            queue.put_nowait(numbered)

    def publish_many(self, events: Iterable[Event]) -> None:
        for event in events:
            self.publish(event)

    def resync(self) -> None:
        """Every stream reads everything again: events may have been missed (a lost relay)."""
        marker = Event(RESYNC, {}, None, next(self._ids))
        for _manager_id, queue in self._subscribers.values():
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(marker)

    @property
    def wanted(self) -> bool:
        """Whether anyone would receive a published event (a stream here or the relay)."""
        return bool(self._subscribers) or self.forward is not None

    @asynccontextmanager
    async def subscribe(self, manager_id: int) -> AsyncIterator[asyncio.Queue[Event]]:
        token = next(self._tokens)
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers[token] = (manager_id, queue)
        try:
            yield queue
        finally:
            del self._subscribers[token]

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
