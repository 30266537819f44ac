"""What a raw delivery keeps (issue 12, items 3 and 6): a replayed webhook is only counted, the
stored headers are an allow-list with capped values, and query-string secrets are redacted."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Text, func, select

from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from tests.conftest import StartTestchat, signed

JUNK_HEADERS = {f"X-Junk-{n}": "j" * 8000 for n in range(100)}  # ~800 KB, unsigned


async def raw_rows(running: RunningBridge) -> list[Any]:
    r = s.raw_deliveries
    async with running.bridge.db.read() as conn:
        return list(
            (
                await conn.execute(
                    select(r.c.headers, r.c.query, r.c.duplicates, r.c.status).order_by(r.c.id)
                )
            ).all()
        )


async def test_replays_with_junk_headers_keep_one_raw_row_and_a_counter(
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    body, headers = signed({"id": "ev-1", "user": "u-1", "text": "hello"})
    for _ in range(51):  # the delivery and 50 replays
        status, _ = await running.post_hook("acme", body, {**headers, **JUNK_HEADERS})
        assert status == 200

    [row] = await raw_rows(running)
    assert row.duplicates == 50
    assert set(row.headers) == {"x-test-signature", "content-type", "user-agent"}
    async with running.bridge.db.read() as conn:
        m, r = s.messages, s.raw_deliveries
        assert (await conn.execute(select(func.count()).select_from(m))).scalar_one() == 1
        stored = (
            await conn.execute(
                select(func.sum(func.length(r.c.body) + func.length(func.cast(r.c.headers, Text))))
            )
        ).scalar_one()
    assert stored < 4096  # was 50 rows of ~800 KB each


async def test_duplicates_inside_one_batch_are_counted_too(
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    body, headers = signed({"id": "ev-1", "user": "u-1", "text": "hello"})
    answers = await asyncio.gather(*(running.post_hook("acme", body, headers) for _ in range(10)))
    assert [a[0] for a in answers] == [200] * 10
    rows = await raw_rows(running)
    assert len(rows) == 1
    assert rows[0].duplicates == 9


async def test_a_partly_new_delivery_keeps_its_own_row(
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    first = {"id": "ev-1", "user": "u-1", "text": "one"}
    await running.post_hook("acme", *signed(first))
    await running.post_hook("acme", *signed(first, {"id": "ev-2", "user": "u-1", "text": "two"}))
    assert [r.duplicates for r in await raw_rows(running)] == [0, 0]
    [chat] = await running.chats()
    assert [m["text"] for m in await running.messages(chat["id"])] == ["one", "two"]


async def test_long_allowed_header_values_are_cut(
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    body, headers = signed({"id": "ev-1", "user": "u-1", "text": "hello"})
    await running.post_hook("acme", body, {**headers, "User-Agent": "u" * 8000})
    [row] = await raw_rows(running)
    assert len(row.headers["user-agent"]) == 2048
