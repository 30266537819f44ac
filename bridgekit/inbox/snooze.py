"""Snoozed chats wake at their time, also after a restart (I10).

The waker sleeps until the earliest ``snoozed_until`` in the database (not a coarse poll),
and :meth:`SnoozeWaker.reschedule` makes it re-read that time when a snooze is set. On start
it wakes every chat already due (snoozes that ended while the server was down) first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bridgekit.inbox.chat_state import next_wake, wake_due
from bridgekit.runtime.clock import utcnow
from bridgekit.runtime.events import EventBus
from bridgekit.runtime.workers import wait_woken
from bridgekit.storage.db import Database
from bridgekit.storage.event_seq import sequence_events

log = logging.getLogger("bridgekit.snooze")

# Another process (PostgreSQL deployments) may set a snooze this one is not told about;
# re-reading at least this often bounds how late such a chat can wake.
MAX_SLEEP = 60.0
RETRY_AFTER_ERROR = 1.0


class SnoozeWaker:
    """Reopens snoozed chats when their time comes and notifies the assignee."""

    def __init__(self, db: Database, events: EventBus) -> None:
        self.db = db
        self.events = events
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start waiting for the next wake-up (called when the bridge starts)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="snooze")

    async def stop(self) -> None:
        """Stop waiting (called when the bridge stops)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def reschedule(self) -> None:
        """A snooze was set or cleared: re-read the earliest wake-up time."""
        self._wakeup.set()

    async def _run(self) -> None:
        while True:
            # Cleared before reading: a reschedule() during the read is not lost.
            self._wakeup.clear()
            try:
                delay = await self._wake_and_measure()
            except Exception:
                log.exception("waking snoozed chats failed")
                delay = RETRY_AFTER_ERROR
            if delay is None or delay > 0:
                await wait_woken(self._wakeup, min(delay or MAX_SLEEP, MAX_SLEEP))

    async def _wake_and_measure(self) -> float | None:
        """Wake every due chat; seconds until the next one is due (None: none snoozed)."""
        while True:
            async with self.db.write() as conn:
                events, more = await wake_due(conn, utcnow())
                events = await sequence_events(conn, events)
            self.events.publish_many(events)
            if not more:
                break
        async with self.db.read() as conn:
            due = await next_wake(conn)
        if due is None:
            return None
        return max(0.0, (due - utcnow()).total_seconds())
