"""Helpers for the inbox views tests: chats arrive through real signed webhooks; what other
areas' endpoints would set (assignee, team, state, tags) is written straight to the DB."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import select, update

from bridgekit.inbox.managers import create_manager
from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from tests.conftest import signed

BASE_TIME = datetime(2024, 5, 1, 9, 0, 0)


@dataclass
class Client:
    """One manager's API session."""

    running: RunningBridge
    session: aiohttp.ClientSession
    id: int

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.session.request(method, f"{self.running.url}/api/v1{path}", **kwargs) as resp:
            return resp.status, await resp.json()

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        status, body = await self.call(method, path, **kwargs)
        assert status == 200, (method, path, status, body)
        return body

    async def page(self, query: str = "") -> dict[str, Any]:
        result: dict[str, Any] = await self.ok("GET", f"/chats?{query}")
        return result

    async def ids(self, query: str = "") -> list[int]:
        """Every chat id of a list, following next_cursor to the end."""
        found: list[int] = []
        cursor = None
        sep = "&" if query else ""
        while True:
            tail = f"{sep}cursor={cursor}" if cursor else ""
            page = await self.page(query + tail)
            found += [c["id"] for c in page["chats"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return found

    async def views(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.ok("GET", "/views")
        return result


async def operator_client(running: RunningBridge) -> Client:
    """The harness's own operator ("Test Operator", the first manager)."""
    async with running.bridge.db.read() as conn:
        first = (await conn.execute(select(s.managers.c.id).order_by(s.managers.c.id).limit(1))).scalar_one()
    return Client(running, running.session, int(first))


async def new_client(running: RunningBridge, name: str, *, operator: bool = True, **values: Any) -> Client:
    manager_id, token = await create_manager(
        running.bridge.db, running.bridge.workspace_id, name, operator=operator
    )
    if values:
        async with running.bridge.db.write() as conn:
            await conn.execute(update(s.managers).where(s.managers.c.id == manager_id).values(**values))
    session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"})
    close_bridge = running.close

    async def close() -> None:  # the session ends with the bridge the fixture closes
        await session.close()
        await close_bridge()

    running.close = close  # type: ignore[method-assign]
    return Client(running, session, manager_id)


async def customer_writes(
    running: RunningBridge, integration: str, user: str, text: str, *, name: str | None = None
) -> None:
    event = {"id": f"ev-{user}-{text}-{datetime.now().timestamp()}", "user": user, "text": text}
    if name is not None:
        event["name"] = name
    body, headers = signed(event)
    status, answer = await running.post_hook(integration, body, headers)
    assert status == 200, answer


async def open_chats(running: RunningBridge, integration: str, count: int, prefix: str = "u") -> list[int]:
    """``count`` new chats (one customer each) in one webhook; returns their ids in order."""
    events = [{"id": f"{prefix}-{i}", "user": f"{prefix}{i}", "text": f"hello {i}"} for i in range(count)]
    body, headers = signed(*events)
    status, answer = await running.post_hook(integration, body, headers)
    assert status == 200, answer
    c = s.chats.c
    async with running.bridge.db.read() as conn:
        rows = await conn.execute(
            select(c.id)
            .join(s.contacts, s.contacts.c.id == c.contact_id)
            .where(s.contacts.c.value.in_([e["user"] for e in events]))
            .order_by(c.id)
        )
        return [int(r[0]) for r in rows]


async def set_chat(running: RunningBridge, chat_id: int, **values: Any) -> None:
    async with running.bridge.db.write() as conn:
        await conn.execute(update(s.chats).where(s.chats.c.id == chat_id).values(**values))


async def add_team(running: RunningBridge, name: str) -> int:
    async with running.bridge.db.write() as conn:
        result = await conn.execute(
            s.teams.insert()
            .values(workspace_id=running.bridge.workspace_id, name=name, auto_assign=False)
            .returning(s.teams.c.id)
        )
        return int(result.scalar_one())


async def tag(running: RunningBridge, chat_id: int, *tags: str) -> None:
    async with running.bridge.db.write() as conn:
        await conn.execute(s.chat_tags.insert(), [{"chat_id": chat_id, "tag": t} for t in tags])


async def follow(running: RunningBridge, chat_id: int, manager_id: int) -> None:
    async with running.bridge.db.write() as conn:
        await conn.execute(s.chat_followers.insert().values(chat_id=chat_id, manager_id=manager_id))


def minutes(n: float) -> datetime:
    return BASE_TIME + timedelta(minutes=n)
