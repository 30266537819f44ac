"""One LINE user is one customer with one chat, also when several bridgekit processes on one
database ingest their first messages at the same moment (issue 17).

Three bridges (each its own database engine, connections, group commit and LINE plugin) share
one database; every new user's messages are posted to all three at once, like webhooks a load
balancer spreads round-robin. Before the handle was unique, PostgreSQL made a customer (and a
chat) per process that saw the user first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from bridgekit_line.plugin import LinePlugin
from bridgekit_line.sandbox import LineSandbox
from sqlalchemy import func, select

from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge

MakeBridge = Callable[..., Awaitable[RunningBridge]]
PROCESSES = 3
USERS = 24
ROUNDS = 2  # each round: one message per user to every process at once


async def _post_until_stored(running: RunningBridge, line: LineSandbox, event: dict[str, Any]) -> None:
    """Post like LINE does: a 5xx is delivered again. Only SQLite answers one here (its write
    lock held by another process: 503); on PostgreSQL a race is no failure at all."""
    for attempt in range(50):
        response = await line.webhooks.post(f"{running.url}/hooks/acme", [event], redelivery=attempt > 0)
        if response.status == 200:
            return
        assert (response.status, running.bridge.db.is_sqlite) == (503, True)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{event} never stored")


@pytest.fixture
async def bridges(make_bridge: MakeBridge, line: LineSandbox) -> AsyncIterator[list[RunningBridge]]:
    """Three bridges on one database: separate engines, connections and group commits."""
    plugins = [LinePlugin() for _ in range(PROCESSES)]
    settings = {
        "channel": "line",
        "settings": line.integration_settings(),
        "secrets": line.integration_secrets(),
    }
    try:
        yield [await make_bridge(plugins={"line": p}, integrations={"acme": settings}) for p in plugins]
    finally:
        for plugin in plugins:
            await plugin.aclose()


async def _owners_and_chats(running: RunningBridge) -> tuple[int, dict[str, int], list[int], list[int]]:
    """(customers, LINE userId -> customers owning it, chats per customer, messages per chat)."""
    ct, ch = s.contacts.c, s.chats.c
    async with running.bridge.db.read() as conn:
        customers = (await conn.execute(select(func.count()).select_from(s.customers))).scalar_one()
        owners = (
            await conn.execute(
                select(ct.value, func.count(ct.customer_id.distinct()))
                .where(ct.kind == "line")
                .group_by(ct.value)
            )
        ).all()
        chats = (
            (await conn.execute(select(func.count()).select_from(s.chats).group_by(ch.customer_id)))
            .scalars()
            .all()
        )
        per_chat = (
            (await conn.execute(select(func.count()).select_from(s.messages).group_by(s.messages.c.chat_id)))
            .scalars()
            .all()
        )
    return customers, {value: n for value, n in owners}, list(chats), list(per_chat)


async def test_users_writing_to_several_processes_at_once_are_one_customer_with_one_chat(
    bridges: list[RunningBridge], line: LineSandbox
) -> None:
    users = [line.add_user(f"User {n}") for n in range(USERS)]
    for round_ in range(ROUNDS):
        await asyncio.gather(
            *(
                _post_until_stored(running, line, line.webhooks.text(user, f"round {round_} via {p}"))
                for user in users
                for p, running in enumerate(bridges)
            )
        )
    customers, owners, chats, per_chat = await _owners_and_chats(bridges[0])
    assert customers == USERS
    assert owners == {user: 1 for user in users}
    assert chats == [1] * USERS
    assert per_chat == [PROCESSES * ROUNDS] * USERS  # every message of a user in the one chat
    for running in bridges:  # what a manager sees on any process: one chat per user
        assert len(await running.chats()) == USERS


async def test_users_following_on_several_processes_at_once_are_one_customer(
    bridges: list[RunningBridge], line: LineSandbox
) -> None:
    """A follow comes before any message and creates the customer by itself (no chat)."""
    users = [line.add_user(f"Follower {n}") for n in range(USERS)]
    await asyncio.gather(
        *(
            _post_until_stored(running, line, line.webhooks.follow(user))
            for user in users
            for running in bridges
        )
    )
    customers, owners, chats, _ = await _owners_and_chats(bridges[0])
    assert (customers, owners, chats) == (USERS, {user: 1 for user in users}, [])
    await asyncio.gather(
        *(
            _post_until_stored(running, line, line.webhooks.text(user, "hi"))
            for user in users
            for running in bridges
        )
    )
    customers, owners, chats, _ = await _owners_and_chats(bridges[0])
    assert (customers, owners, chats) == (USERS, {user: 1 for user in users}, [1] * USERS)
