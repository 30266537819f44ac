"""The ingest pipeline: raw delivery -> plugin ingest -> dedupe -> customer -> chat -> commit.

Concurrent deliveries share one transaction (group commit): ``submit`` parks each verified
delivery in a queue and one committer task writes everything queued so far with batched
Core statements, then resolves every waiter. A caller acknowledges its provider only after
its future resolves, i.e. after the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.exceptions import MalformedDelivery, SignatureError, UnknownIntegration
from bridgekit.inbox.assignment import route_new_chats
from bridgekit.inbox.message_writer import MARK_INBOUND, MARK_UNREAD, message_created
from bridgekit.inbox.notify import alert_new_messages, recipients_query
from bridgekit.inbox.views_counts import COUNT_COLUMNS, NewChat, new_chat_counts, writers_count_new_chats
from bridgekit.ingest.provider_events import apply_provider_events
from bridgekit.ingest.raw_store import stored_headers, stored_query
from bridgekit.ingest.routing_cache import BatchRoutes, ContactRow, Handle, RoutingCache, ThreadKey, Token
from bridgekit.model import (
    Contact,
    CustomerEvent,
    CustomerProfile,
    DeliveryStatus,
    InboundMessage,
    IngestOutcome,
    IngestResult,
    IngestStatus,
    RawDelivery,
    StatusUpdate,
)
from bridgekit.plugins import HookCaller
from bridgekit.queues.flow_events import flow_wanted
from bridgekit.queues.outbox import delivery_status_event
from bridgekit.redaction import redact
from bridgekit.runtime.clock import as_naive_utc, utcnow
from bridgekit.runtime.events import Event, EventBus
from bridgekit.runtime.metrics import Metrics
from bridgekit.storage import schema as s
from bridgekit.storage.db import Database, is_busy, is_unavailable, retry_on_conflict
from bridgekit.storage.event_seq import BUMP, BUMP_CHATS, RETURNING, seqs_of, sequenced_chat, stamp
from bridgekit.storage.files import FileStore, StoredFile
from bridgekit.storage.handles import claim_chat_keys, claim_contacts
from bridgekit.storage.hotsql import PostgresHotSQL, Row, hot_sql, placeholders
from bridgekit.storage.integrations import BoundIntegration, IntegrationRegistry
from bridgekit.storage.storable import storable_event, storable_message, storable_profile

log = logging.getLogger("bridgekit.ingest")

MAX_BATCH = 256
# A group commit lets the event loop turn a few times before it takes its batch, so the
# deliveries whose bytes are already read (turn 1), handled (turn 2) and parsed by their
# plugin (turn 3) join it. Microseconds of latency; with 32 busy connections the mean batch
# grew from 13 to 29 deliveries and throughput by 18% (bench/line_ingest.py).
LINGER_TURNS = 3
# Several workers (``serve --workers N``) on PostgreSQL each commit their share of the load, so
# each of their group commits carries about 1/N of what one process's would, and a commit's
# fixed cost (a dozen statements' round trips) is shared by fewer deliveries. So a worker
# whose last commit was small but more than one delivery waits, before its next, (N - 1)
# times as long as that commit took (capped by ``fill_wait``), or until as many deliveries are
# queued as were waiting for an answer at once lately (the busiest moment of the last second or
# two; at most FILL_TARGET): then N workers commit about as often, and as full, as one process
# would, and a worker never waits for deliveries that cannot come (every client it has is
# already waiting). Never on SQLite (one process) nor in a single process, and never for a
# lone delivery.
FILL_TARGET = 32
PEAK_WINDOW = 1.0  # seconds over which the most deliveries waiting at once is remembered

# Status updates only move forward: a late "delivered" never hides an earlier "read".
STATUS_RANK = {
    DeliveryStatus.PENDING: 0,
    DeliveryStatus.SENDING: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.READ: 4,
    DeliveryStatus.FAILED: 5,
}


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass(slots=True)
class _Item:
    bound: BoundIntegration
    delivery: RawDelivery
    result: IngestResult
    messages: list[InboundMessage]
    profiles: list[CustomerProfile | None]
    files: list[list[StoredFile]]
    future: asyncio.Future[IngestOutcome]
    message_ids: list[int] = field(default_factory=list)
    chat_ids: list[int] = field(default_factory=list)


def _plain(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A dict for JSON, without copying one that already is (the web handler's are)."""
    return mapping if type(mapping) is dict else dict(mapping)


def _first(keys: Sequence[tuple[str, int, str]], found: dict[tuple[str, int, str], int]) -> int | None:
    """The value of the first key in ``found`` (a loop: no generator per message)."""
    for key in keys:
        value = found.get(key)
        if value is not None:
            return value
    return None


def _contacts_of(message: InboundMessage, profile: CustomerProfile | None) -> Sequence[Contact]:
    """The sender first, then the profile's handles (repeats are dropped by handle)."""
    if profile is None or not profile.contacts:
        return (message.sender,)
    return (message.sender, *profile.contacts)


class IngestPipeline:
    def __init__(
        self,
        db: Database,
        hooks: HookCaller,
        registry: IntegrationRegistry,
        files: FileStore,
        metrics: Metrics,
        workspace_id: int,
        on_commit: Callable[[], None] = lambda: None,
        events: EventBus | None = None,
        fill_wait: float = 0.0,
        workers: int = 1,
    ) -> None:
        self.events = events or EventBus()
        self.fill_wait = fill_wait if workers > 1 else 0.0
        self.workers = workers
        self._last_batch = 0
        self._last_commit_seconds = 0.0
        self._filled: asyncio.Future[None] | None = None  # set while a commit waits to fill
        self._fill_to = FILL_TARGET  # queued deliveries that end a wait to fill
        self._committing = 0  # deliveries in the commit under way
        self._peak = self._last_peak = 0  # most waiting for an answer at once, this and last window
        self.db = db
        self.hooks = hooks
        self.registry = registry
        self.files = files
        self.metrics = metrics
        self.workspace_id = workspace_id
        self.on_commit = on_commit
        # A plain deque and one wake-up future: asyncio.Queue's per-item getter bookkeeping
        # cost about a microsecond a delivery here.
        self._queue: deque[_Item] = deque()
        self._queued: asyncio.Future[None] | None = None
        self._committer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the committer's
        self._flow_written = False
        self.routes = RoutingCache()

    # --- entry point ---------------------------------------------------------------------

    async def submit(self, delivery: RawDelivery) -> IngestOutcome:
        """Verify, parse and durably store one delivery. Never raises for bad input."""
        try:
            bound = self.registry.get(delivery.integration)
        except UnknownIntegration as exc:
            self.metrics.inc("bridgekit_ingest_total", outcome="unknown_integration")
            return IngestOutcome("rejected", 404, detail=str(exc))
        received = delivery.received_at
        if received is None or received.tzinfo is not None:  # the web handler stamps naive UTC already
            delivery = replace(delivery, received_at=as_naive_utc(received) if received else utcnow())
        owner = bound.channel.plugin
        name = bound.integration.name
        try:
            result = await self.hooks.call_owner(
                "bridgekit_ingest", owner, integration=bound.integration, delivery=delivery
            )
            if not isinstance(result, IngestResult):
                raise TypeError(f"bridgekit_ingest returned {type(result).__name__}, not IngestResult")
        except SignatureError as exc:
            self.metrics.inc("bridgekit_ingest_total", outcome="bad_signature", integration=name)
            return IngestOutcome("rejected", 401, detail=str(exc) or "signature verification failed")
        except MalformedDelivery as exc:
            self.metrics.inc("bridgekit_ingest_total", outcome="malformed", integration=name)
            await self._keep_raw(bound, delivery, "malformed", str(exc))
            return IngestOutcome("malformed", 400, detail=str(exc))
        except Exception as exc:
            # The plugin's own query found the database away (not any OSError of a plugin: a
            # provider that did not answer is the plugin's failure, kept raw for replay).
            if isinstance(exc, SQLAlchemyError) and is_unavailable(exc):
                self.metrics.inc("bridgekit_ingest_total", outcome="busy", integration=name)
                return IngestOutcome("busy", 503, detail="the database is unavailable; deliver again shortly")
            self.hooks.record_failure(bound.channel.plugin_name, "bridgekit_ingest")
            log.exception("ingest failed in plugin %r for %s", bound.channel.plugin_name, name)
            self.metrics.inc("bridgekit_ingest_total", outcome="plugin_error", integration=name)
            await self._keep_raw(bound, delivery, "error", f"{type(exc).__name__}: {exc}")
            return IngestOutcome("error", 500, detail="internal error; the delivery was kept for replay")

        if delivery.method == "GET" and not result.messages and not result.status_updates:
            return IngestOutcome("accepted", 200, response=result.response)  # a handshake

        inbound = result.messages
        if len(inbound) == 1:  # most webhooks; a comprehension is a function call of its own
            messages = [storable_message(inbound[0])]
        else:
            messages = self._unique([storable_message(m) for m in inbound])
        if result.events:
            result = replace(result, events=[storable_event(e) for e in result.events])
            result = await self._name_event_senders(bound, result)
        # Plain loops: in Python 3.11 a comprehension that awaits is a coroutine of its own.
        profiles: list[CustomerProfile | None] = []
        files: list[list[StoredFile]] = []
        for m in messages:
            profiles.append(await self._identify(bound, m))
            files.append([await self.files.put(a.data) for a in m.attachments] if m.attachments else [])
        # The committer's loop, remembered: in Python 3.11 every asyncio.get_running_loop()
        # makes a getpid() system call.
        loop, committer = self._loop, self._committer
        if loop is None or committer is None or committer.done():
            loop = self._start_committer()
        future: asyncio.Future[IngestOutcome] = loop.create_future()
        self._queue.append(_Item(bound, delivery, result, messages, profiles, files, future))
        if self._queued is not None and not self._queued.done():
            self._queued.set_result(None)
        if self.fill_wait:
            waiting = len(self._queue) + self._committing
            if waiting > self._peak:
                self._peak = waiting
            filled = self._filled
            if filled is not None and len(self._queue) >= self._fill_to and not filled.done():
                filled.set_result(None)
        return await future

    @staticmethod
    def _unique(messages: Sequence[InboundMessage]) -> list[InboundMessage]:
        """Drop repeats inside one delivery. Redeliveries of committed events are dropped by
        the commit itself (one batched query for the whole group), not by a read per request:
        that read cost more than everything else on the hot path."""
        if len(messages) < 2:  # most webhooks carry one event
            return list(messages)
        seen: set[str] = set()
        out = []
        for m in messages:
            if m.event_id not in seen:
                seen.add(m.event_id)
                out.append(m)
        return out

    async def _name_event_senders(self, bound: BoundIntegration, result: IngestResult) -> IngestResult:
        """Customer events may create the customer (a LINE follow comes before any message):
        name their senders the way a message's sender is named (the profile's other handles
        are not used for events)."""
        named = []
        for event in result.events:
            if isinstance(event, CustomerEvent) and not event.sender.name:
                stand_in = InboundMessage(
                    event.event_id, event.sender, event.thread_key, automated=True, meta=event.data
                )
                profile = await self._identify(bound, stand_in)
                if profile is not None and profile.name:
                    event = replace(event, sender=replace(event.sender, name=profile.name))
            named.append(event)
        return replace(result, events=named)

    async def _identify(self, bound: BoundIntegration, message: InboundMessage) -> CustomerProfile | None:
        try:
            profile = await self.hooks.call_owner(
                "bridgekit_identify_customer",
                bound.channel.plugin,
                integration=bound.integration,
                message=message,
            )
        except Exception:
            # A profile lookup must never cost the message: fall back to the sender handle.
            self.hooks.record_failure(bound.channel.plugin_name, "bridgekit_identify_customer")
            log.exception("identify_customer failed in %r", bound.channel.plugin_name)
            return None
        return storable_profile(profile) if isinstance(profile, CustomerProfile) else None

    async def _keep_raw(
        self, bound: BoundIntegration, delivery: RawDelivery, status: str, error: str
    ) -> None:
        try:
            async with self.db.write() as conn:
                await conn.execute(
                    s.raw_deliveries.insert().values(**_raw_row(bound, delivery, status, redact(error)))
                )
        except Exception as exc:
            if is_unavailable(exc):  # said once by whoever found the database away
                log.warning("raw delivery for %s not kept: the database is unavailable", delivery.integration)
                return
            log.exception("could not keep raw delivery for %s", delivery.integration)

    # --- group commit --------------------------------------------------------------------

    def _start_committer(self) -> asyncio.AbstractEventLoop:
        loop = self._loop = asyncio.get_running_loop()
        self._committer = loop.create_task(self._commit_loop(), name="ingest-commit")
        return loop

    async def close(self) -> None:
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer

    async def _commit_loop(self) -> None:
        loop = asyncio.get_running_loop()
        window_ends = loop.time() + PEAK_WINDOW
        while True:
            self._committing = 0  # the last batch is answered
            if not self._queue:
                self._queued = loop.create_future()
                idle_since = loop.time()
                await self._queued
                if self.fill_wait and loop.time() - idle_since > PEAK_WINDOW:
                    # Quiet for a while: the first delivery after it is not held for others.
                    self._peak = self._last_peak = 0
                    window_ends = loop.time() + PEAK_WINDOW
            for _ in range(LINGER_TURNS):
                await asyncio.sleep(0)
            queue = self._queue
            if self.fill_wait:
                if loop.time() > window_ends:
                    window_ends = loop.time() + PEAK_WINDOW
                    self._last_peak, self._peak = self._peak, 0
                self._fill_to = min(FILL_TARGET, max(self._peak, self._last_peak))
                if 1 < self._last_batch < self._fill_to and len(queue) < self._fill_to:
                    await self._fill(min(self.fill_wait, (self.workers - 1) * self._last_commit_seconds))
            batch = [queue.popleft() for _ in range(min(len(queue), MAX_BATCH))]
            self._last_batch = self._committing = len(batch)
            try:
                started = loop.time()
                await self._commit(batch)
                self._last_commit_seconds = loop.time() - started
            except Exception as exc:
                if is_busy(exc):  # one by one would only wait again, each as long
                    self._answer_busy(batch, "database locked by another process")
                    continue
                if is_unavailable(exc):  # one by one would only fail again, each as long
                    self._answer_busy(batch, f"database unavailable ({type(exc).__name__})")
                    continue
                log.exception("group commit of %d deliveries failed; retrying one by one", len(batch))
                for item in batch:
                    try:
                        await self._commit([item])
                    except Exception as exc:
                        if is_unavailable(exc) or is_busy(exc):
                            self._answer_busy([item], "database unavailable")
                            continue
                        log.exception("delivery for %s could not be stored", item.delivery.integration)
                        item.messages, item.message_ids = [], []
                        await self._keep_raw(
                            item.bound, item.delivery, "error", f"{type(exc).__name__}: {exc}"
                        )
                        if not item.future.done():
                            item.future.set_result(
                                IngestOutcome(
                                    "error", 500, detail="could not store the delivery; it was kept raw"
                                )
                            )
            if self._flow_written:
                self._flow_written = False
                self.on_commit()  # wake the bots only when there is something for them

    async def _fill(self, seconds: float) -> None:
        """Until ``_fill_to`` deliveries are queued or ``seconds`` have passed."""
        loop = asyncio.get_running_loop()
        filled = self._filled = loop.create_future()
        timer = loop.call_later(seconds, _resolve, filled)
        try:
            await filled
        finally:
            timer.cancel()
            self._filled = None

    def _answer_busy(self, batch: list[_Item], why: str) -> None:
        """Another process held SQLite's write lock past the busy timeout, or PostgreSQL is
        away: nothing can be assumed stored; tell each provider to deliver again instead of
        letting it time out (a commit that did land makes the redelivery a duplicate)."""
        log.warning("%s: %d deliveries answered 503", why, len(batch))
        outcome = IngestOutcome("busy", 503, detail="the database is busy; deliver again shortly")
        for item in batch:
            self.metrics.inc(
                "bridgekit_ingest_total", outcome="busy", integration=item.bound.integration.name
            )
            if not item.future.done():
                item.future.set_result(outcome)

    async def _commit(self, batch: list[_Item]) -> None:
        listened = self.hooks.listened_flow_kinds()

        async def work(conn: AsyncConnection) -> _BatchWriter:
            # Read inside the write transaction: nobody else commits until it ends.
            db = self.db
            counts = (db.inline_connections, db.inline_commits)
            writer = _BatchWriter(conn, batch, self.workspace_id, listened, self.routes, counts)
            await writer.write()
            return writer

        writer = await retry_on_conflict(lambda: self.db.write_ingest(work))
        if writer.next_token is not None:
            self.routes.committed(writer.seen, writer.next_token)
            if writer.cache_hits:
                self.metrics.inc("bridgekit_ingest_route_lookups_total", writer.cache_hits, source="cache")
        if writer.cache_misses:
            self.metrics.inc("bridgekit_ingest_route_lookups_total", writer.cache_misses, source="database")
        self._flow_written |= writer.wrote_flow
        self.metrics.inc("bridgekit_ingest_commits_total")
        self.events.publish_many(writer.events)
        if self.events.wanted:  # nobody listening here or elsewhere: not even build them
            created = [
                message_created(cid, mid, "inbound")
                for item in batch
                for cid, mid in zip(item.chat_ids, item.message_ids, strict=True)
            ]
            self.events.publish_many(stamp(created, writer.chat_seqs) if writer.chat_seqs else created)
        outcomes: Counter[tuple[IngestStatus, str]] = Counter()
        for item in batch:
            count = len(item.message_ids)
            status: IngestStatus = "accepted" if count or not item.result.messages else "duplicate"
            outcomes[(status, item.bound.integration.name)] += 1
            if not item.future.done():
                item.future.set_result(
                    IngestOutcome(status, 200, message_ids=item.message_ids, response=item.result.response)
                )
        for (status, integration), count in outcomes.items():
            self.metrics.inc("bridgekit_ingest_total", count, outcome=status, integration=integration)


def _raw_row(
    bound: BoundIntegration, delivery: RawDelivery, status: str, error: str | None
) -> dict[str, Any]:
    return {
        "integration_id": bound.integration.id,
        "received_at": delivery.received_at or utcnow(),
        "method": delivery.method,
        "path": delivery.path,
        "headers": stored_headers(delivery.headers, bound.channel.spec.stored_headers),
        "query": stored_query(delivery.query),
        "body": delivery.body,
        "remote": delivery.remote,
        "status": status,
        "error": error,
    }


RAW_COLUMNS = (
    "id",
    "integration_id",
    "received_at",
    "method",
    "path",
    "headers",
    "query",
    "body",
    "remote",
    "status",
)
CUSTOMER_COLUMNS = ("id", "workspace_id", "name", "is_lead", "profile", "created_at", "updated_at")
# A chat the group commit opens is for a customer message of the same batch: it is inserted
# with ``has_inbound`` set, so the count trigger on chat inserts counts it once, instead of the
# batch's MARK_INBOUND setting it a moment later through the chat-update count trigger (17 µs a
# new chat on SQLite: most mails open one).
CHAT_COLUMNS = (
    "id", "workspace_id", "integration_id", "customer_id", "contact_id", "thread_key", "title", "state",
    "created_at", "updated_at", "last_message_at", "has_inbound",
)  # fmt: skip
MESSAGE_COLUMNS = (
    "id", "chat_id", "integration_id", "direction", "author_kind", "author_name", "text", "meta",
    "event_id", "automated", "raw_delivery_id", "created_at", "provider_message_id",
)  # fmt: skip
ATTACHMENT_COLUMNS = (
    "message_id",
    "filename",
    "content_type",
    "size",
    "sha256",
    "storage_path",
    "created_at",
)
FLOW_COLUMNS = ("kind", "chat_id", "message_id", "payload", "created_at")


class _BatchWriter:
    """Writes one batch of verified deliveries with a fixed number of statements.

    Plain SQL on the driver (``bridgekit.storage.hotsql``): this is the hottest path there is.
    """

    def __init__(
        self,
        conn: AsyncConnection,
        batch: list[_Item],
        workspace_id: int,
        listened: frozenset[str],
        routes: RoutingCache | None = None,
        inline_counts: tuple[int, int] = (0, 0),
    ) -> None:
        self.events: list[Event] = []  # published after the commit
        self.chat_seqs: dict[int, int] = {}  # PostgreSQL: each changed chat's event number
        self.routes = routes
        self.inline_counts = inline_counts  # the inline writer's (connections, commits) so far
        self.cached: RoutingCache | None = None  # the routing cache, when it may be used
        self.seen = BatchRoutes()  # what this batch read and changed, for the cache
        self.next_token: Token | None = None  # the cache's token once this batch has committed
        self.cache_hits = self.cache_misses = 0
        self.listened = listened  # flow event kinds some bot listens to
        self.new_chat_ids: set[int] = set()  # routing announces these; no message alerts
        self.reopened: set[int] = set()  # closed chats this batch opened again
        self.wrote_flow = False
        self.conn = conn
        self.sql = hot_sql(conn)
        self.batch = batch
        self.workspace_id = workspace_id
        self.now = utcnow()
        self.stamp = self.sql.ts(self.now)
        # What _read_ahead read (PostgreSQL): rows of each look-up, and reserved ids of tables.
        self.read: dict[str, list[Row]] = {}
        self.reserved: dict[str, list[int]] = {}

    async def write(self) -> None:
        sql = self.sql
        for item in self.batch:  # outputs of an earlier, rolled-back attempt
            item.message_ids, item.chat_ids = [], []
        await self._check_routes()
        if isinstance(sql, PostgresHotSQL):
            await self._read_ahead(sql)
        # Before the raw rows: a delivery whose every event is stored already is only counted.
        originals = await self._drop_duplicates()
        stored = [i for i in self.batch if i.messages or not i.result.messages]
        raw_ids, message_ids = await self._new_ids(
            ("raw_deliveries", len(stored)), ("messages", sum(len(i.messages) for i in stored))
        )
        await sql.insert(
            "raw_deliveries",
            RAW_COLUMNS,
            [
                (
                    raw_id,
                    i.bound.integration.id,
                    sql.ts(i.delivery.received_at or self.now),
                    i.delivery.method,
                    i.delivery.path,
                    sql.json(stored_headers(i.delivery.headers, i.bound.channel.spec.stored_headers)),
                    sql.json(stored_query(i.delivery.query)),
                    i.delivery.body,
                    i.delivery.remote,
                    "accepted",
                )
                for raw_id, i in zip(raw_ids, stored, strict=True)
            ],
        )
        if originals:
            await self._count_duplicates(originals, dict(zip(map(id, stored), raw_ids, strict=True)))
        entries = [
            (item, raw_id, idx)
            for item, raw_id in zip(stored, raw_ids, strict=True)
            for idx in range(len(item.messages))
        ]
        if entries:
            customer_ids, contact_ids = await self._customers(entries)
            chat_ids = await self._chats(entries, customer_ids, contact_ids)
            await self._messages(entries, chat_ids, message_ids)
        await self._status_updates()
        if any(item.result.events for item in self.batch):
            await sql.flush()  # Core next, on the same transaction
            applied = await apply_provider_events(
                self.conn,
                [
                    (item.bound.integration.id, item.result.events)
                    for item in self.batch
                    if item.result.events
                ],
                workspace_id=self.workspace_id,
                now=self.now,
                listened=self.listened,
            )
            self.events.extend(applied.events)
            self.seen.changed_handles.update(applied.changed_handles)
            self.wrote_flow |= applied.wrote_flow
        if sql.dialect == "postgresql":
            await self._sequence_events()

    async def _sequence_events(self) -> None:
        """Number the events of chats this batch changed without storing a message in them
        (delivery statuses, retractions), then stamp every event (``storage/event_seq.py``)."""
        changed = {c for e in self.events if (c := sequenced_chat(e)) is not None}
        rest = sorted(changed - self.chat_seqs.keys())
        if rest:
            member, params = self.sql.member_of(rest)
            self.chat_seqs.update(seqs_of(await self.sql.all(BUMP_CHATS + member + RETURNING, params)))
        if self.chat_seqs:
            self.events = stamp(self.events, self.chat_seqs)

    async def _read_ahead(self, sql: PostgresHotSQL) -> None:
        """The batch's look-ups, in one round trip before its first write (a round trip was
        most of a small group commit's cost): the events stored already, fresh ids for every
        delivery and event (those of duplicates go unused), the contacts of every handle, the
        chat of every thread key and who hears about new messages in those chats, of every
        event, duplicate or not. PostgreSQL only:
        SQLite's look-ups cost no round trip, and its routing cache answers most."""
        pairs: set[tuple[int, str]] = set()
        handles: set[Handle] = set()
        keys: set[ThreadKey] = set()
        for item in self.batch:
            iid = item.bound.integration.id
            for msg, profile in zip(item.messages, item.profiles, strict=True):
                pairs.add((iid, msg.event_id))
                handles.update((c.kind, 0 if c.shared else iid, c.value) for c in _contacts_of(msg, profile))
                keys.add((iid, msg.thread_key))
                keys.update((iid, ref) for ref in msg.thread_refs)
        events = sum(len(i.messages) for i in self.batch)
        keyed, params = sql.grouped_in(("k.integration_id", 'k."key"'), keys)
        stored, raw_ids, message_ids, contacts, chat_keys, recipients = await sql.all_of(
            [
                self._stored_events_query(pairs),
                sql.new_ids_query("raw_deliveries", len(self.batch)),
                sql.new_ids_query("messages", events),
                self._contacts_query(handles),
                self._chat_keys_query(keys, (keyed, params)),
                recipients_query(f"c.id IN (SELECT k.chat_id FROM chat_keys k WHERE {keyed})", params),
            ]
        )
        self.read = {
            "stored_events": stored,
            "contacts": contacts,
            "chat_keys": chat_keys,
            "recipients": recipients,
        }
        self.reserved = {
            "raw_deliveries": sorted(row[0] for row in raw_ids),
            "messages": sorted(row[0] for row in message_ids),
        }

    def _stored_events_query(self, pairs: Iterable[tuple[int, str]]) -> tuple[str, list[Any]]:
        where, params = self.sql.grouped_in(("integration_id", "event_id"), pairs)
        return f"SELECT integration_id, event_id, raw_delivery_id FROM messages WHERE {where}", params

    def _contacts_query(self, handles: Iterable[Handle]) -> tuple[str, list[Any]]:
        where, params = self.sql.grouped_in(("ct.kind", "ct.scope", "ct.value"), handles)
        return (
            "SELECT ct.id, ct.kind, ct.scope, ct.value, ct.customer_id, ct.verified, cu.is_lead"
            f" FROM contacts ct JOIN customers cu ON cu.id = ct.customer_id WHERE {where} ORDER BY ct.id",
            params,
        )

    def _chat_keys_query(
        self, keys: Iterable[ThreadKey], grouped: tuple[str, list[Any]] | None = None
    ) -> tuple[str, list[Any]]:
        where, params = grouped or self.sql.grouped_in(("k.integration_id", 'k."key"'), keys)
        return (
            'SELECT k.integration_id, k."key", c.id, c.customer_id, c.state'
            f" FROM chat_keys k JOIN chats c ON c.id = k.chat_id WHERE {where}",
            params,
        )

    async def _looked_up(self, name: str, query: Callable[[], tuple[str, list[Any]]]) -> list[Row]:
        """The rows of a look-up: as read ahead (a superset: filter them), else ``query()``'s."""
        rows = self.read.pop(name, None)
        return rows if rows is not None else await self.sql.all(*query())

    async def _new_ids(self, *counts: tuple[str, int]) -> list[list[int]]:
        """Fresh ids of tables only this writer inserts into within a batch (``raw_deliveries``,
        ``messages``), ``count`` of each: reserved ahead (PostgreSQL), or from the routing cache
        when nobody else has written since the last batch, which took the ids before them (no
        query), else asked for together."""
        if self.reserved:
            return [self.reserved[table][:count] for table, count in counts]
        cache = self.cached
        found: dict[str, list[int]] = {}
        asked = []
        for table, count in counts:
            start = cache.next_ids.get(table) if cache is not None else None
            if count == 0:
                found[table] = []
            elif start is not None:
                found[table] = list(range(start, start + count))
            else:
                asked.append((table, count))
        if asked:
            found.update(zip((t for t, _ in asked), await self.sql.new_ids_of(asked), strict=True))
        if cache is not None:
            for table, ids in found.items():
                if ids:
                    self.seen.next_ids[table] = ids[-1] + 1
        return [found[table] for table, _ in counts]

    async def _count_duplicates(
        self, originals: list[tuple[_Item, int | _Item | None]], raw_id_of: dict[int, int]
    ) -> None:
        """Add one to ``duplicates`` of the raw row each wholly repeated delivery repeats."""
        counts: Counter[int] = Counter()
        for item, original in originals:
            if item.messages or not item.result.messages:
                continue  # partly new: it has a raw row of its own
            raw_id = raw_id_of.get(id(original)) if isinstance(original, _Item) else original
            if raw_id is not None:
                counts[raw_id] += 1
        if counts:
            await self.sql.run_many(
                "UPDATE raw_deliveries SET duplicates = duplicates + ? WHERE id = ?",
                [(n, raw_id) for raw_id, n in counts.items()],
            )

    async def _check_routes(self) -> None:
        """Use the routing cache only if nobody but the ingest wrote since its last batch."""
        if self.routes is None:
            return
        version = await self.sql.data_version()  # None on PostgreSQL: nothing is cached there
        connections, commits = self.inline_counts
        if version is not None and self.routes.usable((version, connections, commits)):
            self.cached = self.routes
            # This batch's commit is the inline writer's next one; our own commit leaves
            # data_version as it is.
            self.next_token = (version, connections, commits + 1)

    async def _drop_duplicates(self) -> list[tuple[_Item, int | _Item | None]]:
        """Drop events stored already or repeated in this batch. Returns each item that lost
        one with where its first copy came from: the raw row id of a stored event (None if
        unknown), or the batch item that carries it."""
        total = sum(len(i.messages) for i in self.batch)
        pairs = {(i.bound.integration.id, m.event_id) for i in self.batch for m in i.messages}
        if not pairs:
            return []
        seen: dict[tuple[int, str], int | _Item | None] = {
            (r[0], r[1]): r[2]
            for r in await self._looked_up("stored_events", lambda: self._stored_events_query(pairs))
        }
        if not seen and len(pairs) == total:
            return []  # no redelivery and no repeat inside the batch: the common case
        originals: list[tuple[_Item, int | _Item | None]] = []
        for item in self.batch:
            keep = []
            original: int | _Item | None = None
            for msg, profile, files in zip(item.messages, item.profiles, item.files, strict=True):
                key = (item.bound.integration.id, msg.event_id)
                if key in seen:
                    original = seen[key]
                    continue
                seen[key] = item  # claimed: a later copy in this batch repeats this item
                keep.append((msg, profile, files))
            if len(keep) < len(item.messages):
                originals.append((item, original))
            item.messages = [k[0] for k in keep]
            item.profiles = [k[1] for k in keep]
            item.files = [k[2] for k in keep]
        return originals

    async def _customers(self, entries: list[tuple[_Item, int, int]]) -> tuple[list[int], list[int]]:
        """Find or create the customer of every entry (E7: join only via a verified handle)."""
        sql = self.sql
        wanted: dict[tuple[str, int, str], Contact] = {}  # the first contact seen per handle
        per_entry: list[list[tuple[str, int, str]]] = []
        for item, _raw, idx in entries:
            iid = item.bound.integration.id
            keys: list[tuple[str, int, str]] = []
            for c in _contacts_of(item.messages[idx], item.profiles[idx]):
                key = (c.kind, 0 if c.shared else iid, c.value)
                if key not in keys:
                    keys.append(key)
                    if key not in wanted:
                        wanted[key] = c
            per_entry.append(keys)
        contacts_of = await self._contact_rows(wanted)
        verified: dict[tuple[str, int, str], int] = {}
        lead: dict[tuple[str, int, str], int] = {}
        owned: dict[tuple[int, str, int, str], int] = {}  # (customer, handle) -> contact id
        for key, handle_rows in contacts_of.items():
            for contact_id, customer_id, is_verified, is_lead in handle_rows:  # oldest first
                owned[(customer_id, *key)] = contact_id
                if is_verified:
                    verified.setdefault(key, customer_id)
                elif is_lead:
                    lead.setdefault(key, customer_id)

        result: list[int | None] = []
        new_customers: list[list[Any]] = []
        new_for_key: dict[tuple[str, int, str], int] = {}  # handle -> index in new_customers
        pending_new: list[tuple[int, int]] = []  # (entry index, new customer index)
        for n, keys in enumerate(per_entry):
            found = _first(keys, verified)
            if found is None:
                found = _first(keys, lead)
            if found is None:
                new_index = _first(keys, new_for_key)
                if new_index is None:
                    item, _raw, idx = entries[n]
                    profile = item.profiles[idx]
                    sender = item.messages[idx].sender
                    name = (profile.name if profile and profile.name else None) or sender.name
                    new_index = len(new_customers)
                    meta = dict(profile.meta) if profile else {}
                    new_customers.append(
                        [0, self.workspace_id, name, True, sql.json(meta), self.stamp, self.stamp]
                    )
                for k in keys:
                    new_for_key.setdefault(k, new_index)
                pending_new.append((n, new_index))
            result.append(found)
        new_ids = await sql.new_ids("customers", len(new_customers))
        for row, new_id in zip(new_customers, new_ids, strict=True):
            row[0] = new_id
        await sql.insert("customers", CUSTOMER_COLUMNS, new_customers)
        for n, new_index in pending_new:
            result[n] = new_ids[new_index]

        contact_rows: dict[tuple[int, str, int, str], list[Any]] = {}
        for n, keys in enumerate(per_entry):
            cid = result[n]
            assert cid is not None
            for key in keys:
                if (cid, *key) in owned or (cid, *key) in contact_rows:
                    continue
                contact_rows[(cid, *key)] = [0, cid, *key, wanted[key].verified, self.stamp]
        new_contact_ids = await sql.new_ids("contacts", len(contact_rows))
        for row, new_id in zip(contact_rows.values(), new_contact_ids, strict=True):
            row[0] = new_id
        # Another process may have given a new verified handle its owner since we looked:
        # its contact wins, and so does its customer for the messages from that handle.
        owners = await claim_contacts(sql, list(contact_rows.values()))
        for (cid, kind, scope, value), contact_id in zip(contact_rows, new_contact_ids, strict=True):
            owner = owners.get((kind, scope, value))
            if owner is None or owner[1] == cid:
                owned[(cid, kind, scope, value)] = contact_id
            else:
                owned[(owner[1], kind, scope, value)] = owner[0]
        for n, keys in enumerate(per_entry):
            owner = owners.get(keys[0])
            if owner is not None:
                result[n] = owner[1]
        if unused := set(new_ids).difference(result):  # leads that lost every handle
            member, params = sql.member_of(sorted(unused))
            await sql.run(f"DELETE FROM customers WHERE id{member}", params)
        self.seen.changed_handles.update((kind, scope, value) for _cid, kind, scope, value in contact_rows)
        customer_ids = [cid for cid in result if cid is not None]
        # The handle each message came from: replies go back to it (a customer may have several).
        return customer_ids, [
            owned[(cid, *keys[0])] for cid, keys in zip(customer_ids, per_entry, strict=True)
        ]

    async def _contact_rows(self, wanted: Iterable[Handle]) -> dict[Handle, Sequence[ContactRow]]:
        """Every contact of each handle, oldest first: from the cache, else one query."""
        found: dict[Handle, Sequence[ContactRow]] = {}
        cache = self.cached
        if cache is None:
            missing = list(wanted)
        else:
            missing = []
            for key in wanted:
                known = cache.handles.get(key)
                if known is None:
                    missing.append(key)
                else:
                    found[key] = known
            self.cache_hits += len(found)
        if not missing:
            return found
        self.cache_misses += len(missing)
        fetched: dict[Handle, list[ContactRow]] = {key: [] for key in missing}
        rows = await self._looked_up("contacts", lambda: self._contacts_query(missing))
        for contact_id, kind, scope, value, customer_id, is_verified, is_lead in sorted(rows):  # oldest first
            contacts = fetched.get((kind, scope, value))
            if contacts is not None:  # read ahead, the handles of duplicates are there too
                contacts.append((contact_id, customer_id, bool(is_verified), bool(is_lead)))
        found.update(fetched)
        if cache is not None:
            self.seen.handles.update((key, tuple(rows)) for key, rows in fetched.items())
        return found

    async def _chat_keys(
        self, lookups: Iterable[ThreadKey]
    ) -> tuple[dict[ThreadKey, tuple[int, int]], dict[int, str]]:
        """(key -> (chat, customer), chat -> state) of the keys that point at a chat."""
        by_key: dict[ThreadKey, tuple[int, int]] = {}
        state: dict[int, str] = {}
        cache = self.cached
        if cache is None:
            missing = list(lookups)
        else:
            missing = []
            hits = 0
            for key in lookups:
                known, target, chat_state = cache.chat_of(key)
                if not known:
                    missing.append(key)
                    continue
                hits += 1
                if target is not None and chat_state is not None:
                    by_key[key] = target
                    state[target[0]] = chat_state
            self.cache_hits += hits
        if not missing:
            return by_key, state
        self.cache_misses += len(missing)
        rows = await self._looked_up("chat_keys", lambda: self._chat_keys_query(missing))
        asked = set(missing)  # read ahead, the keys of duplicates are there too
        rows = [row for row in rows if (row[0], row[1]) in asked]
        for iid, key, chat_id, customer_id, chat_state in rows:
            by_key[(iid, key)] = (chat_id, customer_id)
            state[chat_id] = chat_state
        if cache is not None:
            self.seen.keys.update((key, by_key.get(key)) for key in missing)  # None: no chat yet
            self.seen.chat_states.update((r[2], r[4]) for r in rows)
        return by_key, state

    async def _chats(
        self, entries: list[tuple[_Item, int, int]], customer_ids: list[int], contact_ids: list[int]
    ) -> list[int]:
        """Find the chat of every entry by its thread keys, or open one (closed-chat policy)."""
        sql = self.sql
        lookups: set[tuple[int, str]] = set()
        for item, _raw, idx in entries:
            msg = item.messages[idx]
            iid = item.bound.integration.id
            lookups.add((iid, msg.thread_key))
            lookups.update((iid, ref) for ref in msg.thread_refs)
        # (integration, key) -> (chat id, customer id); chat id -> state
        by_key, state = await self._chat_keys(lookups)

        chat_of: list[int | None] = []
        new_chats: list[list[Any]] = []
        team_names: list[tuple[int, str | None]] = []  # per new chat: its integration's team
        pending: list[tuple[int, int]] = []
        new_by_thread: dict[tuple[int, str, int], int] = {}
        reopened: list[int] = []
        for n, (item, _raw, idx) in enumerate(entries):
            msg = item.messages[idx]
            iid = item.bound.integration.id
            customer = customer_ids[n]
            found = None
            for key in (*msg.thread_refs, msg.thread_key):
                known = by_key.get((iid, key))
                # A reply from a different sender never joins someone else's chat.
                if known is not None and known[1] == customer:
                    found = known[0]
                    break
            if found is not None and state[found] == "closed":
                if item.bound.channel.spec.closed_chat_policy == "reopen":
                    state[found] = "open"
                    reopened.append(found)
                else:
                    found = None
            if found is None:
                thread = (iid, msg.thread_key, customer)
                if thread not in new_by_thread:
                    new_by_thread[thread] = len(new_chats)
                    team = item.bound.integration.settings.get("team")
                    team_names.append((self.workspace_id, team if isinstance(team, str) and team else None))
                    new_chats.append(
                        [
                            0,
                            self.workspace_id,
                            iid,
                            customer,
                            contact_ids[n],
                            msg.thread_key,
                            msg.title,
                            "open",
                            self.stamp,
                            self.stamp,
                            self.stamp,
                            True,
                        ]
                    )
                pending.append((n, new_by_thread[thread]))
            chat_of.append(found)
        new_ids = await sql.new_ids("chats", len(new_chats))
        for row, new_id in zip(new_chats, new_ids, strict=True):
            row[0] = new_id
        team_of_new = {new_id: team_names[index] for index, new_id in enumerate(new_ids)}
        await sql.insert("chats", CHAT_COLUMNS, new_chats)
        if new_chats and writers_count_new_chats(sql.dialect):
            # Alike but for their workspace and integration: open, unassigned, a customer message.
            opened = Counter((row[1], row[2]) for row in new_chats)
            alike = {NewChat(ws, "open", iid, None, None, True): n for (ws, iid), n in opened.items()}
            await sql.insert("chat_counts", COUNT_COLUMNS, new_chat_counts(alike))
        for n, new_index in pending:
            chat_of[n] = new_ids[new_index]
        key_rows: dict[tuple[int, str], tuple[int, int | None]] = {}  # key -> (chat, as read)
        for n, (item, _raw, idx) in enumerate(entries):
            msg = item.messages[idx]
            iid = item.bound.integration.id
            known = by_key.get((iid, msg.thread_key))
            chat = chat_of[n]
            assert chat is not None
            if known is not None and known[0] == chat:
                continue  # already points at this chat: most messages of a running chat
            key_rows[(iid, msg.thread_key)] = (chat, known[0] if known is not None else None)
        if key_rows:
            self.seen.changed_keys.update(key_rows)
            lost = await claim_chat_keys(sql, key_rows)
            # Another process opened the chat for the same key and customer first: ours joins it.
            customer_of_new = {row[0]: row[3] for row in new_chats}
            won_by: dict[int, int] = {}
            for thread_key, (winner, winner_customer, winner_state) in lost.items():
                ours = key_rows[thread_key][0]
                if customer_of_new.get(ours) == winner_customer and winner_state != "closed":
                    won_by[ours] = winner
                    state[winner] = winner_state
            if won_by:
                chat_of = [won_by.get(c, c) if c is not None else None for c in chat_of]
                new_ids = [c for c in new_ids if c not in won_by]
                member, params = sql.member_of(sorted(won_by))
                await sql.run(f"DELETE FROM chats WHERE id{member}", params)
        self.new_chat_ids.update(new_ids)
        if new_ids:
            await sql.flush()  # Core next, on the same transaction
            self.events.extend(await route_new_chats(self.conn, new_ids, team_of_new))
        if reopened:
            self.reopened.update(reopened)
            self.seen.changed_chats.update(reopened)
            member, params = sql.member_of(reopened)
            await sql.run(f"UPDATE chats SET state = 'open', closed_at = NULL WHERE id{member}", params)
        if flow_wanted("chat_state_changed", self.listened) and (reopened or new_ids):
            flow = [
                ("chat_state_changed", cid, None, sql.json({"old": "closed", "new": "open"}), self.stamp)
                for cid in reopened
            ] + [
                ("chat_state_changed", cid, None, sql.json({"old": None, "new": "open"}), self.stamp)
                for cid in new_ids
            ]
            await sql.insert("flow_events", FLOW_COLUMNS, flow)
            self.wrote_flow = True

        return [c for c in chat_of if c is not None]

    async def _messages(
        self, entries: list[tuple[_Item, int, int]], chat_ids: list[int], ids: list[int]
    ) -> None:
        sql = self.sql
        rows = []
        for n, (item, raw_id, idx) in enumerate(entries):
            msg = item.messages[idx]
            profile = item.profiles[idx]
            rows.append(
                (
                    ids[n],
                    chat_ids[n],
                    item.bound.integration.id,
                    "inbound",
                    "customer",
                    (profile.name if profile and profile.name else None) or msg.sender.name,
                    msg.text,
                    sql.json(_plain(msg.meta)),
                    msg.event_id,
                    msg.automated,
                    raw_id,
                    self.stamp,
                    msg.provider_message_id,
                )
            )
        await sql.insert("messages", MESSAGE_COLUMNS, rows)
        attachment_rows, flow_rows = [], []
        received_wanted = flow_wanted("message_received", self.listened)
        for n, (item, _raw, idx) in enumerate(entries):
            msg = item.messages[idx]
            item.message_ids.append(ids[n])
            item.chat_ids.append(chat_ids[n])
            for att, stored in zip(msg.attachments, item.files[idx], strict=True) if msg.attachments else ():
                attachment_rows.append(
                    (
                        ids[n],
                        att.filename,
                        att.content_type,
                        stored.size,
                        stored.sha256,
                        str(stored.path),
                        self.stamp,
                    )
                )
            if received_wanted and not msg.automated:
                flow_rows.append(("message_received", chat_ids[n], ids[n], "{}", self.stamp))
        await sql.insert("attachments", ATTACHMENT_COLUMNS, attachment_rows)
        recipients = self.read.pop("recipients", None)
        if recipients is not None and self.reopened:  # read while they were closed
            recipients = [(r[0], "open" if r[0] in self.reopened else r[1], *r[2:]) for r in recipients]
        self.events.extend(
            await alert_new_messages(
                sql,
                self.now,
                [
                    (chat_ids[n], ids[n])
                    for n, (item, _raw, idx) in enumerate(entries)
                    if not item.messages[idx].automated and chat_ids[n] not in self.new_chat_ids
                ],
                recipients,
            )
        )
        if flow_rows:
            await sql.insert("flow_events", FLOW_COLUMNS, flow_rows)
            self.wrote_flow = True
        touched = sorted(set(chat_ids))
        in_touched = f" IN ({placeholders(len(touched))})"
        # The chats' rows first: on PostgreSQL this is the lock that orders these statements
        # with the triggers of concurrent writers (migrations 0010, 0012).
        touch = "UPDATE chats SET last_message_at = ?, updated_at = ?{bump} WHERE id"
        closing: list[tuple[str, Sequence[Any]]] = []
        if sql.dialect == "postgresql":  # and number this commit's events of each chat
            member, params = sql.member_of(touched)
            rows = await sql.all(
                touch.format(bump=BUMP) + member + RETURNING, [self.stamp, self.stamp, *params]
            )
            self.chat_seqs.update(seqs_of(rows))
        else:
            closing.append((touch.format(bump="") + in_touched, [self.stamp, self.stamp, *touched]))
        # The rest changes nothing in a chat the routing cache knows as settled, nor in one this
        # batch opened: inserted with has_inbound set, it has no tag and no read marker yet.
        settled = self.cached.settled if self.cached is not None else ()
        opened = self.new_chat_ids
        unsettled = [chat_id for chat_id in touched if chat_id not in settled and chat_id not in opened]
        if self.next_token is not None:
            self.seen.settled.update(opened.intersection(touched))
        in_unsettled = f" IN ({placeholders(len(unsettled))})"
        if unsettled:
            # The tag view's copy of it: no trigger follows this column (migration 0012).
            closing.append(
                (
                    f"UPDATE chat_tags SET last_message_at = ? WHERE chat_id{in_unsettled}",
                    [self.stamp, *unsettled],
                )
            )
            # What a new message does to the sidebar's figures, once per batch: every message
            # stored here is an inbound customer message.
            closing.append((MARK_INBOUND + in_unsettled, unsettled))
            closing.append((MARK_UNREAD + in_unsettled, unsettled))
        # In this order, after the chats' rows; on PostgreSQL in one round trip with the COMMIT
        # (run_in_order).
        await sql.run_in_order(closing)
        if unsettled and self.next_token is not None:  # the cache takes in this batch: which chats settled
            busy = await sql.all(
                f"SELECT chat_id FROM chat_tags WHERE chat_id{in_unsettled}"
                f" UNION SELECT chat_id FROM read_markers WHERE chat_id{in_unsettled}",
                [*unsettled, *unsettled],
            )
            self.seen.settled.update(set(unsettled).difference(row[0] for row in busy))

    async def _status_updates(self) -> None:
        updates: list[tuple[int, StatusUpdate]] = [
            (i.bound.integration.id, u) for i in self.batch for u in i.result.status_updates
        ]
        if not updates:
            return
        await self.sql.flush()  # Core next, on the same transaction
        rows = (
            await self.conn.execute(
                select(
                    s.messages.c.id,
                    s.messages.c.chat_id,
                    s.messages.c.integration_id,
                    s.messages.c.provider_message_id,
                    s.messages.c.delivery_status,
                ).where(
                    or_(
                        *(
                            and_(
                                s.messages.c.integration_id == iid,
                                s.messages.c.provider_message_id == u.provider_message_id,
                                # Inbound messages carry the provider's id too (for unsend).
                                s.messages.c.direction == "outbound",
                            )
                            for iid, u in updates
                        )
                    )
                )
            )
        ).all()
        current = {(r.integration_id, r.provider_message_id): r for r in rows}
        for iid, u in updates:
            row = current.get((iid, u.provider_message_id))
            if row is None:
                continue
            old = DeliveryStatus(row.delivery_status) if row.delivery_status else DeliveryStatus.PENDING
            if STATUS_RANK[u.status] <= STATUS_RANK[old] and u.status != DeliveryStatus.FAILED:
                continue
            await self.conn.execute(
                update(s.messages)
                .where(s.messages.c.id == row.id)
                .values(delivery_status=u.status.value, delivery_error=u.reason and redact(u.reason))
            )
            # Managers see "delivered" or "read" come in as they see "sent" (I19).
            self.events.append(delivery_status_event(row.chat_id, row.id, u.status.value))
