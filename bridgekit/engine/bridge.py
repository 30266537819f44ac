"""The running bridge: store, plugins, ingest pipeline and workers, started and stopped as one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.bridge_api import BridgeAPI
from bridgekit.config import Config, worker_slot
from bridgekit.engine.bots import FlowWorker
from bridgekit.exceptions import PermanentDeliveryError
from bridgekit.flow import ChatView
from bridgekit.inbox.charges import record_charge_once
from bridgekit.inbox.chat_batch import CLOSED
from bridgekit.inbox.chat_state import close_chats
from bridgekit.inbox.chats import ChatError, chat_view, raw_delivery, transcript
from bridgekit.inbox.customer_merge import add_handle, customer_for_handle, merge_customers
from bridgekit.inbox.customer_sends import delivery_key, queued_send, send_to_customer
from bridgekit.inbox.customers import CustomerError
from bridgekit.inbox.message_writer import message_created, write_note
from bridgekit.inbox.snooze import SnoozeWaker
from bridgekit.inbox.views_counts import CountCompactor
from bridgekit.ingest.pipeline import IngestPipeline
from bridgekit.model import Charge, DeliveryResult, IngestOutcome, Integration, RawDelivery, TranscriptEntry
from bridgekit.plugins import PluginHost
from bridgekit.queues.outbox import OutboxWorker
from bridgekit.redaction import install_log_redaction
from bridgekit.runtime.clock import utcnow
from bridgekit.runtime.events import Event, EventBus
from bridgekit.runtime.metrics import Metrics
from bridgekit.storage import schema as s
from bridgekit.storage.db import Database, one_starting_at_a_time, retry_on_conflict
from bridgekit.storage.election import Election
from bridgekit.storage.event_relay import EventRelay, listen_dsn
from bridgekit.storage.event_seq import sequence_events
from bridgekit.storage.files import FileStore
from bridgekit.storage.integrations import IntegrationRegistry
from bridgekit.storage.keyfiles import private_dir, server_key
from bridgekit.storage.media_urls import KEY_NAME as MEDIA_KEY_NAME
from bridgekit.storage.media_urls import MediaUrls
from bridgekit.storage.schema import valid_id
from bridgekit.storage.secret_box import SEALED, SecretBox

log = logging.getLogger("bridgekit")


class Bridge:
    """What plugins see of the running server (``bridgekit_startup(bridge)``).

    Public for plugins: :meth:`submit`, :meth:`integrations_for`, :meth:`plugin_settings`,
    :meth:`chat`, :meth:`chat_transcript`, :meth:`raw_delivery_for_message`, :meth:`add_note`,
    :meth:`send_text`, :meth:`send_to_customer`, :meth:`close_chats`, :meth:`customer_for_handle`,
    :meth:`add_handle`, :meth:`merge_customers`, :meth:`seal_secrets`,
    :meth:`open_secrets`,
    :attr:`public_url`, :attr:`data_dir`, :attr:`config`, :attr:`db`. Outbound media URLs come
    ready-made on ``OutboundAttachment.url``.
    """

    def __init__(self, config: Config, plugins: PluginHost) -> None:
        self.config = config
        self.plugins = plugins
        self.hooks = plugins.hooks
        self.db = Database(config.database_url, ingest_busy_timeout=config.ingest_busy_timeout)
        self.db.listened_flow_kinds = self.hooks.listened_flow_kinds
        self.metrics = Metrics()
        self.events = EventBus(self.metrics)
        self.registry = IntegrationRegistry(plugins)
        self.files = FileStore(config.data_dir)
        self.workspace_id = 0
        self.ingest: IngestPipeline | None = None
        self.outbox: OutboxWorker | None = None
        self.flow: FlowWorker | None = None
        self.snooze: SnoozeWaker | None = None
        self.counts: CountCompactor | None = None
        # The loops that run on one process of those sharing the database (docs/deploy.md).
        self.election = Election(self.db)
        # Realtime events to and from the other processes on the same PostgreSQL.
        self.relay: EventRelay | None = None
        self._media_urls: MediaUrls | None = None
        self._secret_box: SecretBox | None = None

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir

    @property
    def public_url(self) -> str | None:
        """``[server] public_url`` without a trailing slash: where providers reach this server."""
        return self.config.public_url.rstrip("/") if self.config.public_url else None

    @property
    def media_urls(self) -> MediaUrls:
        if self._media_urls is None:
            raise RuntimeError("the bridge is not started")
        return self._media_urls

    def media_url(self, attachment_id: int, filename: str) -> str | None:
        """A signed public URL of one stored attachment, or None without ``public_url``."""
        base = self.public_url
        return f"{base}{self.media_urls.path(attachment_id, filename)}" if base else None

    def plugin_settings(self, plugin_name: str) -> Mapping[str, Any]:
        """The ``[plugins.settings.<plugin_name>]`` table of the configuration."""
        return self.config.plugin_settings.get(plugin_name, {})

    async def elected(self) -> bool:
        """Whether this process runs the once-only background work now: always with SQLite;
        with PostgreSQL, one process of those sharing the database (``bridgekit.storage.election``)."""
        return await self.election.held()

    def integrations_for(self, channel: str) -> list[Integration]:
        return self.registry.for_channel(channel)

    async def submit(self, delivery: RawDelivery) -> IngestOutcome:
        """Hand one inbound delivery to the pipeline; durable when it returns accepted."""
        assert self.ingest is not None, "the bridge is not started"
        return await self.ingest.submit(delivery)

    async def chat(self, chat_id: int) -> ChatView | None:
        """The chat, or None when there is none (any id a plugin's route parsed may come here)."""
        if not valid_id(chat_id):
            return None
        async with self.db.read() as conn:
            row = (await conn.execute(select(s.chats).where(s.chats.c.id == chat_id))).first()
        return chat_view(row, self.registry) if row is not None else None

    async def chat_transcript(self, chat_id: int) -> list[TranscriptEntry]:
        """Every message of a chat in order, inbound ones with their raw delivery (E9)."""
        if not valid_id(chat_id):
            return []
        async with self.db.read() as conn:
            return await transcript(conn, chat_id)

    async def raw_delivery_for_message(self, message_id: int, *, channel: str | None = None) -> bytes | None:
        """The bytes an inbound message arrived as (an email's RFC 5322 source, E4).

        None when there is no such message or raw delivery, or, with ``channel``, when the
        message came through another channel."""
        if not valid_id(message_id):
            return None
        async with self.db.read() as conn:
            row = await raw_delivery(conn, message_id)
        if row is None:
            return None
        if channel is not None:
            bound = self.registry.by_id(row.integration_id) if row.integration_id else None
            if bound is None or bound.integration.channel != channel:
                return None
        return bytes(row.body)

    async def send_text(
        self,
        phone: str,
        text: str,
        *,
        idempotency_key: str,
        purpose: str = "notice",
        integration: str | None = None,
    ) -> DeliveryResult:
        """Text a customer's phone outside any chat (``bridgekit_send_text``)."""
        result = await self.hooks.call_first(
            "bridgekit_send_text",
            phone=phone,
            text=text,
            idempotency_key=idempotency_key,
            purpose=purpose,
            integration=integration,
        )
        if not isinstance(result, DeliveryResult):
            raise PermanentDeliveryError(
                "no plugin sends texts to phones here (install and configure bridgekit-sms)"
            )
        return result

    async def send_to_customer(
        self,
        customer_id: int,
        integration: str,
        text: str,
        *,
        idempotency_key: str,
        meta: Mapping[str, Any] | None = None,
        manager_id: int | None = None,
        author_name: str | None = None,
    ) -> int:
        """Queue one message for a customer on a plugin's behalf (``bridgekit.inbox.customer_sends``)."""
        bound = self.registry.get(integration)
        key = delivery_key(bound, idempotency_key)
        if not valid_id(customer_id):
            raise ChatError(f"no customer {customer_id}")
        if manager_id is not None and not valid_id(manager_id):
            raise ChatError(f"no manager {manager_id}")

        async def queue() -> tuple[int, list[Event]]:
            async with self.db.write() as conn:
                manager = None
                if manager_id is not None:
                    name = (
                        await conn.execute(select(s.managers.c.name).where(s.managers.c.id == manager_id))
                    ).scalar()
                    if name is None:
                        raise ChatError(f"no manager {manager_id}")
                    manager = (manager_id, str(name))
                message_id, events = await send_to_customer(
                    conn,
                    workspace_id=self.workspace_id,
                    bound=bound,
                    customer_id=customer_id,
                    text=text,
                    meta=meta,
                    key=key,
                    manager=manager,
                    author_name=author_name,
                )
                return message_id, await sequence_events(conn, events)

        try:
            message_id, events = await queue()
        except IntegrityError:
            # The same key queued by a concurrent call (PostgreSQL): that call's message.
            async with self.db.read() as conn:
                earlier = await queued_send(conn, key, customer_id)
            if earlier is None:
                raise
            return earlier
        self.events.publish_many(events)
        self.wake_outbox()
        return message_id

    async def add_note(self, chat_id: int, text: str, *, author_name: str | None = None) -> int:
        """Add an internal note to a chat on a plugin's behalf; never delivered out."""
        async with self.db.write() as conn:
            note_id = await write_note(
                conn, chat_id, text, author_kind="plugin", author_id=None, author_name=author_name
            )
            events = await sequence_events(conn, [message_created(chat_id, note_id, "note")])
        self.events.publish_many(events)
        return note_id

    async def close_chats(self, integration: str, note: str, *, author_name: str | None = None) -> list[int]:
        """Close the integration's chats not closed yet, a note in each saying why."""
        bound = self.registry.get(integration)
        c = s.chats
        async with self.db.write() as conn:
            ids = list(
                (
                    await conn.execute(
                        select(c.c.id).where(c.c.integration_id == bound.integration.id, c.c.state != CLOSED)
                    )
                ).scalars()
            )
            notes = []
            for chat_id in ids:
                note_id = await write_note(
                    conn, chat_id, note, author_kind="plugin", author_id=None, author_name=author_name
                )
                notes.append(message_created(chat_id, note_id, "note"))
            outcome = await close_chats(conn, ids)
            outcome.events[:0] = notes  # one number per chat for its note and its closing
            await outcome.sequenced(conn)
        self.events.publish_many(outcome.events)
        return list(outcome.changed)

    def _box(self) -> SecretBox:
        if self._secret_box is None:
            raise RuntimeError("the server has not started: no key to seal secrets with yet")
        return self._secret_box

    def seal_secrets(self, values: Mapping[str, str]) -> str:
        return self._box().seal(values).get(SEALED, "")

    def open_secrets(self, sealed: str) -> dict[str, str]:
        return self._box().open({SEALED: sealed}, integration="(a plugin's sealed value)") if sealed else {}

    async def record_charge(self, integration: str, charge: Charge, *, message_id: int | None = None) -> bool:
        """Write a charge that is not an outbound send to the ledger, once per integration
        and description (``bridgekit.inbox.charges``); True when it was written now."""
        bound = self.registry.get(integration)
        if message_id is not None and not valid_id(message_id):
            message_id = None

        async def write() -> bool:
            async with self.db.write() as conn:
                return await record_charge_once(
                    conn,
                    workspace_id=self.workspace_id,
                    integration_id=bound.integration.id,
                    charge=charge,
                    message_id=message_id,
                )

        return await retry_on_conflict(write)

    def _scope(self, integration: str | None) -> int:
        return 0 if integration is None else self.registry.get(integration).integration.id

    async def customer_for_handle(
        self, kind: str, value: str, *, integration: str | None = None
    ) -> int | None:
        """The owner of a verified handle (``bridgekit.inbox.customer_merge``)."""
        handle = (kind, self._scope(integration), value)
        async with self.db.read() as conn:
            return await customer_for_handle(conn, self.workspace_id, handle)

    async def add_handle(
        self,
        kind: str,
        value: str,
        *,
        customer_id: int | None = None,
        integration: str | None = None,
        name: str | None = None,
        member: bool = False,
    ) -> int:
        """Insert-or-get a verified handle's owner (``bridgekit.inbox.customer_merge``)."""
        handle = (kind, self._scope(integration), value)
        if customer_id is not None and not valid_id(customer_id):
            raise CustomerError(f"no customer {customer_id}", status=404)

        async def write() -> int:
            async with self.db.write() as conn:
                return await add_handle(
                    conn, self.workspace_id, handle, customer_id=customer_id, name=name, member=member
                )

        owner = await retry_on_conflict(write)
        self.events.publish(Event("customer.updated", {"customer_id": owner}))
        return owner

    async def merge_customers(self, keep_id: int, merge_id: int) -> None:
        """Merge one customer into another (``bridgekit.inbox.customer_merge``)."""
        for customer_id in (keep_id, merge_id):
            if not valid_id(customer_id):
                raise CustomerError(f"no customer {customer_id}", status=404)

        async def write() -> None:
            async with self.db.write() as conn:
                await merge_customers(conn, self.workspace_id, keep_id, merge_id)

        await retry_on_conflict(write)
        self.events.publish(Event("customer.updated", {"customer_id": keep_id}))

    def wake_outbox(self) -> None:
        if self.outbox is not None:
            self.outbox.wakeup.set()

    def _wake_flow(self) -> None:
        if self.flow is not None:
            self.flow.wakeup.set()

    async def start(self) -> None:
        # Before anything is stored or served: a misconfigured integration is one clear line
        # (``bridgekit_check_integration``), not a failure at its first webhook.
        self.plugins.check_integrations(self.config.integrations, self.config.plugin_settings)
        private_dir(self.config.data_dir)
        private_dir(self.config.data_dir / "attachments")
        box = await asyncio.to_thread(SecretBox.load, self.config.data_dir, self.config.secret_keys)
        self._secret_box = box
        install_log_redaction()
        key = await asyncio.to_thread(server_key, self.config.data_dir, MEDIA_KEY_NAME)
        self._media_urls = MediaUrls(key, self.config.media_url_ttl)
        await self.db.migrate()
        self.workspace_id = await self._ensure_workspace()
        if not self.db.is_sqlite:
            self.relay = EventRelay(listen_dsn(self.db.sqlalchemy_url), self.events, self.metrics)
            await self.relay.start()
        await self.registry.sync(self.db, self.workspace_id, self.config.integrations, box)
        self.ingest = IngestPipeline(
            self.db,
            self.hooks,
            self.registry,
            self.files,
            self.metrics,
            self.workspace_id,
            on_commit=self._wake_flow,
            events=self.events,
            fill_wait=self.config.ingest_fill_wait if self.db.dialect == "postgresql" else 0.0,
            workers=slot[1] if (slot := worker_slot()) is not None else 1,
        )
        self.outbox = OutboxWorker(
            self.db,
            self.hooks,
            self.registry,
            self.metrics,
            self.config.outbox,
            self.workspace_id,
            self._wake_flow,
            events=self.events,
            media_url=self.media_url,
        )
        self.flow = FlowWorker(
            self.db,
            self.hooks,
            self.registry,
            self.config.outbox.poll_interval,
            self.wake_outbox,
            events=self.events,
            elected=self.election.held,
        )
        self.snooze = SnoozeWaker(self.db, self.events)
        await self.outbox.reclaim_dead_leases()
        self.outbox.start()
        self.flow.start()
        self.snooze.start()
        self.counts = CountCompactor(self.db, elected=self.election.held)
        self.counts.start()
        await self.hooks.call_all("bridgekit_startup", bridge=self)

    async def stop(self) -> None:
        await self.hooks.call_all("bridgekit_shutdown", bridge=self)
        if self.snooze is not None:
            await self.snooze.stop()
        for worker in (self.outbox, self.flow, self.counts):
            if worker is not None:
                await worker.stop()
        await self.election.resign()
        if self.ingest is not None:
            await self.ingest.close()
        if self.relay is not None:
            await self.relay.stop()
        await self.db.dispose()

    async def _ensure_workspace(self) -> int:
        async with self.db.write() as conn:
            await one_starting_at_a_time(conn)
            existing = await installed_workspace(conn)
            if existing is not None:
                return existing
            result = await conn.execute(
                s.workspaces.insert().values(name="default", created_at=utcnow()).returning(s.workspaces.c.id)
            )
            return int(result.scalar_one())


async def installed_workspace(conn: AsyncConnection) -> int | None:
    """The installation's workspace (the first one), None before ``serve`` first started."""
    found = (await conn.execute(select(s.workspaces.c.id).order_by(s.workspaces.c.id).limit(1))).scalar()
    return int(found) if found is not None else None


def load_plugins(config: Config) -> PluginHost:
    host = PluginHost()
    host.load_entry_points(config.enabled_plugins)
    host.load_modules(config.plugin_modules)
    return host


def _implements_bridge_api(bridge: Bridge) -> BridgeAPI:
    return bridge  # mypy proves the core keeps the plugin-facing contract (bridgekit.bridge_api)
