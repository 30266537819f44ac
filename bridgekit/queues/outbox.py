"""The outbox: durable outbound delivery with leases, retries and billing.

A manager's or bot's message and its outbox row are written in one transaction
(``bridgekit.inbox.message_writer`` calls :func:`queue_delivery`). The worker claims due rows
by setting a lease (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so several processes can share the
work), calls the owning plugin's ``bridgekit_deliver`` outside any transaction, and records
the result — status, provider id, ledger row, ``message_sent`` flow event — in one
transaction. A process that dies mid-send leaves a lease that expires (or that the restarted
server reclaims at once, :mod:`bridgekit.runtime.leases`); the retry carries the same
idempotency key, so a provider that honours it never sends twice, and the plugin's recorded
``progress`` tells it what the interrupted attempt may have sent.

The worker works in batches, so a send costs a small constant of database work (issue 15):
one transaction (one thread hop on SQLite) leases up to four times ``outbox.concurrency`` due jobs and
reads everything their OutboundMessages are built from with a few set-based queries;
the jobs claimed ahead wait, leased, in memory until a slot frees (given back when their
lease is half gone or the worker stops); the sends run concurrently up to
``outbox.concurrency`` (independent sends: no order between them is promised), a send's slot
freed once the provider answered; and the sends that finished meanwhile are recorded in one
transaction (a group commit), realtime events following its commit.

A failing send is retried until ``outbox.retry_for`` seconds after it was queued (or
manually retried, :func:`retry_failed`), then marked failed.

The retry schedule lives in the database (``next_attempt_at``) because a retry must survive
a restart; an in-process retry library cannot express that, so :func:`backoff` is the only
hand-written piece: exponential with "equal jitter".
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import NoResultFound
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.config import OutboxConfig
from bridgekit.exceptions import PermanentDeliveryError, TransientDeliveryError
from bridgekit.model import (
    Charge,
    Contact,
    DeliveryResult,
    DeliveryStatus,
    OutboundAttachment,
    OutboundMessage,
)
from bridgekit.plugins import HookCaller
from bridgekit.queues.flow_events import FlowRow, write_flow_events
from bridgekit.redaction import redact
from bridgekit.runtime.clock import utcnow
from bridgekit.runtime.events import Event, EventBus
from bridgekit.runtime.leases import LeaseOwner
from bridgekit.runtime.metrics import Metrics
from bridgekit.runtime.workers import BackgroundWorker
from bridgekit.storage import schema as s
from bridgekit.storage.db import Database, retry_on_conflict
from bridgekit.storage.event_seq import sequence_events
from bridgekit.storage.hotsql import (
    LAST_INBOUND_IDS_SQL,
    driver_sql,
    driver_ts,
    placeholders,
    read_json,
    read_ts,
)
from bridgekit.storage.integrations import IntegrationRegistry

log = logging.getLogger("bridgekit.outbox")

T = TypeVar("T")


def backoff(attempt: int, cfg: OutboxConfig, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (attempt counts from 1)."""
    ceiling = float(min(cfg.max_delay, cfg.base_delay * 2.0 ** (attempt - 1)))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cfg.max_delay))
    return delay


async def queue_delivery(
    conn: AsyncConnection, message_id: int, integration_id: int, now: datetime, *, key: str | None = None
) -> None:
    """Queue the delivery job of a stored outbound message, in the caller's transaction
    (the message is written by ``bridgekit.inbox.message_writer``). ``key`` is its
    idempotency key when the caller chose one (unique: a second job with it is refused by the
    database), else a fresh one."""
    await conn.execute(
        s.outbox.insert().values(
            message_id=message_id,
            integration_id=integration_id,
            idempotency_key=key or uuid.uuid4().hex,
            state="pending",
            attempts=0,
            next_attempt_at=now,
            progress={},
            retry_from=now,
            created_at=now,
            updated_at=now,
        )
    )


async def retry_failed(conn: AsyncConnection, message_id: int) -> bool:
    """Queue a failed message again, with the same idempotency key and a fresh retry budget.

    The plugin's recorded progress is cleared: retrying is a person's decision to send again
    after the delivery was given up (a provider retry key still stops a second copy of a send
    it accepted). False when the message has no failed delivery job.
    """
    now = utcnow()
    requeued = await conn.execute(
        update(s.outbox)
        .where(s.outbox.c.message_id == message_id, s.outbox.c.state == "failed")
        .values(
            state="pending",
            attempts=0,
            next_attempt_at=now,
            retry_from=now,
            progress={},
            last_error=None,
            lease_until=None,
            lease_owner=None,
            updated_at=now,
        )
    )
    if requeued.rowcount != 1:
        return False
    await conn.execute(
        update(s.messages)
        .where(s.messages.c.id == message_id)
        .values(delivery_status=DeliveryStatus.PENDING.value, delivery_error=None)
    )
    return True


async def delivery_states(conn: AsyncConnection, message_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per outbound message id: ``attempts``, ``last_error`` and ``next_attempt_at`` (set
    only while a retry is scheduled) of its delivery job."""
    if not message_ids:
        return {}
    o = s.outbox
    rows = await conn.execute(
        select(o.c.message_id, o.c.state, o.c.attempts, o.c.last_error, o.c.next_attempt_at).where(
            o.c.message_id.in_(message_ids)
        )
    )
    return {
        r.message_id: {
            "attempts": r.attempts,
            "last_error": r.last_error,
            "next_attempt_at": r.next_attempt_at if r.state == "pending" else None,
        }
        for r in rows
    }


class _LeaseLost(Exception):
    """The lease of this attempt was reclaimed by another worker: stop without sending."""


@dataclass(frozen=True, slots=True)
class _Job:
    id: int
    message_id: int
    integration_id: int
    idempotency_key: str
    attempts: int
    progress: Mapping[str, Any]
    retry_from: datetime
    lease_until: datetime


@dataclass(slots=True)
class _Sent:
    """A finished send waiting for the recorder's next transaction."""

    job: _Job
    message: OutboundMessage
    result: DeliveryResult
    charge: Charge | None


class _BatchRows(NamedTuple):
    rows: dict[int, Any]  # message and chat, by message id
    contacts: Sequence[Any]
    last_inbound: dict[int, Any]  # each chat's latest inbound message, by chat id
    first_answer_after: dict[int, int]  # the first outbound message id after it, by chat id
    files: dict[int, list[Any]]  # attachments, by message id
    names: dict[int, str | None]  # customer names, by customer id


# The claim's statements and most of the batch read's are plain SQL on the driver (as the
# recorder's are, below): through Core each cost its cache lookup, an execution context, the
# expanding ``IN`` rendered again for every batch size, and a result processor per value
# (about a third of the writer thread's time a text). Values are read back as Core would
# give them (``hotsql.read_ts``, ``read_json``, ``bool`` for SQLite's 0/1).
_m, _c = s.messages, s.chats
_JOB_SQL = (
    "SELECT id, message_id, integration_id, idempotency_key, attempts, progress, retry_from,"
    " created_at, next_attempt_at FROM outbox WHERE {due} ORDER BY next_attempt_at, id LIMIT ?"
)
# Due jobs in two statements, each read in the order of the (state, next_attempt_at) index so
# that LIMIT stops early: with an OR of the two, the whole backlog was read and sorted on
# every claim.
_DUE = (
    _JOB_SQL.format(due="state = 'pending' AND next_attempt_at <= ?"),
    _JOB_SQL.format(due="state = 'sending' AND lease_until < ?"),
)
_DUE_SKIP_LOCKED = tuple(q + " FOR UPDATE SKIP LOCKED" for q in _DUE)  # PostgreSQL: workers share the queue
_LEASE_SQL = (
    "UPDATE outbox SET state = 'sending', attempts = attempts + 1, lease_until = ?, lease_owner = ?,"
    " updated_at = ? WHERE id IN ({ids})"
)
_MESSAGES_WITH_CHATS_SQL = (
    "SELECT m.id, m.chat_id, m.text, m.author_name, m.author_kind, m.meta, c.thread_key, c.title,"
    " c.customer_id, c.contact_id FROM messages m JOIN chats c ON c.id = m.chat_id"
    " WHERE m.id IN ({ids})"
)
_CONTACTS_SQL = (
    "SELECT id, customer_id, kind, value, verified, scope FROM contacts"
    " WHERE customer_id IN ({customers}) AND scope IN ({scopes}) ORDER BY scope DESC, id"
)
_ATTACHMENTS_SQL = (
    "SELECT id, message_id, filename, content_type, size, storage_path FROM attachments"
    " WHERE message_id IN ({ids}) ORDER BY id"
)
_CUSTOMER_NAMES_SQL = "SELECT id, name FROM customers WHERE id IN ({ids})"


class _Contact(NamedTuple):
    id: int
    customer_id: int
    kind: str
    value: str
    verified: bool
    scope: int


# Each chat's latest inbound message (its meta is the reply context) ...
_LAST_INBOUND_SQL = "SELECT id, chat_id, meta FROM messages WHERE id IN ({ids})"
# ... and the first outbound message after it, one branch a chat (each a short walk forwards on
# ix_messages_chat_id_id): an answer was sent before a message when that one's id is smaller.
_FIRST_ANSWER_AFTER_SQL = (
    "SELECT c.id AS chat_id, (SELECT min(m.id) FROM messages m WHERE m.chat_id = c.id AND m.id > ?"
    " AND m.direction = 'outbound') AS first FROM chats c WHERE c.id = ?"
)
#: Branches a statement of those at most (SQLite allows 500 in a compound SELECT).
_UNION_BRANCHES = 200


def delivery_status_event(chat_id: int | None, message_id: int, status: str) -> Event:
    """``message.updated``: a reply's delivery status changed (sent, failed, a channel's
    delivered or read report, pending again after a retry)."""
    data: dict[str, int | str] = {"message_id": message_id, "delivery_status": status}
    if chat_id is not None:
        data["chat_id"] = chat_id
    return Event("message.updated", data)


async def _read_batch(conn: AsyncConnection, jobs: Sequence[_Job]) -> _BatchRows:
    """What the OutboundMessages of claimed jobs are built from, with a fixed number of queries
    for the whole batch (``OutboxWorker._outbound`` reads one job's through it too). It only awaits
    ``conn``: it runs in the SQLite inline writer."""
    dialect = conn.dialect.name

    async def driver_rows(sql: str, **fill: Sequence[Any]) -> Any:
        """Rows of one plain statement whose ``{name}`` lists are filled with placeholders."""
        text = sql.format(**{name: placeholders(len(values)) for name, values in fill.items()})
        params = tuple(v for values in fill.values() for v in values)
        return await conn.exec_driver_sql(driver_sql(dialect, text), params)

    message_ids = list({j.message_id for j in jobs})
    rows = {r.id: r for r in await driver_rows(_MESSAGES_WITH_CHATS_SQL, ids=message_ids)}
    if not rows:
        return _BatchRows({}, [], {}, {}, {}, {})
    customer_ids = list({r.customer_id for r in rows.values()})
    chat_ids = list({r.chat_id for r in rows.values()})
    scopes = list({0, *(j.integration_id for j in jobs)})
    contacts = [
        _Contact(r.id, r.customer_id, r.kind, r.value, bool(r.verified), r.scope)
        for r in await driver_rows(_CONTACTS_SQL, customers=customer_ids, scopes=scopes)
    ]
    latest = {
        r.chat_id: r.id
        for r in await driver_rows(LAST_INBOUND_IDS_SQL, chat_ids=chat_ids)
        if r.id is not None
    }
    last_inbound: dict[int, Any] = {}
    first_answer_after: dict[int, int] = {}
    if latest:
        last_inbound = {r.chat_id: r for r in await driver_rows(_LAST_INBOUND_SQL, ids=list(latest.values()))}
        pairs = list(latest.items())
        for at in range(0, len(pairs), _UNION_BRANCHES):
            chunk = pairs[at : at + _UNION_BRANCHES]
            answers = " UNION ALL ".join([_FIRST_ANSWER_AFTER_SQL] * len(chunk))
            params = tuple(v for chat_id, inbound_id in chunk for v in (inbound_id, chat_id))
            for r in await conn.exec_driver_sql(driver_sql(dialect, answers), params):
                if r.first is not None:
                    first_answer_after[r.chat_id] = r.first
    files: dict[int, list[Any]] = {}
    for f in await driver_rows(_ATTACHMENTS_SQL, ids=message_ids):
        files.setdefault(f.message_id, []).append(f)
    names = {r.id: r.name for r in await driver_rows(_CUSTOMER_NAMES_SQL, ids=customer_ids)}
    return _BatchRows(rows, contacts, last_inbound, first_answer_after, files, names)


# The recorder's statements, in plain SQL on the driver (``exec_driver_sql``, ``?`` rewritten
# for PostgreSQL): through Core the recorder cost about 40 us a send (statement cache, an
# execution context and bind processing per row); its rows are plain values.
_MARK_SENT_SQL = (
    "UPDATE outbox SET state = 'sent', lease_until = NULL, lease_owner = NULL, last_error = NULL,"
    " updated_at = ? WHERE id IN ({ids})"
)
_SET_STATUS_SQL = (
    "UPDATE messages SET delivery_status = ?, provider_message_id = ?, delivery_error = NULL WHERE id = ?"
)
_LEDGER_SQL = (
    "INSERT INTO ledger (workspace_id, outbox_id, message_id, integration_id, amount_pu, category,"
    " description, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_CHAT_KEY_SQL = (
    "INSERT INTO chat_keys (integration_id, key, chat_id) VALUES (?, ?, ?)"
    " ON CONFLICT (integration_id, key) DO UPDATE SET chat_id = excluded.chat_id"
)
#: Seconds the recorder lets answered sends gather while others are still at the provider.
_RECORD_GATHER = 0.005
#: A claim leases up to this many times ``outbox.concurrency`` jobs, less those being sent.
_CLAIM_AHEAD = 4


class OutboxWorker(BackgroundWorker):
    name = "outbox"

    def __init__(
        self,
        db: Database,
        hooks: HookCaller,
        registry: IntegrationRegistry,
        metrics: Metrics,
        cfg: OutboxConfig,
        workspace_id: int,
        on_commit: Callable[[], None] = lambda: None,
        events: EventBus | None = None,
        media_url: Callable[[int, str], str | None] = lambda attachment_id, filename: None,
    ) -> None:
        super().__init__(cfg.poll_interval)
        self.media_url = media_url
        self.events = events or EventBus()
        self.db = db
        self.hooks = hooks
        self.registry = registry
        self.metrics = metrics
        self.cfg = cfg
        self.workspace_id = workspace_id
        self.on_commit = on_commit
        self.owner = LeaseOwner.this_process()
        self._inflight: set[asyncio.Task[None]] = set()
        # Set when a send ends (its slot is free): the worker waits on this one event, not on
        # every send in flight (``asyncio.wait`` added and removed a callback on each of the
        # 16 sends every time a slot freed).
        self._slot_freed = asyncio.Event()
        # Finished sends are recorded by one task, many per transaction (a group commit): the
        # success transaction was most of a send's database work when each had its own.
        self._to_record: list[_Sent] = []
        self._recorder: asyncio.Task[None] | None = None
        # Claimed ahead: up to one batch of leased jobs (with their messages, when read) waits
        # here, so a freed slot starts its next send at once and claims come a batch at a time
        # rather than one per freed slot (a claim per send cost more than the send).
        self._ready: deque[tuple[_Job, OutboundMessage | None]] = deque()

    async def _write(self, work: Callable[[AsyncConnection], Coroutine[Any, Any, T]]) -> T:
        """Run ``work`` in one write transaction: on SQLite on the event loop
        (``Database.write_short``), so a batch's statements cost no aiosqlite round trips,
        and no GIL hand-offs to the writer thread (they cost a quarter of a text's CPU: a
        claim is ~1 ms of mostly Python, a record ~0.5 ms)."""
        if self.db.is_sqlite:
            return await self.db.write_short(work)
        return await retry_on_conflict(lambda: self.db.write_inline(work))

    async def reclaim_dead_leases(self) -> int:
        """Make the jobs leased by a dead predecessor of this process due now (at start)."""
        o = s.outbox
        async with self.db.read() as conn:
            leased = (
                await conn.execute(
                    select(o.c.id, o.c.lease_owner).where(
                        o.c.state == "sending", o.c.lease_owner.is_not(None)
                    )
                )
            ).all()
        dead = [
            (row.id, row.lease_owner)
            for row in leased
            if (owner := LeaseOwner.parse(row.lease_owner)) and owner.is_dead_predecessor_of(self.owner)
        ]
        if not dead:
            return 0
        now = utcnow()

        async def reclaim() -> int:
            async with self.db.write() as conn:
                done = 0
                for job_id, owner in dead:
                    # Only while that owner still holds it: another process may have reclaimed it.
                    result = await conn.execute(
                        update(o)
                        .where(o.c.id == job_id, o.c.state == "sending", o.c.lease_owner == owner)
                        .values(state="pending", lease_until=None, lease_owner=None, next_attempt_at=now)
                    )
                    done += result.rowcount
                return done

        reclaimed = await retry_on_conflict(reclaim)
        if reclaimed:
            log.warning("reclaimed %d delivery job(s) left in flight by a previous run", reclaimed)
        return reclaimed

    async def stop(self) -> None:
        await super().stop()
        for task in list(self._inflight):
            task.cancel()
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        # Sends that finished are recorded, not cancelled mid-commit: else they would go out again.
        if self._recorder is not None:
            await asyncio.gather(self._recorder, return_exceptions=True)
        if self._ready:  # claimed but not started: due again now, not when their lease runs out
            waiting = [job for job, _ in self._ready]
            self._ready.clear()
            try:
                await self._release(waiting)
            except Exception:
                log.exception("giving back %d claimed delivery job(s) failed", len(waiting))

    async def run_once(self) -> int:
        """Start the claimed jobs that fit in free slots; claim the next batch once none wait."""
        if len(self._inflight) >= self.cfg.concurrency:
            # Wait for a slot here: returning 0 would make the loop sleep a whole poll interval
            # while the queue is full of due work (that capped sends at concurrency/poll_interval).
            self._slot_freed.clear()
            await self._slot_freed.wait()
            await asyncio.sleep(0)  # the sends answered in the same turn of the loop free theirs too
        started = await self._start_ready()
        if self._ready:
            return started or 1  # every slot busy, jobs waiting: not idle
        jobs, read = await self._claim(_CLAIM_AHEAD * self.cfg.concurrency - len(self._inflight))
        if not jobs:
            return started
        prepared: dict[int, OutboundMessage] = {}
        if read is not None:
            try:
                prepared = self._build_batch(jobs, read)
            except Exception:
                # Each delivery then reads its own message, and fails or retries on its own.
                log.exception("building a batch of %d outbound messages failed", len(jobs))
        self._ready.extend((job, prepared.get(job.id)) for job in jobs)
        return started + len(jobs) + await self._start_ready()

    async def _start_ready(self) -> int:
        """Start claimed jobs in the free slots. A job whose lease is half gone (it waited too
        long: a stalled loop) goes back to the queue instead, so that it is never sent while
        another worker may claim it."""
        started, stale = 0, []
        now = utcnow()
        margin = timedelta(seconds=self.cfg.lease_seconds / 2)
        while self._ready and len(self._inflight) < self.cfg.concurrency:
            job, message = self._ready.popleft()
            if now > job.lease_until - margin:
                stale.append(job)
                continue
            task = asyncio.get_running_loop().create_task(self._deliver(job, message))
            self._inflight.add(task)
            task.add_done_callback(self._send_ended)
            started += 1
        if stale:
            await self._release(stale)
        return started

    def _send_ended(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slot_freed.set()

    async def _release(self, jobs: Sequence[_Job]) -> None:
        """Give claimed, unsent jobs back (due now, the claim's attempt not counted)."""
        o = s.outbox
        now = utcnow()

        async def release(conn: AsyncConnection) -> None:
            # Only while this worker still holds the lease: another may have reclaimed it.
            await conn.execute(
                update(o)
                .where(
                    o.c.id.in_([j.id for j in jobs]),
                    o.c.state == "sending",
                    o.c.lease_owner == str(self.owner),
                )
                .values(
                    state="pending",
                    attempts=o.c.attempts - 1,
                    lease_until=None,
                    lease_owner=None,
                    next_attempt_at=now,
                    updated_at=now,
                )
            )

        await self._write(release)

    async def _claim(self, limit: int) -> tuple[list[_Job], _BatchRows | None]:
        """Lease up to ``limit`` due jobs and read what their OutboundMessages are built from,
        in one transaction (one thread hop on SQLite)."""
        now = utcnow()
        lease_until = now + timedelta(seconds=self.cfg.lease_seconds)
        due = _DUE if self.db.is_sqlite else _DUE_SKIP_LOCKED

        async def claim_batch(conn: AsyncConnection) -> tuple[list[_Job], _BatchRows | None]:
            dialect = conn.dialect.name
            stamp = driver_ts(dialect, now)
            found = [
                r for q in due for r in await conn.exec_driver_sql(driver_sql(dialect, q), (stamp, limit))
            ]
            if not found:
                return [], None
            rows = sorted(found, key=lambda r: (r.next_attempt_at, r.id))[:limit]
            lease = _LEASE_SQL.format(ids=placeholders(len(rows)))
            await conn.exec_driver_sql(
                driver_sql(dialect, lease),
                (driver_ts(dialect, lease_until), str(self.owner), stamp, *(r.id for r in rows)),
            )
            jobs = [
                _Job(
                    r.id,
                    r.message_id,
                    r.integration_id,
                    r.idempotency_key,
                    r.attempts + 1,
                    dict(read_json(r.progress) or {}),
                    read_ts(r.retry_from or r.created_at),
                    lease_until,
                )
                for r in rows
            ]
            read: _BatchRows | None = None
            try:
                # A failed read must not cost the claim: each delivery then reads its own
                # message instead. PostgreSQL aborts a transaction at its first error, so the read
                # runs in a savepoint there; on SQLite a failed SELECT leaves the transaction
                # as it was, and the savepoint was an eighth of the claim's cost.
                if self.db.is_sqlite:
                    read = await _read_batch(conn, jobs)
                else:
                    async with conn.begin_nested():
                        read = await _read_batch(conn, jobs)
            except Exception:
                log.exception("reading a batch of %d outbound messages failed", len(jobs))
            return jobs, read

        return await self._write(claim_batch)

    def _build_batch(self, jobs: Sequence[_Job], read: _BatchRows) -> dict[int, OutboundMessage]:
        """The OutboundMessages of claimed jobs, by job id. A job whose message is missing is
        left out: :meth:`_deliver` reads it alone and fails as before."""
        rows, contacts, last_inbound, first_answer_after, files, names = read
        built: dict[int, OutboundMessage] = {}
        for job in jobs:
            row = rows.get(job.message_id)
            if row is None:
                continue
            # The customer's handles this integration may use (the chat's own one if it has
            # one), scope-specific first.
            mine = [
                x
                for x in contacts
                if x.customer_id == row.customer_id
                and x.scope in (0, job.integration_id)
                and (row.contact_id is None or x.id == row.contact_id)
            ]
            inbound = last_inbound.get(row.chat_id)
            answered = inbound is not None and first_answer_after.get(row.chat_id, row.id) < row.id
            built[job.id] = self._message(
                job, row, mine, names.get(row.customer_id), inbound, answered, files.get(job.message_id, [])
            )
        return built

    async def _outbound(self, job: _Job) -> OutboundMessage:
        """One job's OutboundMessage, read the way a claimed batch's are."""
        async with self.db.read() as conn:
            read = await _read_batch(conn, [job])
        built = self._build_batch([job], read)
        if job.id not in built:
            raise NoResultFound(f"message {job.message_id} of delivery job {job.id} is gone")
        return built[job.id]

    def _message(
        self,
        job: _Job,
        row: Any,
        contacts: Sequence[Any],
        customer_name: str | None,
        last_inbound: Any,
        answered: bool,
        files: Sequence[Any],
    ) -> OutboundMessage:
        bound = self.registry.by_id(job.integration_id)
        contact_kind = bound.channel.spec.contact_kind if bound else None
        # The chat's own handle, else the integration's handle (a LINE userId), else a shared
        # handle of the kind the channel reaches people by (an email address).
        chat_contact = contacts[0] if row.contact_id is not None and contacts else None
        pick = (
            chat_contact
            or next((x for x in contacts if x.scope == job.integration_id), None)
            or next((x for x in contacts if x.scope == 0 and x.kind == contact_kind), None)
        )
        recipient = (
            Contact(pick.kind, pick.value, customer_name, pick.verified, pick.scope == 0)
            if pick
            else Contact("unknown", "", customer_name)
        )
        return OutboundMessage(
            message_id=row.id,
            chat_id=row.chat_id,
            idempotency_key=job.idempotency_key,
            recipient=recipient,
            thread_key=row.thread_key or "",
            text=row.text,
            title=row.title,
            author_name=row.author_name,
            attachments=[
                OutboundAttachment(
                    f.filename,
                    f.content_type,
                    f.size,
                    Path(f.storage_path),
                    id=f.id,
                    url=self.media_url(f.id, f.filename),
                )
                for f in files
            ],
            reply_context=dict((read_json(last_inbound.meta) if last_inbound else None) or {}),
            first_answer=not answered,
            attempt=job.attempts,
            author_kind=row.author_kind,
            progress=job.progress,
            meta=dict(read_json(row.meta) or {}),
            save_progress=lambda progress: self._save_progress(job, progress),
        )

    async def _save_progress(self, job: _Job, progress: Mapping[str, Any]) -> None:
        o = s.outbox

        async def record() -> int:
            async with self.db.write() as conn:
                result = await conn.execute(
                    update(o)
                    .where(o.c.id == job.id, o.c.state == "sending", o.c.lease_owner == str(self.owner))
                    .values(progress=dict(progress), updated_at=utcnow())
                )
                return int(result.rowcount)

        if await retry_on_conflict(record) != 1:
            raise _LeaseLost(f"the lease of message {job.message_id} was taken over")

    async def _deliver(self, job: _Job, prepared: OutboundMessage | None = None) -> None:
        bound = self.registry.by_id(job.integration_id)
        if bound is None:
            await self._fail(job, "integration is not enabled", permanent=False)
            return
        try:
            message = prepared if prepared is not None else await self._outbound(job)
            result = await self.hooks.call_owner(
                "bridgekit_deliver", bound.channel.plugin, integration=bound.integration, message=message
            )
            if not isinstance(result, DeliveryResult):
                raise TypeError(f"bridgekit_deliver returned {type(result).__name__}, not DeliveryResult")
        except _LeaseLost as exc:
            log.warning("delivery attempt abandoned: %s", exc)
            return
        except PermanentDeliveryError as exc:
            await self._fail(job, exc.reason, permanent=True)
            return
        except TransientDeliveryError as exc:
            await self._fail(job, exc.reason, permanent=False, retry_after=exc.retry_after)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # A plugin bug: counted and retried like a transient failure, never fatal.
            self.hooks.record_failure(bound.channel.plugin_name, "bridgekit_deliver")
            log.exception("deliver raised in plugin %r", bound.channel.plugin_name)
            await self._fail(job, f"{type(exc).__name__}: {exc}", permanent=False)
            return
        charge = None
        try:
            charge = await self.hooks.call_owner(
                "bridgekit_bill",
                bound.channel.plugin,
                integration=bound.integration,
                message=message,
                result=result,
            )
        except Exception:
            self.hooks.record_failure(bound.channel.plugin_name, "bridgekit_bill")
            log.exception(
                "bill raised in plugin %r; the send is recorded unbilled", bound.channel.plugin_name
            )
        self._succeed(job, message, result, charge if isinstance(charge, Charge) else None)

    def _succeed(
        self, job: _Job, message: OutboundMessage, result: DeliveryResult, charge: Charge | None
    ) -> None:
        """Have a send recorded in the recorder's next transaction: status, provider id, ledger
        row, chat key and ``message_sent`` event. Its slot is free from here: the provider has
        answered, and the job stays leased until the record is committed."""
        self._to_record.append(_Sent(job, message, result, charge))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.get_running_loop().create_task(self._record_sent())

    async def _record_sent(self) -> None:
        """Commit the finished sends, all that are waiting in one transaction; the sends that
        finish meanwhile wait for the next one."""
        await asyncio.sleep(0)  # the sends finishing in this same turn of the loop join this one
        while self._to_record:
            if self._inflight and len(self._to_record) < self.cfg.concurrency:
                # More sends are about to be answered: let them join this transaction (a
                # transaction's own cost is most of a small one's).
                await asyncio.sleep(_RECORD_GATHER)
            batch, self._to_record = self._to_record, []
            try:
                wrote_flow, events = await self._write_sent(batch)
            except Exception as exc:
                if len(batch) == 1:
                    self._unrecorded(batch[0], exc)
                    continue
                # One bad row must not cost the others their record: each alone, as before.
                log.warning("recording %d sends together failed (%s); one at a time", len(batch), exc)
                await self._record_each(batch)
                continue
            self._after_sent(batch, wrote_flow, events)

    async def _record_each(self, batch: list[_Sent]) -> None:
        for sent in batch:
            try:
                wrote_flow, events = await self._write_sent([sent])
            except Exception as exc:
                self._unrecorded(sent, exc)
                continue
            self._after_sent([sent], wrote_flow, events)

    def _unrecorded(self, sent: _Sent, exc: Exception) -> None:
        # The job stays leased: when the lease runs out it is sent again, with the same
        # idempotency key (a plugin that kept its own record of the send answers from it).
        log.error("recording the send of message %s failed: %s", sent.job.message_id, redact(f"{exc!r}"))

    def _after_sent(self, batch: list[_Sent], wrote_flow: bool, events: list[Event]) -> None:
        # Realtime events and wake-ups only after the commit.
        self.metrics.inc("bridgekit_deliveries_total", len(batch), outcome="sent")
        self.events.publish_many(events)
        if wrote_flow:  # the flow worker has nothing new to read otherwise
            self.on_commit()

    async def _write_sent(self, batch: list[_Sent]) -> tuple[bool, list[Event]]:
        """Record finished sends in one transaction; whether a flow event was written, and
        the realtime events to publish."""
        now = utcnow()
        statuses = [(x.result.status.value, x.result.provider_message_id, x.job.message_id) for x in batch]
        # One row per key: an upsert may not touch a row twice (the last send's chat wins).
        keys = {
            (x.job.integration_id, x.result.thread_key): x.message.chat_id
            for x in batch
            if x.result.thread_key
        }
        flows = [FlowRow("message_sent", x.message.chat_id, x.job.message_id) for x in batch]
        ids = [x.job.id for x in batch]

        announced = [
            delivery_status_event(x.message.chat_id, x.job.message_id, x.result.status.value) for x in batch
        ]

        async def record_success(conn: AsyncConnection) -> tuple[bool, list[Event]]:
            dialect = conn.dialect.name
            stamp = driver_ts(dialect, now)
            mark_sent = _MARK_SENT_SQL.format(ids=placeholders(len(ids)))
            await conn.exec_driver_sql(driver_sql(dialect, mark_sent), (stamp, *ids))
            await conn.exec_driver_sql(driver_sql(dialect, _SET_STATUS_SQL), statuses)
            charges = [
                (
                    self.workspace_id,
                    x.job.id,
                    x.job.message_id,
                    x.job.integration_id,
                    x.charge.amount_pu,
                    x.charge.category,
                    x.charge.description,
                    stamp,
                )
                for x in batch
                if x.charge is not None and x.charge.amount_pu
            ]
            if charges:
                await conn.exec_driver_sql(driver_sql(dialect, _LEDGER_SQL), charges)
            if keys:
                await conn.exec_driver_sql(
                    driver_sql(dialect, _CHAT_KEY_SQL),
                    [(integration_id, key, chat_id) for (integration_id, key), chat_id in keys.items()],
                )
            wrote_flow = await write_flow_events(conn, flows, now)
            return wrote_flow, await sequence_events(conn, announced)

        return await self._write(record_success)

    async def _fail(
        self, job: _Job, reason: str, *, permanent: bool, retry_after: float | None = None
    ) -> None:
        reason = redact(reason)  # stored, shown to every manager and logged: no secrets (issue 12)
        now = utcnow()
        delay = backoff(job.attempts, self.cfg, retry_after)
        next_attempt_at = now + timedelta(seconds=delay)
        # Past the budget: the next attempt would come too late to be worth waiting for.
        final = permanent or next_attempt_at > job.retry_from + timedelta(seconds=self.cfg.retry_for)

        async def record_failure() -> list[Event]:
            async with self.db.write() as conn:
                if final:
                    await conn.execute(
                        update(s.outbox)
                        .where(s.outbox.c.id == job.id)
                        .values(
                            state="failed",
                            lease_until=None,
                            lease_owner=None,
                            last_error=reason,
                            updated_at=now,
                        )
                    )
                    chat_id = (
                        await conn.execute(
                            update(s.messages)
                            .where(s.messages.c.id == job.message_id)
                            .values(delivery_status=DeliveryStatus.FAILED.value, delivery_error=reason)
                            .returning(s.messages.c.chat_id)
                        )
                    ).scalar()
                    failed = delivery_status_event(chat_id, job.message_id, DeliveryStatus.FAILED.value)
                    return await sequence_events(conn, [failed])
                else:
                    await conn.execute(
                        update(s.outbox)
                        .where(s.outbox.c.id == job.id)
                        .values(
                            state="pending",
                            lease_until=None,
                            lease_owner=None,
                            last_error=reason,
                            next_attempt_at=next_attempt_at,
                            updated_at=now,
                        )
                    )
                    return []  # a retry changes nothing managers see

        events = await retry_on_conflict(record_failure)
        self.metrics.inc("bridgekit_deliveries_total", outcome="failed" if final else "retry")
        self.events.publish_many(events)
        log.warning(
            "delivery of message %s %s: %s", job.message_id, "failed" if final else "will retry", reason
        )
