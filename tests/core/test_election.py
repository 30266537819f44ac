"""Background work with several processes on one database (issue 17, docs/deploy.md).

One process is elected for the once-only loops and another takes over when it dies; the bots'
worker applies each event's actions once even when two workers handle the same events."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bridgekit.storage import schema as s
from bridgekit.storage.db import Database
from bridgekit.storage.election import Election
from bridgekit.testing.harness import start_bridge
from tests.conftest import integration, signed
from tests.support.bots import EchoBot
from tests.support.sandbox import SandboxProvider
from tests.support.testchannel import TestChannelPlugin


async def _until(check: object, seconds: float = 5.0) -> None:
    assert callable(check)
    for _ in range(int(seconds / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not within the time")


async def test_one_process_is_elected_and_another_takes_over_when_its_connection_dies(db_url: str) -> None:
    a_db, b_db = Database(db_url), Database(db_url)  # two processes' engines
    a, b = Election(a_db, "test.election", recheck=0.02), Election(b_db, "test.election", recheck=0.02)
    try:
        if a_db.is_sqlite:  # one process per SQLite database: it is always the elected one
            assert await a.held()
            return
        assert await a.held()
        assert not await b.held()
        await asyncio.sleep(0.05)
        assert await a.held()  # held, not taken again and again
        assert not await b.held()

        # The holder dies (its session ends, as when its process is SIGKILLed): b takes over,
        # and a, on its next look, knows it is no longer elected.
        async with b_db.write() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND objid::bigint = (CAST(:key AS bigint) & 4294967295)"
                    " AND pid <> pg_backend_pid()"
                ),
                {"key": a.key},
            )

        async def b_took_over() -> bool:
            return await b.held()

        await _until(b_took_over)
        assert not await a.held()

        await b.resign()  # stopping: a takes it at once
        await _until(a.held)
    finally:
        for election in (a, b):
            await election.resign()
        await a_db.dispose()
        await b_db.dispose()


async def test_two_bot_workers_on_the_same_events_apply_each_reply_once(
    db_url: str, make_bridge, sandbox: SandboxProvider, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """Even if two processes believed themselves elected (a lost connection not yet noticed),
    the event rows are claimed by the transaction that applies them (PostgreSQL: SQLite has
    one process, hence one bots' worker, and may reuse a deleted event's id)."""
    if "sqlite" in db_url:
        pytest.skip("one process per SQLite database: never two bots' workers")
    bots = [EchoBot(), EchoBot()]
    first, second = [
        await make_bridge(
            plugins={"testchat": channel_plugin, "echo": bot}, integrations={"acme": integration(sandbox_url)}
        )
        for bot in bots
    ]
    for running in (first, second):
        assert running.bridge.flow is not None
        await running.bridge.flow.stop()  # driven by hand below, both at once
    for n in range(20):
        body, headers = signed({"id": f"ev-{n}", "user": f"u-{n}", "text": f"question {n}"})
        assert (await first.post_hook("acme", body, headers))[0] == 200

    assert first.bridge.flow is not None
    assert second.bridge.flow is not None
    await asyncio.gather(first.bridge.flow.run_once(), second.bridge.flow.run_once())

    m = s.messages.c
    async with first.bridge.db.read() as conn:
        replies = (
            await conn.execute(
                select(m.text, func.count()).where(m.author_kind == "bot").group_by(m.text).order_by(m.text)
            )
        ).all()
        left = (await conn.execute(select(func.count()).select_from(s.flow_events))).scalar_one()
    assert [tuple(r) for r in replies] == sorted((f"echo: question {n}", 1) for n in range(20))
    assert left == 0
    assert set(bots[0].seen) | set(bots[1].seen) == {f"question {n}" for n in range(20)}


async def test_processes_starting_together_on_a_new_database_share_one_workspace(
    db_url: str, tmp_path: Path, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """Three bridges starting at the same moment on an empty database (three `bridgekit
    serve` started at once): every one starts, on one workspace with one integration row."""
    started = await asyncio.gather(
        *(
            start_bridge(
                database_url=db_url,
                data_dir=tmp_path / "data",
                plugins={"testchat": channel_plugin},
                integrations={"acme": integration(sandbox_url)},
            )
            for _ in range(3)
        )
    )
    try:
        assert len({running.bridge.workspace_id for running in started}) == 1
        async with started[0].bridge.db.read() as conn:
            workspaces = (await conn.execute(select(func.count()).select_from(s.workspaces))).scalar_one()
            rows = (await conn.execute(select(func.count()).select_from(s.integrations))).scalar_one()
        assert (workspaces, rows) == (1, 1)
    finally:
        for running in started:
            await running.close()
