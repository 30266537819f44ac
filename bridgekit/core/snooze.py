"""Snoozed chats wake at their time, also after a restart (I10)."""

from __future__ import annotations

from bridgekit.core.db import Database
from bridgekit.core.events import EventBus


class SnoozeWaker:
    """Reopens snoozed chats when their time comes and notifies the assignee."""

    def __init__(self, db: Database, events: EventBus) -> None:
        self.db = db
        self.events = events

    def start(self) -> None:
        """Start waiting for the next wake-up (called when the bridge starts)."""

    async def stop(self) -> None:
        """Stop waiting (called when the bridge stops)."""

    def reschedule(self) -> None:
        """A snooze was set or cleared: re-read the earliest wake-up time."""
