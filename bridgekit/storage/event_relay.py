"""Realtime events across processes on one PostgreSQL: LISTEN/NOTIFY.

Every process publishes its events to its own streams at once (``EventBus``) and hands them
to the relay, which sends them with ``pg_notify`` on a connection of its own, right after
the commit that made them. Every other process LISTENs on another connection of its own
and delivers what arrives to its streams (``EventBus.deliver``; ``manager_ids`` still
filter there). Why after the commit rather than inside it: every publisher already runs
after its commit (never announce what may roll back), and a NOTIFY inside the group commit
would add a statement and PostgreSQL's global notify-queue lock to the hottest transaction
and serialise every commit of every process behind it.

**Order.** One process's notifications arrive everywhere in the order it sent them (one
sending connection), but two processes' commits to one chat may arrive the other way round.
So events about a chat carry its commit-ordered number (``data["chat_seq"]``, set in the
committing transaction by ``bridgekit.storage.event_seq``), and the receiving bus puts each
chat's events back in that order (``EventBus.deliver`` → ``ChatOrder``), local and relayed
ones alike. The relay itself only carries them.

**Wire format.** Events published during one turn of the event loop travel together as one
JSON list ``[[kind, data, manager_ids|null], ...]``. A payload over NOTIFY's limit (8000
bytes) is cut into parts sent in one transaction: PostgreSQL appends one transaction's
notifications to its queue together and in order, so the parts arrive whole and in a row.
Each notification starts with ``origin:seq:part:parts:``. ``origin`` names the sending
process (its own are skipped); ``seq`` counts its sends.

**No silent gap.** A receiver that sees a process's ``seq`` jump (a send that failed, the
sender's connection lost) tells its streams to resync (``stream.resync``). A listener that
loses its connection (detected by asyncpg's termination callback or a failed check every
``CHECK_SECONDS``) reconnects by itself, with a growing pause, and once it listens again
tells its streams to resync: they read everything again and miss nothing after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

# The plugin scaffold type-checks against this source tree, without bridgekit's mypy overrides.
import asyncpg  # type: ignore[import-untyped,unused-ignore]
import orjson

from bridgekit.runtime.events import Event, EventBus
from bridgekit.runtime.metrics import Metrics

log = logging.getLogger("bridgekit.events")

CHANNEL = "bridgekit_events"
#: Bytes of one notification's payload: NOTIFY refuses 8000 and more (header included).
PART_BYTES = 7900
# Module constants so tests can shrink them.
CHECK_SECONDS = 5.0  # how often an idle listener proves its connection alive
RECONNECT_SECONDS = (0.2, 0.5, 1.0, 2.0)  # pauses between attempts, the last repeated
CONNECT_TIMEOUT = 5.0
SEND_TIMEOUT = 5.0  # a send not answered by then counts as lost (its receivers resync)
MAX_UNSENT = 10_000  # events waiting for a send beyond this are dropped (and resynced)


def encode(events: list[Event]) -> bytes:
    rows = [[e.kind, e.data, sorted(e.manager_ids) if e.manager_ids is not None else None] for e in events]
    # Datetimes as str() gives them, as the stream's own JSON does (api_realtime.format_event).
    return orjson.dumps(rows, default=str, option=orjson.OPT_PASSTHROUGH_DATETIME)


def decode(body: str) -> list[Event]:
    rows = orjson.loads(body)
    return [Event(kind, data, frozenset(ids) if ids is not None else None) for kind, data, ids in rows]


def split_utf8(body: bytes, size: int) -> list[str]:
    """``body`` in pieces of at most ``size`` bytes, never cutting a character."""
    parts = []
    start = 0
    while start < len(body):
        end = min(start + size, len(body))
        while end < len(body) and body[end] & 0xC0 == 0x80:  # a continuation byte: back off
            end -= 1
        parts.append(body[start:end].decode())
        start = end
    return parts or [""]


def payloads(origin: str, seq: int, body: bytes) -> list[str]:
    """The notifications that carry ``body``: each ``origin:seq:part:parts:`` and a piece."""
    header_room = len(origin) + 40
    pieces = split_utf8(body, PART_BYTES - header_room)
    return [f"{origin}:{seq}:{i}:{len(pieces)}:{piece}" for i, piece in enumerate(pieces)]


class EventRelay:
    """Relays one bus's events to and from every other process on the same PostgreSQL."""

    def __init__(self, dsn: str, bus: EventBus, metrics: Metrics | None = None) -> None:
        self.dsn = dsn
        self.bus = bus
        self.metrics = metrics or Metrics()
        self.origin = uuid.uuid4().hex[:12]
        self._seq = 0
        self._outgoing: list[Event] = []
        self._send_soon: asyncio.Event = asyncio.Event()
        self._sender_conn: Any = None  # asyncpg.Connection; asyncpg ships no types
        self._listener_conn: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._last_seq: dict[str, int] = {}
        self._parts: dict[str, tuple[int, list[str]]] = {}
        #: Set while the listener listens (tests wait on it).
        self.listening = asyncio.Event()
        #: How often the listener connected (the first time included).
        self.connections = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._listen_loop(), name="event-relay-listen"),
            loop.create_task(self._send_loop(), name="event-relay-send"),
        ]
        self.bus.forward = self._queue
        # Serve no stream before this process hears the others (the database is up: it was
        # just migrated); a listener still connecting after this keeps trying on its own.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), CONNECT_TIMEOUT)

    async def stop(self) -> None:
        self.bus.forward = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for conn in (self._sender_conn, self._listener_conn):
            if conn is not None:
                conn.terminate()

    @property
    def application_name(self) -> str:
        """What this relay's connections call themselves in ``pg_stat_activity``."""
        return f"bridgekit-events-{self.origin}"

    async def _connect(self, role: str) -> Any:
        settings = {"application_name": f"{self.application_name}-{role}"}
        return await asyncpg.connect(self.dsn, timeout=CONNECT_TIMEOUT, server_settings=settings)

    # --- sending ----------------------------------------------------------------------------

    def _queue(self, event: Event) -> None:
        if len(self._outgoing) >= MAX_UNSENT:
            # The database has not taken a send for long: what waits is dropped, and the
            # skipped sequence number makes every receiver resync instead of missing it.
            log.warning("event relay: %d unsent events dropped", len(self._outgoing))
            self._outgoing = []
            self._seq += 1
        self._outgoing.append(event)
        self._send_soon.set()

    async def _send_loop(self) -> None:
        while True:
            await self._send_soon.wait()
            self._send_soon.clear()
            events, self._outgoing = self._outgoing, []
            if not events:
                continue
            self._seq += 1
            try:
                await self._send(payloads(self.origin, self._seq, encode(events)))
            except Exception as exc:
                # Lost: the receivers see this seq missing and resync their streams.
                log.warning("could not relay %d events to other processes: %s", len(events), exc)
                self.metrics.inc("bridgekit_event_relay_lost_total", len(events))
                self._drop_sender()

    async def _send(self, notifications: list[str]) -> None:
        if self._sender_conn is None or self._sender_conn.is_closed():
            self._sender_conn = await self._connect("send")
        conn = self._sender_conn
        if len(notifications) == 1:
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, notifications[0], timeout=SEND_TIMEOUT)
            return
        async with conn.transaction():  # the parts of one payload arrive together
            await conn.executemany(
                "SELECT pg_notify($1, $2)", [(CHANNEL, n) for n in notifications], timeout=SEND_TIMEOUT
            )

    def _drop_sender(self) -> None:
        if self._sender_conn is not None:
            self._sender_conn.terminate()
            self._sender_conn = None

    # --- listening --------------------------------------------------------------------------

    async def _listen_loop(self) -> None:
        failures = 0
        while True:
            lost = asyncio.Event()
            try:
                conn = self._listener_conn = await self._connect("listen")
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notification)
                self._last_seq.clear()
                self._parts.clear()
                self.connections += 1
                if self.connections > 1:  # whatever was sent while not listening is unknown
                    self._resync("the relay listens again")
                self.listening.set()
                failures = 0
                await self._watch(conn, lost)
            except Exception as exc:  # any failure of the connection: connect again
                log.warning("event relay: no connection to PostgreSQL (%s); trying again", exc)
            self.listening.clear()
            if self._listener_conn is not None:
                self._listener_conn.terminate()
                self._listener_conn = None
            await asyncio.sleep(RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)])
            failures += 1

    async def _watch(self, conn: Any, lost: asyncio.Event) -> None:
        """Return when the connection is gone (closed, or silent to a check)."""
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), CHECK_SECONDS)
                return
            await conn.fetchval("SELECT 1", timeout=CONNECT_TIMEOUT)

    def _on_notification(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            origin, seq_text, part_text, parts_text, piece = payload.split(":", 4)
            seq, part, parts = int(seq_text), int(part_text), int(parts_text)
        except ValueError:
            log.warning("event relay: a notification not in its format was ignored")
            return
        if origin == self.origin:
            return
        if part == 0:
            self._parts[origin] = (seq, [piece])
        else:
            pending = self._parts.get(origin)
            if pending is None or pending[0] != seq or len(pending[1]) != part:
                self._parts.pop(origin, None)
                self._resync("a relayed payload arrived incomplete")
                return
            pending[1].append(piece)
        if part + 1 < parts:
            return
        _, pieces = self._parts.pop(origin)
        last = self._last_seq.get(origin)
        self._last_seq[origin] = seq
        if last is not None and seq != last + 1:
            self._resync(f"relayed events {last + 1}..{seq - 1} of another process were lost")
        if not self.bus.subscriber_count:
            # Nobody streams here: nothing to decode (under load every commit of every other
            # process arrives here, and decoding it cost CPU for each of their webhooks).
            self.bus.idle()
            return
        try:
            events = decode("".join(pieces))
        except (orjson.JSONDecodeError, ValueError, TypeError):
            self._resync("a relayed payload could not be read")
            return
        self.metrics.inc("bridgekit_event_relay_received_total", len(events))
        for event in events:
            self.bus.deliver(event)

    def _resync(self, why: str) -> None:
        log.info("event streams resync: %s", why)
        self.metrics.inc("bridgekit_event_relay_resyncs_total")
        self.bus.resync()


def listen_dsn(sqlalchemy_url: Any) -> str:
    """asyncpg's connection string for the database SQLAlchemy connects to."""
    return str(sqlalchemy_url.set(drivername="postgresql").render_as_string(hide_password=False))
