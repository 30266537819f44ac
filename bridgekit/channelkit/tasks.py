"""A plugin's background loop (polling delivery reports, re-reading templates): started by its
``bridgekit_startup``, cancelled and awaited by its ``bridgekit_shutdown``, never left running.
With several processes on one database, :meth:`BackgroundTask.start_elected` runs it on the
elected process only (``BridgeAPI.elected``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from bridgekit.bridge_api import BridgeAPI

ELECTION_CHECK_SECONDS = 1.0


class BackgroundTask:
    """At most one running loop; ``stop()`` ends it (twice, or never started, is harmless)."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` on the running event loop; a second start while it runs is a bug."""
        if self.running:
            work.close()
            raise RuntimeError("this background task is already running")
        self._task = asyncio.get_running_loop().create_task(work)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def start_elected(
        self,
        bridge: BridgeAPI,
        work: Callable[[], Coroutine[Any, Any, None]],
        *,
        check_every: float = ELECTION_CHECK_SECONDS,
    ) -> None:
        """Run ``work()`` while this process is elected; cancel it when the election is
        lost and run a new ``work()`` when it is won again."""
        self.start(_while_elected(bridge, work, check_every))


async def _while_elected(
    bridge: BridgeAPI, work: Callable[[], Coroutine[Any, Any, None]], check_every: float
) -> None:
    running: asyncio.Task[None] | None = None
    try:
        while True:
            elected = await bridge.elected()
            if elected and running is None:
                running = asyncio.get_running_loop().create_task(work())
            elif not elected and running is not None:
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
                running = None
            await asyncio.sleep(check_every)
    finally:
        if running is not None:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
