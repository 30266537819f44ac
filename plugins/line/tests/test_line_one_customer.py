"""One LINE user is one customer with one chat, also when several bridgekit processes on one
database ingest their first messages at the same moment (issue 17).

Three bridges (each its own database engine, connections, group commit and LINE plugin) share
one database; every new user's messages are posted to all three at once, like webhooks a load
balancer spreads round-robin. Before the handle was unique, PostgreSQL made a customer (and a
chat) per process that saw the user first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bridgekit_line.plugin import LinePlugin
from bridgekit_line.sandbox import LineSandbox
from sqlalchemy import func, select

from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge

MakeBridge = Callable[..., Awaitable[RunningBridge]]
PROCESSES = 3
USERS = 24
ROUNDS = 2  # each round: one message per user to every process at once


async def _post_until_stored(running: RunningBridge, line: LineSandbox, user: str, text: str) -> None:
    """Post like LINE does: a 5xx (SQLite's lock held by another process) is delivered again."""
    event = line.webhooks.text(user, text)
    for _ in range(50):
        response = await line.webhooks.post(f"{running.url}/hooks/acme", [event], redelivery=_ > 0)
        if response.status == 200:
            return
        assert response.status >= 500, response.status
        await asyncio.sleep(0.05)
    raise AssertionError(f"{text!r} never stored")


async def test_users_writing_to_several_processes_at_once_are_one_customer_with_one_chat(
    make_bridge: MakeBridge, line: LineSandbox
) -> None:
    plugins = [LinePlugin() for _ in range(PROCESSES)]
    try:
        bridges = [
            await make_bridge(
                plugins={"line": plugin},
                integrations={
                    "acme": {
                        "channel": "line",
                        "settings": line.integration_settings(),
                        "secrets": line.integration_secrets(),
                    }
                },
            )
            for plugin in plugins
        ]
        users = [line.add_user(f"User {n}") for n in range(USERS)]
        for round_ in range(ROUNDS):
            await asyncio.gather(
                *(
                    _post_until_stored(running, line, user, f"{user} round {round_} via {p}")
                    for user in users
                    for p, running in enumerate(bridges)
                )
            )
        async with bridges[0].bridge.db.read() as conn:
            customers = (await conn.execute(select(func.count()).select_from(s.customers))).scalar_one()
            per_user = (
                await conn.execute(
                    select(s.contacts.c.value, func.count(s.contacts.c.customer_id.distinct()))
                    .where(s.contacts.c.kind == "line")
                    .group_by(s.contacts.c.value)
                )
            ).all()
            chats = (
                await conn.execute(
                    select(s.chats.c.customer_id, func.count()).group_by(s.chats.c.customer_id)
                )
            ).all()
            stored = (await conn.execute(select(func.count()).select_from(s.messages))).scalar_one()
        assert customers == USERS
        assert sorted(value for value, _ in per_user) == sorted(users)
        assert {owners for _, owners in per_user} == {1}
        assert len(chats) == USERS
        assert {n for _, n in chats} == {1}  # every message of a user in the user's one chat
        assert stored == USERS * PROCESSES * ROUNDS
        # What a manager sees on any process: one chat per user.
        for running in bridges:
            assert len(await running.chats()) == USERS
    finally:
        for plugin in plugins:
            await plugin.aclose()
