"""A sandbox provider for the test channel: signs webhooks, accepts sends, can fail on demand.

It behaves like a careful real provider: sends must carry the bearer token and an
``Idempotency-Key``; a repeated key is answered with the original result and not counted as
a second message.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SIGNATURE_HEADER = "X-Test-Signature"


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}, ensure_ascii=False).encode()


@dataclass
class Failure:
    status: int
    count: int
    retry_after: float | None = None


@dataclass
class SandboxProvider:
    token: str = "test-token"
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)  # idempotency key -> body
    calls: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    delay: float = 0.0

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        self.failures.append(Failure(status, count, retry_after))

    @property
    def texts(self) -> list[str]:
        return [body["text"] for body in self.accepted.values()]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/send", self._send)
        return app

    async def _send(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "invalid token"}, status=401)
        key = request.headers.get("Idempotency-Key")
        body = await request.json()
        self.calls.append({"key": key, "body": body})
        if self.delay:
            await asyncio.sleep(self.delay)
        if not key:
            return web.json_response({"error": "Idempotency-Key required"}, status=400)
        if self.failures:
            failure = self.failures[0]
            failure.count -= 1
            if failure.count <= 0:
                self.failures.pop(0)
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
            return web.json_response(
                {"error": f"forced {failure.status}"}, status=failure.status, headers=headers
            )
        if not isinstance(body.get("to"), str) or not isinstance(body.get("text"), str):
            return web.json_response({"error": "to and text are required"}, status=400)
        if body["to"] == "blocked-user":
            return web.json_response({"error": "recipient blocked the account"}, status=403)
        if key not in self.accepted:
            self.accepted[key] = body
        index = list(self.accepted).index(key)
        return web.json_response({"id": f"msg-{index + 1}"})
