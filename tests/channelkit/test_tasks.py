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
