"""The loop shared by the background workers (outbox, bots): work while there is work, else
sleep until woken or until the poll interval passes (a safety net for wake-ups from another
process). An exception in one pass is logged and the loop goes on; while passes keep failing
(a database restarting) only the first one logs its traceback.

A worker given ``elected`` (``Election.held`` of bridgekit.storage.election) works only while
it returns True: the loops that must run in one process of several sharing a database."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


class BackgroundWorker(abc.ABC):
    name = "worker"

    def __init__(self, poll_interval: float, elected: Callable[[], Awaitable[bool]] | None = None) -> None:
        self.poll_interval = poll_interval
        self.elected = elected
        self.wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._log = logging.getLogger(f"bridgekit.{self.name}")

    @abc.abstractmethod
    async def run_once(self) -> int:
        """Do one pass; return how much was done (0 = idle)."""

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        failing = False  # a run of failed passes (a database restarting) logs one traceback
        while True:
            try:
                done = await self.run_once() if self.elected is None or await self.elected() else 0
            except Exception as exc:
                if failing:
                    self._log.warning("%s pass failed again: %s", self.name, exc)
                else:
                    self._log.exception("%s pass failed", self.name)
                failing, done = True, 0
            else:
                if failing:
                    self._log.warning("%s passes work again", self.name)
                failing = False
            if done == 0:
                await wait_woken(self.wakeup, self.poll_interval)
                self.wakeup.clear()


async def wait_woken(wakeup: asyncio.Event, seconds: float) -> None:
    """Sleep until ``wakeup`` is set or ``seconds`` pass. Not ``asyncio.wait_for``: on Python
    3.11 it swallows a cancellation that comes as the event is set, and the loop it was to
    end goes on (a server's shutdown then waits for it forever)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wakeup.wait()
