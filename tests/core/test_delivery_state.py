"""Delivery during an outage (issue 12, item 15): the API shows attempts, last error and the
next attempt; the retry budget is a duration; a failed reply can be retried; a restarted
server reclaims the deliveries its dead predecessor left in flight at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bridgekit.config import Config, OutboxConfig, load_config
from bridgekit.exceptions import ConfigError
from bridgekit.inbox.managers import create_manager
from bridgekit.runtime.leases import LeaseOwner
from bridgekit.storage import schema as s
from bridgekit.testing.harness import TEST_OUTBOX, RunningBridge
from tests.conftest import StartTestchat, customer_writes, integration, signed
from tests.support.sandbox import SandboxProvider
from tests.support.testchannel import TestChannelPlugin


async def _chat_with_reply(running: RunningBridge, text: str) -> tuple[int, int]:
    body, headers = signed({"id": "ev-1", "user": "u-1", "text": "hello?"})
    assert (await running.post_hook("acme", body, headers))[0] == 200
    chat_id = (await running.chats())[0]["id"]
    reply = await running.reply(chat_id, text)
    return chat_id, int(reply["id"])


async def _message(running: RunningBridge, chat_id: int, message_id: int) -> dict[str, Any]:
    (found,) = [m for m in await running.messages(chat_id) if m["id"] == message_id]
    return found


def _outbox(**changes: Any) -> Config:
    return Config(outbox=replace(TEST_OUTBOX, **changes))


async def test_during_an_outage_the_api_shows_attempts_last_error_and_next_attempt(
    sandbox: SandboxProvider,
    start_testchat: StartTestchat,
) -> None:
    running, chat_id, message_id = await _reply_in_outage(
        start_testchat,
        sandbox,
        "are you there?",
        status=500,
        retry_for=3600.0,
        base_delay=0.05,
        max_delay=0.2,
    )

    async def retried() -> Any:
        message = await _message(running, chat_id, message_id)
        delivery = message["delivery"]
        return message if delivery["attempts"] >= 3 and delivery["next_attempt_at"] else None

    message = await running.wait_for(retried)
    assert message["delivery_status"] == "pending"
    assert message["delivery"]["last_error"] == "forced 500"
    assert message["delivery"]["next_attempt_at"].endswith("Z")
    inbound = [m for m in await running.messages(chat_id) if m["direction"] == "inbound"]
    assert inbound[0]["delivery"] is None  # only replies have a delivery

    sandbox.failures.clear()  # the provider is back: the same job goes through, once
    sent = await running.wait_for(lambda: _when_status(running, chat_id, message_id, "sent"), timeout=10)
    assert sent["delivery"]["next_attempt_at"] is None
    assert sandbox.texts == ["are you there?"]


async def _reply_in_outage(
    start_testchat: StartTestchat, sandbox: SandboxProvider, text: str, status: int = 503, **outbox: float
) -> tuple[RunningBridge, int, int]:
    """bridgekit with these ``outbox`` retry settings, a provider answering ``status`` to every
    send from now on, and a reply ``text`` queued: (bridge, chat id, message id)."""
    running = await start_testchat(config=_outbox(**outbox))
    sandbox.fail_next(status, count=10_000)
    chat_id, message_id = await _chat_with_reply(running, text)
    return running, chat_id, message_id


async def _when_status(running: RunningBridge, chat_id: int, message_id: int, status: str) -> Any:
    message = await _message(running, chat_id, message_id)
    return message if message["delivery_status"] == status else None


async def test_an_outage_longer_than_many_attempts_does_not_fail_the_reply_within_the_budget(
    sandbox: SandboxProvider,
    start_testchat: StartTestchat,
) -> None:
    """Eight quick attempts used to be the whole budget; now it is a duration."""
    running, chat_id, message_id = await _reply_in_outage(
        start_testchat, sandbox, "still queued", retry_for=3600.0, base_delay=0.01, max_delay=0.02
    )
    await running.wait_for(lambda: len(sandbox.calls) >= 20)
    message = await _message(running, chat_id, message_id)
    assert message["delivery_status"] == "pending"
    assert message["delivery"]["attempts"] >= 20


async def test_past_the_budget_the_reply_fails_with_the_reason(
    sandbox: SandboxProvider,
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat(config=_outbox(retry_for=0.5, base_delay=0.05, max_delay=0.1))
    sandbox.fail_next(503, count=10_000)
    started = time.monotonic()
    chat_id, message_id = await _chat_with_reply(running, "too late")
    failed = await running.wait_for(lambda: _when_status(running, chat_id, message_id, "failed"))
    assert 0.3 < time.monotonic() - started < 5
    assert failed["delivery_error"] == "forced 503"
    assert failed["delivery"]["next_attempt_at"] is None
    # Retried while the budget lasted (on a starved machine an attempt may take most of it).
    assert failed["delivery"]["attempts"] >= 2
    assert len(sandbox.calls) == failed["delivery"]["attempts"]


def test_retry_budget_is_configured_in_seconds_and_max_attempts_is_refused_clearly(tmp_path: Any) -> None:
    path = tmp_path / "bridgekit.toml"
    path.write_text("[outbox]\nretry_for = 86400\n")
    assert load_config(path).outbox.retry_for == 86400
    assert OutboxConfig().retry_for == 6 * 3600
    path.write_text("[outbox]\nmax_attempts = 8\n")
    with pytest.raises(ConfigError, match="replaced by 'retry_for'"):
        load_config(path)
    path.write_text("[outbox]\nretry_for = -1\n")
    with pytest.raises(ConfigError, match="retry_for"):
        load_config(path)


async def test_a_failed_reply_can_be_retried_and_is_sent_once_with_the_same_key(
    sandbox: SandboxProvider,
    start_testchat: StartTestchat,
) -> None:
    running, chat_id, message_id = await _reply_in_outage(
        start_testchat, sandbox, "second chance", retry_for=0.3, base_delay=0.05, max_delay=0.1
    )
    await running.wait_for(lambda: _when_status(running, chat_id, message_id, "failed"))
    sandbox.failures.clear()

    retry = f"{running.url}/api/v1/messages/{message_id}/retry"
    async with running.session.post(retry) as resp:
        assert resp.status == 202
        assert await resp.json() == {"id": message_id, "delivery_status": "pending"}
    sent = await running.wait_for(lambda: _when_status(running, chat_id, message_id, "sent"))
    assert sent["delivery_error"] is None
    assert sandbox.texts == ["second chance"]
    assert len({call["key"] for call in sandbox.calls}) == 1  # the same idempotency key throughout

    async with running.session.post(retry) as resp:  # only failed replies
        assert resp.status == 409
        assert "failed" in (await resp.json())["error"]
    inbound = next(m for m in await running.messages(chat_id) if m["direction"] == "inbound")
    for path in (f"/messages/{inbound['id']}/retry", "/messages/999999/retry", "/messages/x/retry"):
        async with running.session.post(f"{running.url}/api/v1{path}") as resp:
            assert resp.status == 404


async def test_only_the_author_or_an_operator_may_retry(
    sandbox: SandboxProvider,
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat(config=_outbox(retry_for=0.3, base_delay=0.05, max_delay=0.1))
    chat_id = await customer_writes(running, "hello?")
    sandbox.fail_next(503, count=10_000)
    bridge = running.bridge
    _, author = await create_manager(bridge.db, bridge.workspace_id, "Author")
    _, other = await create_manager(bridge.db, bridge.workspace_id, "Other")
    url = f"{running.url}/api/v1"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {author}"}) as as_author:
        async with as_author.post(f"{url}/chats/{chat_id}/messages", json={"text": "mine"}) as resp:
            message_id = (await resp.json())["id"]
        await running.wait_for(lambda: _when_status(running, chat_id, message_id, "failed"))
        sandbox.failures.clear()
        async with (
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {other}"}) as as_other,
            as_other.post(f"{url}/messages/{message_id}/retry") as resp,
        ):
            assert resp.status == 403
        async with as_author.post(f"{url}/messages/{message_id}/retry") as resp:
            assert resp.status == 202
    await running.wait_for(lambda: _when_status(running, chat_id, message_id, "sent"))
    assert sandbox.texts == ["mine"]


async def test_a_restarted_server_reclaims_its_dead_predecessors_deliveries_at_once(
    make_bridge: Any, sandbox: SandboxProvider, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """The first server dies mid-send (its outbox is torn down with the send in flight); the
    next one on the same host does not wait out the 120 s lease."""
    config = _outbox(lease_seconds=120.0)
    first = await make_bridge(
        plugins={"testchat": channel_plugin}, integrations={"acme": integration(sandbox_url)}, config=config
    )
    sandbox.delay = 30  # the provider hangs: the send is in flight
    chat_id, message_id = await _chat_with_reply(first, "after the crash")
    await first.wait_for(lambda: sandbox.calls)
    assert first.bridge.outbox is not None
    await first.bridge.outbox.stop()  # the process "dies": the lease stays in the database
    async with first.bridge.db.read() as conn:
        state = (await conn.execute(select(s.outbox.c.state))).scalar_one()
    assert state == "sending"

    sandbox.delay = 0
    started = time.monotonic()
    await make_bridge(
        plugins={"testchat": TestChannelPlugin()},
        integrations={"acme": integration(sandbox_url)},
        config=config,
    )
    await first.wait_for(lambda: _when_status(first, chat_id, message_id, "sent"), timeout=20)
    assert time.monotonic() - started < 10
    assert sandbox.texts == ["after the crash"]


def test_only_provably_dead_lease_owners_are_reclaimed() -> None:
    """Several processes may share a PostgreSQL database: a live owner keeps its lease."""
    me = LeaseOwner.this_process()
    assert LeaseOwner.parse(str(me)) == me
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        assert not replace(me, pid=live.pid, instance="other").is_dead_predecessor_of(me)
        assert replace(me, pid=dead.pid, instance="other").is_dead_predecessor_of(me)
        assert replace(me, instance="previous run").is_dead_predecessor_of(me)  # our pid now
        assert replace(me, pid=live.pid, boot="an earlier boot", instance="x").is_dead_predecessor_of(me)
        assert not replace(me, host="another-host", pid=dead.pid).is_dead_predecessor_of(me)
        assert not me.is_dead_predecessor_of(me)  # never our own live leases
        assert LeaseOwner.parse("garbage") is None
    finally:
        live.kill()
        live.wait()
    assert os.getpid() == me.pid
