"""A background worker stops when asked, even when it is woken at the same moment: a server's
shutdown never hangs on one of its loops."""

from __future__ import annotations

import asyncio
import contextlib

from bridgekit.runtime.workers import BackgroundWorker


class Idle(BackgroundWorker):
    name = "idle"

    def __init__(self) -> None:
        super().__init__(poll_interval=60.0)
        self.idle = asyncio.Event()

    async def run_once(self) -> int:
        self.idle.set()
        return 0


async def test_a_worker_woken_as_it_is_stopped_stops() -> None:
    worker = Idle()
    worker.start()
    await asyncio.wait_for(worker.idle.wait(), 5)  # it sleeps now, until woken or 60 s pass
    worker.wakeup.set()  # work came in (a commit's wake-up) ...
    stopping = asyncio.create_task(worker.stop())  # ... as the server stops
    done, _ = await asyncio.wait([stopping], timeout=5)
    if not done:  # cancelled once more, so the test ends either way
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopping
    assert done == {stopping}, "the worker went on after it was cancelled"
