"""Another process holding SQLite's write lock (issue 12, item 16): a webhook is answered 503
with Retry-After within the provider's timeout instead of waiting as long as the lock lasts;
nothing acknowledged is lost and the redelivery is stored once."""

from __future__ import annotations

import sqlite3
import time

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import integration, signed
from tests.support.testchannel import TestChannelPlugin


async def test_a_locked_database_answers_503_fast_and_the_redelivery_is_stored_once(
    make_bridge, db_backend: str, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    if db_backend != "sqlite":
        pytest.skip("a write lock held by another process is SQLite's; PostgreSQL locks rows")
    running = await make_bridge(
        plugins={"testchat": channel_plugin}, integrations={"acme": integration(sandbox_url)}
    )
    assert (await running.post_hook("acme", *signed({"id": "ev-1", "user": "u-1", "text": "one"})))[0] == 200
    body, headers = signed({"id": "ev-2", "user": "u-1", "text": "two"})

    other = sqlite3.connect(make_url(running.bridge.db.url).database or "", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # e.g. a backup or a second bridgekit on the same file
    try:
        started = time.monotonic()
        async with running.session.post(f"{running.url}/hooks/acme", data=body, headers=headers) as resp:
            waited = time.monotonic() - started
            assert resp.status == 503
            assert int(resp.headers["Retry-After"]) > 0
            assert (await resp.json())["error"] == "busy"
        assert waited < 2.0  # LINE gives a webhook 2 s
    finally:
        other.rollback()
        other.close()

    for _ in range(2):  # the provider's redelivery, and one more for good measure
        assert (await running.post_hook("acme", body, headers))[0] == 200
    [chat] = await running.chats()
    assert [m["text"] for m in await running.messages(chat["id"])] == ["one", "two"]
