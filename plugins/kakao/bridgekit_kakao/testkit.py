"""Helpers for tests driving a running bridgekit with the Kakao plugin: what they do through
bridgekit's API, as a manager would."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bridgekit.testing.harness import RunningBridge

#: The ``start`` fixture: a running bridgekit with the ``alimtalk`` and ``sms`` integrations.
StartBridge = Callable[..., Awaitable[RunningBridge]]

#: The ``make_customer`` fixture: ``await make_customer(running, phone=KOREAN)`` is a customer's id.
MakeCustomer = Callable[..., Awaitable[int]]

#: The approved template every test's sandbox starts with.
SHIPPED = "SHIPPED_01"
SHIPPED_TEXT = "#{name}님, 주문하신 상품이 발송되었습니다. 송장번호: #{invoice}"

KOREAN = "010-1234-5678"
AS_SENT = "01012345678"  # NHN's recipientNo


async def call(running: RunningBridge, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with running.session.request(method, f"{running.url}{path}", **kwargs) as resp:
        return resp.status, await resp.json()


async def render(running: RunningBridge, code: str, **parameters: str) -> tuple[int, Any]:
    body = {"template_code": code, "parameters": parameters}
    return await call(running, "POST", "/api/v1/kakao_alimtalk/render", json=body)


async def alimtalk(
    running: RunningBridge, customer_id: int, code: str, key: str | None = None, **parameters: str
) -> tuple[int, Any]:
    """``POST /api/v1/kakao_alimtalk/messages``: one call sends a template to a customer."""
    body: dict[str, Any] = {"customer_id": customer_id, "template_code": code, "parameters": parameters}
    if key is not None:
        body["idempotency_key"] = key
    return await call(running, "POST", "/api/v1/kakao_alimtalk/messages", json=body)


async def sent_alimtalk(
    running: RunningBridge, customer_id: int, code: str, **parameters: str
) -> dict[str, Any]:
    """An Alimtalk sent in one call, as ``{"chat_id", "message_id", ...}`` (its chat found
    among the customer's chats)."""
    status, answer = await alimtalk(running, customer_id, code, **parameters)
    assert status == 201, answer
    chats = [c for c in await running.chats() if c["customer_id"] == customer_id]
    for chat in chats:
        if any(m["id"] == answer["message_id"] for m in await running.messages(chat["id"])):
            found: dict[str, Any] = answer | {"chat_id": chat["id"], "chat_state": chat["state"]}
            return found
    raise AssertionError(f"message {answer['message_id']} is in none of the customer's chats")


async def send(running: RunningBridge, text: str, phone: str = KOREAN) -> dict[str, Any]:
    """A manager sends an Alimtalk to ``phone`` (E10 on the Alimtalk integration)."""
    body = {"integration": "alimtalk", "text": text, "contact": {"kind": "phone", "value": phone}}
    status, answer = await call(running, "POST", "/api/v1/chats", json=body)
    assert status == 201, answer
    result: dict[str, Any] = answer
    return result


async def settled(running: RunningBridge, started: dict[str, Any]) -> dict[str, Any]:
    """The message once its delivery is decided (sent or failed)."""

    async def done() -> dict[str, Any] | None:
        found = next(
            m for m in await running.messages(started["chat_id"]) if m["id"] == started["message_id"]
        )
        return found if found["delivery_status"] in ("sent", "delivered", "failed") else None

    result: dict[str, Any] = await running.wait_for(done)
    return result


async def sent_messages(running: RunningBridge, chat_id: int) -> list[dict[str, Any]]:
    """The customer panel's "sent messages" (I17) of the chat's customer."""
    chat = next(c for c in await running.chats() if c["id"] == chat_id)
    panel = await running.api("GET", f"/customers/{chat['customer_id']}")
    found: list[dict[str, Any]] = panel["sent_messages"]
    return found
