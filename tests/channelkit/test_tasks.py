"""channelkit.BackgroundTask: a plugin's loop runs until its shutdown stops it, and is gone after."""

from __future__ import annotations

import asyncio

import pytest

from bridgekit.channelkit import BackgroundTask


async def test_a_loop_runs_until_stopped_and_stopping_again_is_harmless() -> None:
    ticks: list[int] = []
    ticking = asyncio.Event()
    stopped = asyncio.Event()

    async def poll() -> None:
        try:
            while True:
                ticks.append(len(ticks))
                if len(ticks) == 3:
                    ticking.set()
                await asyncio.sleep(0)
        finally:
            stopped.set()  # the loop's own clean-up ran: it was cancelled, not abandoned

    task = BackgroundTask()
    await task.stop()  # never started: nothing to do
    task.start(poll())
    await asyncio.wait_for(ticking.wait(), 5)
    assert task.running
    await task.stop()
    assert stopped.is_set()
    assert not task.running
    count = len(ticks)
    await asyncio.sleep(0.01)
    assert len(ticks) == count  # nothing runs after stop()
    await task.stop()


async def test_a_second_start_while_running_is_refused_and_leaves_no_stray_coroutine() -> None:
    task = BackgroundTask()
    task.start(asyncio.sleep(3600))
    second = asyncio.sleep(3600)
    with pytest.raises(RuntimeError, match="already running"):
        task.start(second)
    assert second.cr_frame is None  # closed: no "coroutine was never awaited" warning
    await task.stop()
    task.start(asyncio.sleep(0))  # a stopped task may start again
    await task.stop()


class _Elections:
    """What ``start_elected`` asks of the bridge: whether this process is elected now."""

    def __init__(self) -> None:
        self.now = False

    async def elected(self) -> bool:
        return self.now


async def test_an_elected_loop_runs_only_while_this_process_is_elected() -> None:
    elections = _Elections()
    runs: list[str] = []
    running = asyncio.Event()

    async def poll() -> None:
        runs.append("started")
        running.set()
        try:
            await asyncio.sleep(3600)
        finally:
            runs.append("cancelled")
            running.clear()

    task = BackgroundTask()
    task.start_elected(elections, poll, check_every=0.01)  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert runs == []  # another process is elected: nothing runs here
    elections.now = True
    await asyncio.wait_for(running.wait(), 5)
    elections.now = False  # lost the election (its connection died): the loop stops
    for _ in range(500):
        if runs == ["started", "cancelled"]:
            break
        await asyncio.sleep(0.01)
    assert runs == ["started", "cancelled"]
    elections.now = True  # won again: a new run of the loop
    await asyncio.wait_for(running.wait(), 5)
    await task.stop()
    assert runs == ["started", "cancelled", "started", "cancelled"]
