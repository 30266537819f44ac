"""A background worker whose passes keep failing (a database restarting) logs one traceback,
then one line a pass, and says when its passes work again."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bridgekit.runtime.workers import BackgroundWorker


class Flaky(BackgroundWorker):
    name = "flaky"

    def __init__(self, failures: int) -> None:
        super().__init__(poll_interval=0.001)
        self.failures = failures
        self.passes = 0
        self.recovered = asyncio.Event()

    async def run_once(self) -> int:
        self.passes += 1
        if self.passes <= self.failures:
            raise ConnectionRefusedError("the database is restarting")
        self.recovered.set()
        return 0


async def test_a_run_of_failed_passes_logs_one_traceback(caplog: pytest.LogCaptureFixture) -> None:
    worker = Flaky(failures=4)
    with caplog.at_level(logging.WARNING, logger="bridgekit.flaky"):
        worker.start()
        await asyncio.wait_for(worker.recovered.wait(), 5)
        await worker.stop()
    records = [r for r in caplog.records if r.name == "bridgekit.flaky"]
    assert [r.exc_info is not None for r in records] == [True, False, False, False, False]
    assert all("restarting" in r.getMessage() for r in records[1:4])
    assert records[-1].getMessage() == "flaky passes work again"
