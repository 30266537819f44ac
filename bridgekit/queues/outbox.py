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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select, update
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
from bridgekit.storage.integrations import IntegrationRegistry
from bridgekit.storage.sql import upsert

log = logging.getLogger("bridgekit.outbox")


def backoff(attempt: int, cfg: OutboxConfig, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (attempt counts from 1)."""
    ceiling = float(min(cfg.max_delay, cfg.base_delay * 2.0 ** (attempt - 1)))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cfg.max_delay))
    return delay


async def queue_delivery(conn: AsyncConnection, message_id: int, integration_id: int, now: datetime) -> None:
    """Queue the delivery job of a stored outbound message, in the caller's transaction
    (the message is written by ``bridgekit.inbox.message_writer``)."""
    await conn.execute(
        s.outbox.insert().values(
            message_id=message_id,
            integration_id=integration_id,
            idempotency_key=uuid.uuid4().hex,
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

    async def run_once(self) -> int:
        """Claim the due jobs that fit in free slots and start delivering them."""
        free = self.cfg.concurrency - len(self._inflight)
        if free <= 0:
            await asyncio.sleep(0.01)
            return 0
        jobs = await self._claim(free)
        for job in jobs:
            task = asyncio.get_running_loop().create_task(self._deliver(job))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        return len(jobs)

    async def _claim(self, limit: int) -> list[_Job]:
        now = utcnow()
        o = s.outbox
        due = or_(
            and_(o.c.state == "pending", o.c.next_attempt_at <= now),
            and_(o.c.state == "sending", o.c.lease_until < now),
        )
        query = select(
            o.c.id,
            o.c.message_id,
            o.c.integration_id,
            o.c.idempotency_key,
            o.c.attempts,
            o.c.progress,
            o.c.retry_from,
            o.c.created_at,
        ).where(due)
        query = query.order_by(o.c.next_attempt_at, o.c.id).limit(limit)
        if not self.db.is_sqlite:
            query = query.with_for_update(skip_locked=True)

        async def claim_batch() -> list[_Job]:
            async with self.db.write() as conn:
                rows = (await conn.execute(query)).all()
                if not rows:
                    return []
                await conn.execute(
                    update(o)
                    .where(o.c.id.in_([r.id for r in rows]))
                    .values(
                        state="sending",
                        attempts=o.c.attempts + 1,
                        lease_until=now + timedelta(seconds=self.cfg.lease_seconds),
                        lease_owner=str(self.owner),
                        updated_at=now,
                    )
                )
            return [
                _Job(
                    r.id,
                    r.message_id,
                    r.integration_id,
                    r.idempotency_key,
                    r.attempts + 1,
                    dict(r.progress or {}),
                    r.retry_from or r.created_at,
                )
                for r in rows
            ]

        return await retry_on_conflict(claim_batch)

    async def _outbound(self, job: _Job) -> OutboundMessage:
        m, c, ct = s.messages, s.chats, s.contacts
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(
                        m.c.id,
                        m.c.chat_id,
                        m.c.text,
                        m.c.author_name,
                        m.c.author_kind,
                        c.c.thread_key,
                        c.c.title,
                        c.c.customer_id,
                        c.c.contact_id,
                    )
                    .join(c, c.c.id == m.c.chat_id)
                    .where(m.c.id == job.message_id)
                )
            ).one()
            contact_query = select(ct.c.kind, ct.c.value, ct.c.verified, ct.c.scope).where(
                ct.c.customer_id == row.customer_id, ct.c.scope.in_([0, job.integration_id])
            )
            if row.contact_id is not None:  # the handle the chat is with
                contact_query = contact_query.where(ct.c.id == row.contact_id)
            contacts = (await conn.execute(contact_query.order_by(ct.c.scope.desc(), ct.c.id))).all()
            last_inbound = (
                await conn.execute(
                    select(m.c.id, m.c.meta)
                    .where(m.c.chat_id == row.chat_id, m.c.direction == "inbound")
                    .order_by(m.c.id.desc())
                    .limit(1)
                )
            ).first()
            earlier_answer = None  # an outbound message between that inbound one and this one
            if last_inbound is not None:
                earlier_answer = (
                    await conn.execute(
                        select(m.c.id)
                        .where(
                            m.c.chat_id == row.chat_id,
                            m.c.direction == "outbound",
                            m.c.id > last_inbound.id,
                            m.c.id < row.id,
                        )
                        .limit(1)
                    )
                ).first()
            files = (
                await conn.execute(
                    select(s.attachments)
                    .where(s.attachments.c.message_id == job.message_id)
                    .order_by(s.attachments.c.id)
                )
            ).all()
            customer_name = (
                await conn.execute(select(s.customers.c.name).where(s.customers.c.id == row.customer_id))
            ).scalar()
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
            reply_context=dict((last_inbound.meta if last_inbound else None) or {}),
            first_answer=earlier_answer is None,
            attempt=job.attempts,
            author_kind=row.author_kind,
            progress=job.progress,
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

    async def _deliver(self, job: _Job) -> None:
        bound = self.registry.by_id(job.integration_id)
        if bound is None:
            await self._fail(job, "integration is not enabled", permanent=False)
            return
        try:
            message = await self._outbound(job)
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
        await self._succeed(job, message, result, charge if isinstance(charge, Charge) else None)

    async def _succeed(
        self, job: _Job, message: OutboundMessage, result: DeliveryResult, charge: Charge | None
    ) -> None:
        now = utcnow()

        async def record_success() -> None:
            async with self.db.write() as conn:
                await conn.execute(
                    update(s.outbox)
                    .where(s.outbox.c.id == job.id)
                    .values(state="sent", lease_until=None, lease_owner=None, last_error=None, updated_at=now)
                )
                await conn.execute(
                    update(s.messages)
                    .where(s.messages.c.id == job.message_id)
                    .values(
                        delivery_status=result.status.value,
                        provider_message_id=result.provider_message_id,
                        delivery_error=None,
                    )
                )
                if charge is not None and charge.amount_pu:
                    await conn.execute(
                        s.ledger.insert().values(
                            workspace_id=self.workspace_id,
                            outbox_id=job.id,
                            message_id=job.message_id,
                            integration_id=job.integration_id,
                            amount_pu=charge.amount_pu,
                            category=charge.category,
                            description=charge.description,
                            created_at=now,
                        )
                    )
                if result.thread_key:
                    await upsert(
                        conn,
                        s.chat_keys,
                        [
                            {
                                "integration_id": job.integration_id,
                                "key": result.thread_key,
                                "chat_id": message.chat_id,
                            }
                        ],
                        ["integration_id", "key"],
                        ["chat_id"],
                    )
                await write_flow_events(conn, [FlowRow("message_sent", message.chat_id, job.message_id)], now)

        await retry_on_conflict(record_success)
        self.metrics.inc("bridgekit_deliveries_total", outcome="sent")
        self._announce(message.chat_id, job.message_id, result.status.value)
        self.on_commit()

    def _announce(self, chat_id: int | None, message_id: int, status: str) -> None:
        data: dict[str, int | str] = {"message_id": message_id, "delivery_status": status}
        if chat_id is not None:
            data["chat_id"] = chat_id
        self.events.publish(Event("message.updated", data))

    async def _fail(
        self, job: _Job, reason: str, *, permanent: bool, retry_after: float | None = None
    ) -> None:
        reason = redact(reason)  # stored, shown to every manager and logged: no secrets (issue 12)
        now = utcnow()
        delay = backoff(job.attempts, self.cfg, retry_after)
        next_attempt_at = now + timedelta(seconds=delay)
        # Past the budget: the next attempt would come too late to be worth waiting for.
        final = permanent or next_attempt_at > job.retry_from + timedelta(seconds=self.cfg.retry_for)

        async def record_failure() -> None:
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
                    await conn.execute(
                        update(s.messages)
                        .where(s.messages.c.id == job.message_id)
                        .values(delivery_status=DeliveryStatus.FAILED.value, delivery_error=reason)
                    )
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

        await retry_on_conflict(record_failure)
        self.metrics.inc("bridgekit_deliveries_total", outcome="failed" if final else "retry")
        if final:
            self._announce(None, job.message_id, DeliveryStatus.FAILED.value)
        log.warning(
            "delivery of message %s %s: %s", job.message_id, "failed" if final else "will retry", reason
        )
