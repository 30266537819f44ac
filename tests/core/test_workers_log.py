"""A background worker whose passes keep failing (a database restarting) logs one traceback,
then one line a pass, and says when its passes work again."""

from __future__ import annotations

import asyncio
import logging

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


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_a_run_of_failed_passes_logs_one_traceback() -> None:
    # A handler and a level on the worker's own logger: an earlier test's log set-up may
    # have raised the root logger's level or stopped propagation.
    logger, recorded = logging.getLogger("bridgekit.flaky"), Recorded()
    logger.addHandler(recorded)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        worker = Flaky(failures=4)
        worker.start()
        await asyncio.wait_for(worker.recovered.wait(), 5)
        await worker.stop()
    finally:
        logger.removeHandler(recorded)
        logger.setLevel(level)
    records = recorded.records
    # The first with its traceback (``log.exception``; bridgekit's own handlers may already
    # have turned exc_info into text), then one line a pass.
    assert [(r.levelno, r.getMessage()[:16]) for r in records[:2]] == [
        (logging.ERROR, "flaky pass faile"),
        (logging.WARNING, "flaky pass faile"),
    ]
    assert records[0].getMessage() == "flaky pass failed"
    assert [r.levelno for r in records[1:]] == [logging.WARNING] * 4
    assert all("restarting" in r.getMessage() for r in records[1:4])
    assert records[-1].getMessage() == "flaky passes work again"
