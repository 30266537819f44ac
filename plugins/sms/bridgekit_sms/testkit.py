"""Helpers for tests driving a running bridgekit with the SMS plugin (the plugin's own tests
and anyone checking texts end to end): start a chat with a phone number, wait for a
message's delivery to be decided."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bridgekit.testing.harness import RunningBridge

KOREAN = "+821012345678"
ABROAD = "+12025550143"
NAME = "sms"

#: The ``start`` fixture: a running bridgekit with one ``sms`` integration (settings override).
StartBridge = Callable[..., Awaitable[RunningBridge]]


async def start_chat(
    running: RunningBridge, phone: str, text: str, title: str | None = None
) -> dict[str, Any]:
    """A manager writes first to ``phone`` (E10); returns ``{"chat_id", "message_id"}``."""
    body: dict[str, Any] = {"integration": NAME, "text": text, "contact": {"kind": "phone", "value": phone}}
    if title:
        body["title"] = title
    result: dict[str, Any] = await running.api("POST", "/chats", json=body)
    return result


async def message(running: RunningBridge, chat_id: int, message_id: int) -> dict[str, Any]:
    found: dict[str, Any] = next(m for m in await running.messages(chat_id) if m["id"] == message_id)
    return found


async def settled(running: RunningBridge, chat_id: int, message_id: int) -> dict[str, Any]:
    """The message once its delivery is decided (sent, delivered or failed)."""

    async def done() -> dict[str, Any] | None:
        m = await message(running, chat_id, message_id)
        return m if m["delivery_status"] in ("sent", "delivered", "failed") else None

    result: dict[str, Any] = await running.wait_for(done)
    return result


async def sms_api(running: RunningBridge, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    """Call one of the plugin's routes (``/api/sms/...``) as the test's manager."""
    async with running.session.request(method, f"{running.url}/api/sms{path}", **kwargs) as resp:
        return resp.status, await resp.json()
