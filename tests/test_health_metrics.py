"""``/health``, ``/ready`` and ``/metrics`` from outside: anyone learns that the server is alive, only an
operator or the configured metrics scraper learns what it runs (integration names, counters)."""

from __future__ import annotations

import json
from dataclasses import replace

import aiohttp
import pytest
from sqlalchemy import text

from bridgekit.config import Config
from bridgekit.inbox.managers import create_manager
from bridgekit.storage.db import migrations_head
from bridgekit.testing.harness import RunningBridge
from tests.conftest import integration, signed
from tests.support.testchannel import TestChannelPlugin

METRICS_TOKEN = "scrape-8f2c1e"


@pytest.fixture
async def running(make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin) -> RunningBridge:
    config = replace(Config(), metrics_token=METRICS_TOKEN)
    started: RunningBridge = await make_bridge(
        plugins={"testchat": channel_plugin},
        integrations={"acme-secret-shop": integration(sandbox_url)},
        config=config,
    )
    body, headers = signed({"id": "ev-1", "user": "u-1", "text": "hello"})
    assert (await started.post_hook("acme-secret-shop", body, headers))[0] == 200
    return started


async def get(running: RunningBridge, path: str, token: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session, session.get(running.url + path, headers=headers) as resp:
        return resp.status, await resp.text()


async def test_public_health_says_only_that_the_server_is_alive(running: RunningBridge) -> None:
    _, viewer = await create_manager(running.bridge.db, running.bridge.workspace_id, "Viewer")
    for token in (None, "bk_wrong", viewer):  # nobody, a guess, a manager without the seat
        status, text = await get(running, "/health", token)
        assert (status, json.loads(text)) == (200, {"status": "ok"})


async def test_health_details_and_metrics_need_an_operator_or_the_metrics_token(
    running: RunningBridge,
) -> None:
    operator = running.session.headers["Authorization"].removeprefix("Bearer ")
    for token in (operator, METRICS_TOKEN):
        status, text = await get(running, "/health", token)
        assert status == 200
        details = json.loads(text)
        assert (details["integrations"], details["database"]) == (["acme-secret-shop"], "ok")
        status, text = await get(running, "/metrics", token)
        assert status == 200
        assert 'integration="acme-secret-shop"' in text


async def test_metrics_are_refused_without_a_credential(running: RunningBridge) -> None:
    _, viewer = await create_manager(running.bridge.db, running.bridge.workspace_id, "Viewer")
    for token in (None, "scrape-wrong", viewer):
        status, text = await get(running, "/metrics", token)
        assert status == 401
        assert "acme-secret-shop" not in text
        assert "bridgekit_ingest_total" not in text


async def test_ready_says_the_database_answers_at_the_newest_migration(running: RunningBridge) -> None:
    """A load balancer sends traffic to a process only when /ready is 200: here the database
    answers and its schema is this code's; an operator also sees which revision it is at."""
    status, text = await get(running, "/ready", None)
    assert (status, json.loads(text)) == (200, {"status": "ready"})
    status, text = await get(running, "/ready", METRICS_TOKEN)
    details = json.loads(text)
    assert status == 200
    assert details["database"] == "ok"
    assert details["schema"] == details["schema_head"] == migrations_head()


async def test_ready_is_503_while_the_schema_is_behind_this_code(running: RunningBridge) -> None:
    """A new version started before its migrations ran (a rolling upgrade done in the wrong
    order) takes no traffic; /health still says it is alive, so nothing restarts it."""
    async with running.bridge.db.write() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '0002'"))
    async with aiohttp.ClientSession() as session, session.get(running.url + "/ready") as resp:
        assert resp.status == 503
        assert await resp.json() == {"status": "not ready"}
        assert resp.headers["Retry-After"]
    status, answer = await get(running, "/ready", METRICS_TOKEN)
    assert (status, json.loads(answer)["schema"]) == (503, "0002")
    assert (await get(running, "/health", None))[0] == 200
