"""A stand-in for a consultation-talk reseller (wire profile ``happytalk_v1``) on 127.0.0.1,
for the tests and ``bridgekit demo``: Kakao's customers and sessions, over real HTTP.

It posts customers' messages to bridgekit's webhook URL with the integration's ``?token=``
(:meth:`ConsultSandbox.customer_says`), starting a session (a new ``session_id``) when the
customer has none alive and extending it with each message; Kakao's session lasts 30 days
after the customer's last message. It answers ``/v1/chat/write`` and ``/v1/chat/end`` as
Happytalk documents them: ``HT-Client-Id`` / ``HT-Client-Secret`` checked (HTTP 401 otherwise),
``code`` 0 on success, ``-501`` for another sender key, and the profile's assumed ``-1010``
for a session that is over and ``-1030`` for a repeated ``serial_number``
(:mod:`bridgekit_kakao.consult_happytalk`).
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from bridgekit.channelkit import HttpSandbox

from bridgekit_kakao.consult import CHANNEL
from bridgekit_kakao.consult_happytalk import (
    CLIENT_ID_HEADER,
    CLIENT_SECRET_HEADER,
    DUPLICATE,
    END_PATH,
    INVALID_SENDER,
    SESSION_GONE,
    WRITE_PATH,
)
from bridgekit_kakao.consult_wire import SESSION_DAYS

NO_SESSION = min(SESSION_GONE)
REPEATED_SERIAL = min(DUPLICATE)
SESSION_MS = SESSION_DAYS * 24 * 3600 * 1000


@dataclass(slots=True)
class Session:
    session_id: str
    user_key: str
    last_customer_ms: int
    ended: bool = False

    def alive(self, now_ms: int) -> bool:
        return not self.ended and now_ms - self.last_customer_ms <= SESSION_MS


@dataclass(slots=True)
class Sent:
    """One message the reseller took from bridgekit."""

    user_key: str
    session_id: str
    serial_number: str
    message_type: str
    text: str | None
    body: dict[str, Any] = field(default_factory=dict)


class ConsultSandbox(HttpSandbox):
    def __init__(self) -> None:
        super().__init__()
        self.client_id = "client-" + secrets.token_hex(6)
        self.client_secret = "secret-" + secrets.token_hex(12)
        self.sender_key = secrets.token_hex(20)  # 40 characters, like Kakao's
        self.webhook_token = secrets.token_urlsafe(24)
        self.sessions: dict[str, Session] = {}  # user_key -> the latest session
        self.sent: list[Sent] = []
        #: Every session ended through ``/v1/chat/end``: ``(user_key, session_id)``.
        self.ended: list[tuple[str, str]] = []
        #: Every write asked for, refused ones included: ``(serial_number, code)``.
        self.writes: list[tuple[str, int]] = []
        self._serials: set[str] = set()
        self._failing = 0
        self._ids = itertools.count(1_000_001)
        #: Files customers sent, as Kakao's servers keep them: name -> (content type, bytes).
        self.media: dict[str, tuple[str, bytes]] = {}
        self.app.add_routes(
            [
                web.post(WRITE_PATH, self._write),
                web.post(END_PATH, self._end),
                web.get("/media/{name}", self._media),
            ]
        )

    # --- the integration ----------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return {
            "profile": "happytalk_v1",
            "api_base": self.url,
            "client_id": self.client_id,
            "sender_key": self.sender_key,
        }

    def secrets(self) -> dict[str, str]:
        return {"client_secret": self.client_secret, "webhook_token": self.webhook_token}

    def add_media(self, name: str, content_type: str, data: bytes) -> str:
        """Keep a customer's photo or file where Kakao would; its URL."""
        self.media[name] = (content_type, data)
        return f"{self.url}/media/{name}"

    async def _media(self, request: web.Request) -> web.Response:
        found = self.media.get(request.match_info["name"])
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found[1], content_type=found[0])

    def fail_next(self, count: int) -> None:
        """Answer the next ``count`` writes with HTTP 503 (nothing sent)."""
        self._failing += count

    # --- the customer's side ------------------------------------------------------------

    def call(
        self,
        user_key: str,
        text: str,
        *,
        at_ms: int | None = None,
        serial: str | None = None,
        kind: str = "text",
        attachment: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The reseller's inbound call for a customer's message, starting or extending the
        customer's session (a ``leave`` ends it)."""
        now = at_ms if at_ms is not None else int(time.time() * 1000)
        session = self.sessions.get(user_key)
        if session is None or not session.alive(now):
            session = self.sessions[user_key] = Session(str(next(self._ids)), user_key, now)
        if kind == "leave":
            session.ended = True
        else:
            session.last_customer_ms = max(session.last_customer_ms, now)
        body: dict[str, Any] = {
            "user_key": user_key,
            "sender_key": self.sender_key,
            "session_id": session.session_id,
            "serial_number": serial or secrets.token_hex(10),
            "time": now,
            "type": kind,
            "content": text,
        }
        if attachment is not None:
            body["attachment"] = attachment
        return body

    async def post(self, hook_url: str, body: dict[str, Any], *, token: str | None = None) -> int:
        """POST one inbound call to bridgekit's webhook; the HTTP status it answered."""
        async with self.client().post(
            hook_url, json=body, params={"token": self.webhook_token if token is None else token}
        ) as resp:
            await resp.read()
            return resp.status

    async def customer_says(self, hook_url: str, user_key: str, text: str, **call: Any) -> int:
        return await self.post(hook_url, self.call(user_key, text, **call))

    # --- the reseller's API -------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        return (
            request.headers.get(CLIENT_ID_HEADER) == self.client_id
            and request.headers.get(CLIENT_SECRET_HEADER) == self.client_secret
        )

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        if not self._authorised(request):
            return web.json_response({"code": -401, "message": "invalid client"}, status=401)
        try:
            body = await request.json()
        except (ValueError, aiohttp.ContentTypeError):
            return web.json_response({"code": -400, "message": "the body is not JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"code": -400, "message": "the body is not an object"}, status=400)
        if body.get("sender_key") != self.sender_key:
            return _refused(INVALID_SENDER, f"InvalidSenderException(senderKey: {body.get('sender_key')})")
        return body

    async def _write(self, request: web.Request) -> web.Response:
        if self._failing:
            self._failing -= 1
            return web.json_response({"code": -500, "message": "temporarily unavailable"}, status=503)
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        serial = str(body.get("serial_number", ""))
        session = self.sessions.get(str(body.get("user_key")))
        answer = self._check_write(body, serial, session)
        self.writes.append((serial, answer))
        if answer == REPEATED_SERIAL:
            return _refused(answer, f"DuplicateSerialNumber({serial})")
        if answer == NO_SESSION:
            return _refused(answer, "NoSessionException: the customer's session is over")
        if answer != 0:
            return _refused(answer, "invalid message")
        assert session is not None
        self._serials.add(serial)
        self.sent.append(
            Sent(
                session.user_key,
                session.session_id,
                serial,
                str(body["message_type"]),
                body.get("message"),
                body,
            )
        )
        return web.json_response({"code": 0})

    def _check_write(self, body: dict[str, Any], serial: str, session: Session | None) -> int:
        if not serial or len(serial) > 30:
            return -400
        if serial in self._serials:
            return REPEATED_SERIAL
        if session is None or not session.alive(int(time.time() * 1000)):
            return NO_SESSION
        kind = body.get("message_type")
        needs = {
            "TX": ("message",),
            "LI": ("message",),
            "IM": ("image_url",),
            "FI": ("file_url", "file_name"),
        }
        if kind not in needs or not all(body.get(k) for k in needs[kind]):
            return -400
        if kind in ("TX", "LI") and len(str(body["message"])) > 1000:
            return -400
        return 0

    async def _end(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        session = self.sessions.get(str(body.get("user_key")))
        if session is None or not session.alive(int(time.time() * 1000)):
            return _refused(NO_SESSION, "NoSessionException: no session to end")
        session.ended = True
        self.ended.append((session.user_key, session.session_id))
        return web.json_response({"code": 0, "sessionId": session.session_id})


def _refused(code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message})


def integration(sandbox: ConsultSandbox, **settings: Any) -> dict[str, Any]:
    """A ``kakao_consult`` integration wired to ``sandbox``."""
    return {"channel": CHANNEL, "settings": sandbox.settings() | settings, "secrets": sandbox.secrets()}
