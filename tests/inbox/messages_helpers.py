"""Helpers for the messages/customers tests: chats from real signed webhooks, extra managers."""

from __future__ import annotations

import itertools
from typing import Any

import aiohttp
from sqlalchemy import select, update

from bridgekit.inbox.managers import create_manager
from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from tests.conftest import signed

_events = itertools.count(1)


async def customer_writes(
    running: RunningBridge, user: str = "u-1", text: str = "hello", **extra: Any
) -> int:
    """The customer ``user`` writes through the test channel; returns their chat id."""
    body, headers = signed({"id": f"ev-{next(_events)}", "user": user, "text": text, **extra})
    status, answer = await running.post_hook("acme", body, headers)
    assert status == 200, answer
    async with running.bridge.db.read() as conn:
        chat_id = (
            await conn.execute(
                select(s.messages.c.chat_id)
                .where(s.messages.c.direction == "inbound")
                .order_by(s.messages.c.id.desc())
                .limit(1)
            )
        ).scalar_one()
    return int(chat_id)


async def add_manager(running: RunningBridge, name: str, *permissions: str) -> tuple[int, dict[str, str]]:
    """Another manager; returns their id and the headers to act as them."""
    manager_id, token = await create_manager(
        running.bridge.db, running.bridge.workspace_id, name, operator=True, permissions=permissions
    )
    return manager_id, {"Authorization": f"Bearer {token}"}


async def request(
    running: RunningBridge,
    method: str,
    path: str,
    **kwargs: Any,
) -> tuple[int, Any]:
    """Any request (``path`` from the server root); returns status and the JSON body (or None)."""
    async with running.session.request(method, f"{running.url}{path}", **kwargs) as resp:
        data = await resp.json() if resp.content_type == "application/json" else None
        return resp.status, data


async def close_chat(running: RunningBridge, chat_id: int) -> None:
    async with running.bridge.db.write() as conn:
        await conn.execute(update(s.chats).where(s.chats.c.id == chat_id).values(state="closed"))


async def rows(running: RunningBridge, table: Any, *where: Any) -> list[Any]:
    async with running.bridge.db.read() as conn:
        return list((await conn.execute(select(table).where(*where).order_by(table.c.id))).all())


async def anonymous(running: RunningBridge, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    """A request with no manager token at all (what a customer's browser sends)."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{running.url}{path}", **kwargs) as resp,
    ):
        data = await resp.json() if resp.content_type == "application/json" else await resp.read()
        return resp.status, data
