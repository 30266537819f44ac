"""A plugin's background loop (polling delivery reports, re-reading templates): started by its
``bridgekit_startup``, cancelled and awaited by its ``bridgekit_shutdown``, never left running."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


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
