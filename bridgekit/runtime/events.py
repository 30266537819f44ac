"""Realtime events for managers: an in-process publish/subscribe bus.

Core operations build :class:`Event`s while they write and publish them *after* their
transaction commits (never announce what may still roll back). ``manager_ids=None`` means
every manager of the channel may see it; otherwise only those managers receive it (a
mention, an assignment). The SSE endpoint subscribes one queue per connected manager.
Several processes on PostgreSQL fan out through LISTEN/NOTIFY: :attr:`EventBus.forward` hands
each published event to ``bridgekit.storage.event_relay``, which delivers the other
processes' events here (:meth:`EventBus.deliver`) and resyncs every stream after a gap.

**Commit order per chat** (PostgreSQL): an event about a chat carries ``data["chat_seq"]``,
the chat's ``event_seq`` its transaction set under the chat's row lock
(``bridgekit.storage.event_seq``), so one chat's numbers follow commit order whichever
process committed. :class:`ChatOrder` delivers each chat's events in that order, holding one
that comes early for at most :data:`HOLD_SECONDS`. SQLite's events carry no number and go out
at once.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from bridgekit.runtime.metrics import Metrics

log = logging.getLogger("bridgekit.events")

QUEUE_LIMIT = 1000
#: What a subscriber that fell more than QUEUE_LIMIT events behind gets instead of them: read
#: everything again (the browser inbox treats it like a reconnection). Never a silent gap.
RESYNC = "stream.resync"
#: The key of an event's number within its chat (``data``), on PostgreSQL.
CHAT_SEQ = "chat_seq"
# Module constants so tests can shrink them.
#: How long a chat's event that came before an earlier one of the same chat waits for it. The
#: earlier one is on its way from another process (a NOTIFY: milliseconds), or lost (its
#: process died between commit and send): then what waited goes out and the streams resync.
HOLD_SECONDS = 0.4
#: Chats whose last number is remembered; the least recently active are forgotten beyond it.
MAX_CHATS = 20_000


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # e.g. message.created, message.updated, chat.updated, notification.created
    data: dict[str, Any]
    manager_ids: frozenset[int] | None = None
    id: int = field(default=0)


def chat_seq(event: Event) -> tuple[int, int] | None:
    """``(chat id, number)`` of an event that carries its chat's number, else None."""
    seq = event.data.get(CHAT_SEQ)
    chat_id = event.data.get("chat_id")
    if type(seq) is int and type(chat_id) is int:
        return chat_id, seq
    return None


@dataclass(slots=True)
class _ChatState:
    last: int  # the number of the chat's latest group delivered
    resyncs: int  # the bus's resync count when it was delivered
    held: dict[int, list[Event]] = field(default_factory=dict)  # early groups by number
    timer: asyncio.TimerHandle | None = None
    draining: bool = False  # a drain is scheduled


class ChatOrder:
    """Delivers each chat's numbered events in number order.

    A transaction numbers its chat's events once (one number, one group of events), so the
    next group expected is always ``last + 1`` and a missing one is told from none. The first
    event seen of a chat sets where it starts. An event numbered beyond the next waits for the
    missing ones at most :data:`HOLD_SECONDS`; then what waits goes out in order and the
    streams resync (they read what the missing events announced). An event older than what
    went out is dropped: a resync after its commit already covers it, or one is made now.
    A group's events are published, or relayed, together in one turn of the event loop; the
    groups that waited for it go out after that turn, so after the whole group.
    """

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._chats: OrderedDict[int, _ChatState] = OrderedDict()

    def offer(self, event: Event, chat_id: int, seq: int) -> None:
        state = self._chats.get(chat_id)
        if state is None:
            self._chats[chat_id] = _ChatState(seq, self._bus.resyncs)
            self._forget_idle()
            self._bus.fan_out(event)
            return
        self._chats.move_to_end(chat_id)
        if seq == state.last:  # the rest of a group already going out
            self._bus.fan_out(event)
        elif seq == state.last + 1 and not state.draining and seq not in state.held:
            state.last, state.resyncs = seq, self._bus.resyncs
            self._bus.fan_out(event)
            if state.held and not state.draining:
                # After this turn of the loop: the rest of this group is published (or was
                # relayed) in the same turn, and must go out before the groups after it.
                state.draining = True
                asyncio.get_running_loop().call_soon(self._drain, chat_id)
        elif seq > state.last:  # early, or behind held ones of its group: after them
            state.held.setdefault(seq, []).append(event)
            self._bus.metrics.inc("bridgekit_events_held_total")
            if state.timer is None:
                loop = asyncio.get_running_loop()
                state.timer = loop.call_later(HOLD_SECONDS, self._release, chat_id)
        elif self._bus.resyncs == state.resyncs:
            # Committed before what went out, which no resync has covered since: say so.
            self._bus.metrics.inc("bridgekit_events_order_resyncs_total")
            self._bus.resync(f"an event of chat {chat_id} came after a later one")

    @property
    def holding(self) -> int:
        """Events waiting for an earlier one of their chat."""
        return sum(len(g) for state in self._chats.values() for g in state.held.values())

    def _drain(self, chat_id: int) -> None:
        state = self._chats.get(chat_id)
        if state is None:
            return
        state.draining = False
        while state.last + 1 in state.held:
            state.last, state.resyncs = state.last + 1, self._bus.resyncs
            for event in state.held.pop(state.last):
                self._bus.fan_out(event)
        if not state.held and state.timer is not None:
            state.timer.cancel()
            state.timer = None

    def _release(self, chat_id: int) -> None:
        """The bound passed: what waits goes out, in order, and the streams resync."""
        state = self._chats.get(chat_id)
        if state is None or not state.held:
            return
        state.timer = None
        missing = state.last + 1
        for seq in sorted(state.held):
            for event in state.held[seq]:
                self._bus.fan_out(event)
            state.last = seq
        state.held.clear()
        state.resyncs = self._bus.resyncs
        self._bus.metrics.inc("bridgekit_events_order_resyncs_total")
        self._bus.resync(f"event {missing} of chat {chat_id} did not arrive")

    def forget(self) -> None:
        """Drop every chat's state (no stream is open to deliver to); the next event of each
        chat sets where it starts again."""
        for state in self._chats.values():
            if state.timer is not None:
                state.timer.cancel()
        self._chats.clear()

    def _forget_idle(self) -> None:
        while len(self._chats) > MAX_CHATS:
            chat_id, state = next(iter(self._chats.items()))
            if state.held:
                self._release(chat_id)
            del self._chats[chat_id]


class EventBus:
    def __init__(self, metrics: Metrics | None = None) -> None:
        #: ``bridgekit_events_held_total`` counts events that waited for an earlier one of
        #: their chat, ``bridgekit_events_order_resyncs_total`` the resyncs that ordering made.
        self.metrics = metrics or Metrics()
        self._subscribers: dict[int, tuple[int, asyncio.Queue[Event]]] = {}
        self._ids = itertools.count(1)
        self._tokens = itertools.count(1)
        #: Where published events also go (the relay to other processes on PostgreSQL).
        self.forward: Callable[[Event], None] | None = None
        self.order = ChatOrder(self)
        #: How often every stream was told to resync.
        self.resyncs = 0

    def publish(self, event: Event) -> None:
        """An event of this process, after its commit: to the streams here and the relay."""
        self.deliver(event)
        if self.forward is not None:
            self.forward(event)

    def deliver(self, event: Event) -> None:
        """An event to this process's streams only (one relayed from another process), in
        its chat's commit order when it carries its chat's number."""
        if not self._subscribers:
            self.idle()
            return
        numbered = chat_seq(event)
        if numbered is None:
            self.fan_out(event)
        else:
            self.order.offer(event, *numbered)

    def fan_out(self, event: Event) -> None:
        """An event to this process's streams now."""
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

    def idle(self) -> None:
        """No stream is open here: nothing to deliver, no order to keep. A stream that opens
        later reads the inbox first and then the events from then on."""
        self.order.forget()

    def publish_many(self, events: Iterable[Event]) -> None:
        for event in events:
            self.publish(event)

    def resync(self, why: str = "") -> None:
        """Every stream reads everything again: events may have been missed (a lost relay)."""
        if why:
            log.info("event streams resync: %s", why)
        self.resyncs += 1
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
