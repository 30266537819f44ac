"""Helpers for the chats tests (issue 5): managers with their own sessions, chats opened
through real signed webhooks, and a bot that records state changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy import select

import bridgekit
from bridgekit.flow import ChatStateEvent
from bridgekit.inbox.managers import create_manager
from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from tests.conftest import signed


@dataclass
class Client:
    """One manager's API session."""

    running: RunningBridge
    manager_id: int
    token: str

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        kwargs = {} if body is None else {"json": body}
        headers = {"Authorization": f"Bearer {self.token}"}
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.request(method, f"{self.running.url}/api/v1{path}", **kwargs) as resp,
        ):
            return resp.status, await resp.json()

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, data = await self.call(method, path, body)
        assert status < 300, f"{method} {path} -> {status}: {data}"
        return data

    async def info(self, chat_id: int) -> dict[str, Any]:
        data: dict[str, Any] = await self.ok("GET", f"/chats/{chat_id}/info")
        return data


async def manager(
    running: RunningBridge, name: str, *, operator: bool = True, permissions: tuple[str, ...] = ()
) -> Client:
    manager_id, token = await create_manager(
        running.bridge.db, running.bridge.workspace_id, name, operator=operator, permissions=permissions
    )
    return Client(running, manager_id, token)


async def open_chats(
    running: RunningBridge, integration: str, users: list[str], *, prefix: str = "ev", **extra: Any
) -> list[int]:
    """One customer message per user in one signed webhook; the chats' ids in user order."""
    events = [
        {"id": f"{prefix}-{user}", "user": user, "text": f"hello from {user}", **extra} for user in users
    ]
    body, headers = signed(*events)
    status, text = await running.post_hook(integration, body, headers)
    assert status == 200, text
    m = s.messages
    async with running.bridge.db.read() as conn:
        rows = (
            await conn.execute(
                select(m.c.chat_id, m.c.event_id).where(m.c.event_id.in_([e["id"] for e in events]))
            )
        ).all()
    chat_of = {r.event_id: r.chat_id for r in rows}
    return [chat_of[e["id"]] for e in events]


async def notifications(running: RunningBridge, chat_id: int) -> list[tuple[int, str]]:
    """(manager, kind) of every notification about a chat: what managers were told."""
    n = s.notifications
    async with running.bridge.db.read() as conn:
        rows = await conn.execute(
            select(n.c.manager_id, n.c.kind).where(n.c.chat_id == chat_id).order_by(n.c.id)
        )
        return [(r.manager_id, r.kind) for r in rows]


class StateRecorder:
    """A bot that records the chat state changes it is shown."""

    def __init__(self) -> None:
        self.states: list[tuple[int, str | None, str]] = []

    @bridgekit.hookimpl
    def bridgekit_chat_state_changed(self, event: ChatStateEvent) -> None:
        self.states.append((event.chat.id, event.old_state, event.new_state))
