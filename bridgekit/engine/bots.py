"""The flow worker: runs bot hooks for committed events and applies their actions.

Events are rows in ``flow_events``, written in the transaction that made the change. The
worker reads them in order, calls the flow hook on every plugin (``HookCaller.call_flow``,
exceptions isolated), then applies the recorded actions and deletes the event in one
transaction. A crash before that commit re-runs the hooks; actions are never applied twice.

With several processes on one database the worker runs on the elected one
(:mod:`bridgekit.storage.election`), which keeps events in order. It also claims its events by
deleting them first in the applying transaction and applies only the actions of the events it
deleted: a concurrent deleter waits on the row locks and then finds nothing, so even two
workers reading the same events apply each event's actions once. (PostgreSQL only, whose ids
come from a sequence; SQLite may reuse a deleted event's id, but it has one process and so
one flow worker.)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.flow import (
    FLOW_HOOKS,
    Action,
    ChatStateEvent,
    CustomerEventView,
    FlowEvent,
    MessageEvent,
    MessageView,
)
from bridgekit.inbox.assignment import assign_chats
from bridgekit.inbox.capabilities import MAX_TEXT, CapabilityError, ChannelLimits
from bridgekit.inbox.chat_info import add_tag
from bridgekit.inbox.chat_state import close_chats
from bridgekit.inbox.chats import chat_view
from bridgekit.inbox.message_writer import message_created, write_note, write_reply
from bridgekit.plugins import HookCaller
from bridgekit.runtime.events import Event, EventBus
from bridgekit.runtime.workers import BackgroundWorker
from bridgekit.storage import schema as s
from bridgekit.storage.db import Database, is_conflict, retry_on_conflict
from bridgekit.storage.event_seq import sequence_events
from bridgekit.storage.integrations import IntegrationRegistry
from bridgekit.storage.sql import last_inbound_ids
from bridgekit.storage.storable import storable

log = logging.getLogger("bridgekit.bots")

HOOK_FOR_KIND = FLOW_HOOKS


async def _last_inbound_automated(conn: AsyncConnection, chat_ids: set[int]) -> set[int]:
    """The chats whose latest customer message was automated (an auto-reply, a bounce, a
    confirmation mail): a state change there is no occasion to write to a machine."""
    m = s.messages.c
    latest = last_inbound_ids(sorted(chat_ids))
    rows = await conn.execute(select(m.chat_id).where(m.id.in_(select(latest.c.id)), m.automated.is_(True)))
    return {int(r[0]) for r in rows}


class FlowWorker(BackgroundWorker):
    name = "flow"

    def __init__(
        self,
        db: Database,
        hooks: HookCaller,
        registry: IntegrationRegistry,
        poll_interval: float = 1.0,
        on_outbox: Callable[[], None] = lambda: None,
        events: EventBus | None = None,
        elected: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        super().__init__(poll_interval, elected)
        self.events = events or EventBus()
        self.db = db
        self.hooks = hooks
        self.registry = registry
        self.on_outbox = on_outbox

    async def run_once(self, limit: int = 500) -> int:
        """Handle up to ``limit`` pending events: three reads, the hooks, one write.

        Events of one batch see chats as they were when the batch was read; their actions
        are applied in event order in one transaction that also deletes the events.
        """
        async with self.db.read() as conn:
            rows = (await conn.execute(select(s.flow_events).order_by(s.flow_events.c.id).limit(limit))).all()
            if not rows:
                return 0
            chat_ids = {r.chat_id for r in rows}
            message_ids = {r.message_id for r in rows if r.message_id is not None}
            chats = {c.id: c for c in await conn.execute(select(s.chats).where(s.chats.c.id.in_(chat_ids)))}
            messages = (
                {
                    m.id: m
                    for m in await conn.execute(select(s.messages).where(s.messages.c.id.in_(message_ids)))
                }
                if message_ids
                else {}
            )
            state_chats = {r.chat_id for r in rows if r.kind == "chat_state_changed"}
            machine_chats = await _last_inbound_automated(conn, state_chats) if state_chats else set()
        events: list[FlowEvent | None] = []
        for row in rows:
            event = self._build(
                row, chats.get(row.chat_id), messages.get(row.message_id), row.chat_id in machine_chats
            )
            hook = HOOK_FOR_KIND[row.kind]
            if event is not None and self.hooks.implementations(hook):
                await self.hooks.call_flow(hook, event)
            events.append(event)

        async def apply_all() -> tuple[bool, list[Event]]:
            enqueued, announce = False, []
            async with self.db.write() as conn:
                f = s.flow_events.c
                claimed = set(
                    (
                        await conn.execute(
                            delete(s.flow_events).where(f.id.in_([r.id for r in rows])).returning(f.id)
                        )
                    ).scalars()
                )
                for row, event in zip(rows, events, strict=True):
                    if event is None or row.id not in claimed:
                        continue  # gone: another worker applied it
                    for action in event.actions:
                        if action.kind == "reply" and not event.replies_allowed:
                            log.info(
                                "bot %r: no reply to chat %s, its customer message was automated",
                                action.bot,
                                event.chat.id,
                            )
                            continue
                        try:
                            async with conn.begin_nested():  # one bad action never undoes the others
                                queued, produced = await self._apply(conn, event, action)
                            enqueued |= queued
                            announce.extend(produced)
                        except Exception as exc:
                            if is_conflict(exc):
                                raise  # the whole transaction is retried
                            log.exception("bot action %s from %r failed", action.kind, action.bot)
                announce = await sequence_events(conn, announce)
            return enqueued, announce

        enqueued, announce = await retry_on_conflict(apply_all)
        self.events.publish_many(announce)
        if enqueued:
            self.on_outbox()
        return len(rows)

    def _build(self, row: Any, chat: Any, message: Any, machine_chat: bool) -> FlowEvent | None:
        if chat is None:
            return None
        bound = self.registry.by_id(chat.integration_id) if chat.integration_id else None
        view = chat_view(chat, self.registry)
        integration = bound.integration if bound else None
        if row.kind == "chat_state_changed":
            payload = row.payload or {}
            return ChatStateEvent(
                view,
                integration,
                replies_allowed=not machine_chat,
                old_state=payload.get("old"),
                new_state=payload.get("new", chat.state),
            )
        if row.kind == "customer_event":
            payload = row.payload or {}
            return CustomerEventView(
                view,
                integration,
                kind=str(payload.get("kind", "")),
                data=dict(payload.get("data") or {}),
                customer_id=chat.customer_id,
            )
        if message is None:
            return None
        return MessageEvent(
            view,
            integration,
            replies_allowed=not message.automated,
            message=MessageView(
                id=message.id,
                direction=message.direction,
                text=message.text,
                author_kind=message.author_kind,
                created_at=message.created_at,
                automated=message.automated,
                meta=dict(message.meta or {}),
            ),
        )

    def _refusal(self, integration_id: int | None, text: str) -> str | None:
        """Why a bot's reply cannot go out on the chat's channel, as the manager API would
        refuse it (too long in the channel's unit, or not storable), else None."""
        if not storable(text):
            return "the text contains NUL characters or unpaired surrogates"
        if len(text) > MAX_TEXT:
            return f"the text is longer than {MAX_TEXT} characters"
        bound = self.registry.by_id(integration_id) if integration_id is not None else None
        if bound is None:
            return None
        try:
            ChannelLimits(bound.channel.spec).check_text(text)
        except CapabilityError as exc:
            return str(exc)
        return None

    async def _apply(
        self, conn: AsyncConnection, event: FlowEvent, action: Action
    ) -> tuple[bool, list[Event]]:
        """Apply one bot action with the same code the manager API uses.

        Returns whether it queued an outbound message, and realtime events to publish after
        the commit. A refused action (a 9th tag, a manager without the operator seat) is
        logged and skipped.
        """
        chat_id = event.chat.id
        if action.kind == "reply":
            text = str(action.value)
            refused = self._refusal(event.chat.integration_id, text)
            if refused is not None:
                # Managers see why the customer got no answer; the bot's hook is not retried.
                log.warning("bot %r: reply refused for chat %s: %s", action.bot, chat_id, refused)
                note_id = await write_note(
                    conn,
                    chat_id,
                    f"Reply from {action.bot} not sent: {refused}",
                    author_kind="bot",
                    author_id=None,
                    author_name=action.bot,
                )
                return False, [message_created(chat_id, note_id, "note")]
            reply_id = await write_reply(
                conn, chat_id=chat_id, text=text, author_kind="bot", author_name=action.bot
            )
            return True, [message_created(chat_id, reply_id, "outbound")]
        if action.kind == "note":
            note_id = await write_note(
                conn, chat_id, str(action.value), author_kind="bot", author_id=None, author_name=action.bot
            )
            return False, [message_created(chat_id, note_id, "note")]
        if action.kind == "tag":
            outcome = await add_tag(conn, [chat_id], str(action.value))
        elif action.kind == "assign":
            outcome = await assign_chats(conn, [chat_id], manager_id=int(action.value))
        elif action.kind == "close":
            outcome = await close_chats(conn, [chat_id])
        else:
            raise ValueError(f"unknown bot action {action.kind!r}")
        if chat_id in outcome.errors:
            log.warning(
                "bot %r: %s refused for chat %s: %s",
                action.bot,
                action.kind,
                chat_id,
                outcome.errors[chat_id],
            )
        return False, outcome.events
