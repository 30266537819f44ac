"""A stand-in for the LINE platform that speaks its wire format, for tests and demos.

It serves the endpoints the ``line`` plugin calls, with LINE's request checks and LINE's
success and error bodies:

* ``POST /v2/bot/message/reply`` — bearer token, JSON shape, 1-5 messages, text length
  (5000 UTF-16 units), HTTPS media URLs; reply tokens are single-use and expire
  (``reply_token_ttl``, LINE documents one minute); a retry key is refused here (LINE: 400).
* ``POST /v2/bot/message/push`` — the same checks, ``to`` shape, ``X-Line-Retry-Key`` must be
  a hex UUID, and a key already accepted gets ``409`` with ``x-line-accepted-request-id``
  and the original ``sentMessages``.
* ``GET /v2/bot/profile/{userId}`` and the group/room member-profile variants.
* ``GET /v2/bot/message/{messageId}/content`` — the data API (serve it from the same
  sandbox by pointing both ``api_base`` and ``data_api_base`` at :attr:`LineSandbox.url`).

Every accepted message is recorded in :attr:`LineSandbox.sent`. With ``download_media=True``
it downloads each image/video URL as LINE's servers do, into :attr:`LineSandbox.downloads`
(``client_ssl`` trusts a test server's certificate: LINE only takes HTTPS URLs). The sandbox can be told to
fail (:meth:`LineSandbox.fail_next`: the next N calls answer a status, optionally with
``Retry-After``) and to be slow (:meth:`LineSandbox.delay_next`, before or after accepting).
It is also the webhook *sender*: :attr:`LineSandbox.webhooks` builds, signs and POSTs events.

Use it as ``async with LineSandbox() as line: ...`` or ``await sandbox.start()`` /
``await sandbox.stop()``; a test can also mount :attr:`LineSandbox.app` on its own server.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import ssl
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from bridgekit.channelkit import UTF16_UNITS, HttpSandbox, text_length
from bridgekit_line.sandbox_webhooks import WebhookFactory, new_user_id

AUTH_REQUIRED = (
    "Authorization header required. Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'"
)
AUTH_FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid."
INVALID_REPLY_TOKEN = "Invalid reply token"
RETRY_KEY_ACCEPTED = "The retry key is already accepted"
RATE_LIMITED = "The API rate limit has been exceeded. Try again later."
NOT_FOUND = "Not found"

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TO_RE = re.compile(r"^[UCR][0-9a-f]{32}$")
_DEFAULT_MESSAGES = {
    400: "The request body has 1 error(s)",
    401: AUTH_FAILED,
    403: "Access to this API is not available for your account",
    429: RATE_LIMITED,
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One message object LINE accepted, as the customer's LINE app would receive it."""

    id: str
    via: str
    to: str
    message: Mapping[str, Any]
    request_id: str
    retry_key: str | None = None

    @property
    def text(self) -> str | None:
        text = self.message.get("text")
        return text if isinstance(text, str) else None


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    at: float


@dataclass(slots=True)
class _Fault:
    endpoint: str | None
    remaining: int
    status: int = 500
    body: Mapping[str, Any] | None = None
    retry_after: str | None = None
    delay: float = 0.0
    after_accept: bool = False

    def applies(self, endpoint: str) -> bool:
        return self.remaining > 0 and self.endpoint in (None, endpoint)


@dataclass(frozen=True, slots=True)
class _Call:
    """The outcome of the common checks: an early response, or the body to act on."""

    early: web.Response | None
    body: Any = None
    late: float = 0.0


@dataclass(slots=True)
class _Accepted:
    request_id: str
    sent: list[dict[str, str]] = field(default_factory=list)


def _error(
    status: int, message: str, details: list[dict[str, str]] | None = None, **headers: str
) -> web.Response:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    return web.json_response(body, status=status, headers={"x-line-request-id": str(uuid.uuid4()), **headers})


def _is_https(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("https://") and len(value) <= 2000


def validate_messages(messages: Any) -> list[dict[str, str]]:
    """LINE's checks of a ``messages`` array, as ``details`` entries (empty when valid)."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return [{"message": "Size must be between 1 and 5", "property": "messages"}]
    details: list[dict[str, str]] = []
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            details.append({"message": "Must not be null", "property": f"{where}.type"})
            continue
        mtype = msg["type"]
        if mtype == "text":
            text = msg.get("text")
            if not isinstance(text, str) or not text:
                details.append({"message": "Must not be empty", "property": f"{where}.text"})
            elif text_length(text, UTF16_UNITS) > 5000:
                details.append({"message": "Length must be between 0 and 5000", "property": f"{where}.text"})
        elif mtype in {"image", "video"}:
            for key in ("originalContentUrl", "previewImageUrl"):
                if not _is_https(msg.get(key)):
                    details.append({"message": "Must be a valid HTTPS URL", "property": f"{where}.{key}"})
        elif mtype == "sticker":
            for key in ("packageId", "stickerId"):
                if not isinstance(msg.get(key), str):
                    details.append({"message": "Must not be null", "property": f"{where}.{key}"})
        elif mtype not in {"audio", "location", "imagemap", "template", "flex", "textV2", "coupon"}:
            details.append({"message": "Invalid message type", "property": f"{where}.type"})
    return details


class LineSandbox(HttpSandbox):
    """An in-process LINE platform on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        *,
        channel_secret: str = "sandbox-channel-secret",
        access_token: str = "sandbox-channel-access-token",
        reply_token_ttl: float = 60.0,
        clock: Callable[[], float] = time.time,
        download_media: bool = False,
        client_ssl: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__()
        self.channel_secret = channel_secret
        self.access_token = access_token
        self.reply_token_ttl = reply_token_ttl
        self.clock = clock
        self.download_media = download_media
        self.client_ssl = client_ssl
        self.webhooks = WebhookFactory(channel_secret, clock=self._now, client_ssl=client_ssl)
        # originalContentUrl -> the bytes LINE downloaded from it (None: the download failed)
        self.downloads: dict[str, bytes | None] = {}
        self.profiles: dict[str, dict[str, Any]] = {}
        self.sent: list[SentMessage] = []
        self.requests: list[RecordedRequest] = []
        self._accepted: dict[str, _Accepted] = {}
        self._faults: list[_Fault] = []
        self._seq = 600_000_000_000_000_000
        self.app.router.add_post("/v2/bot/message/reply", self._reply)
        self.app.router.add_post("/v2/bot/message/push", self._push)
        self.app.router.add_get("/v2/bot/profile/{user_id}", self._profile)
        self.app.router.add_get("/v2/bot/group/{container}/member/{user_id}", self._profile)
        self.app.router.add_get("/v2/bot/room/{container}/member/{user_id}", self._profile)
        self.app.router.add_get("/v2/bot/message/{message_id}/content", self._content)

    def _now(self) -> float:
        return self.clock()

    def integration_settings(self, **extra: Any) -> dict[str, Any]:
        """``settings`` for a ``line`` integration that talks to this sandbox."""
        return {"api_base": self.url, "data_api_base": self.url, **extra}

    def integration_secrets(self) -> dict[str, str]:
        return {"channel_secret": self.channel_secret, "channel_access_token": self.access_token}

    # --- test controls ---------------------------------------------------------------

    def add_user(
        self,
        display_name: str,
        *,
        user_id: str | None = None,
        picture_url: str | None = None,
        status_message: str | None = None,
        language: str | None = "en",
    ) -> str:
        """Register a LINE user (served by the profile API); returns the userId."""
        user_id = user_id or new_user_id()
        profile: dict[str, Any] = {"displayName": display_name, "userId": user_id}
        if picture_url:
            profile["pictureUrl"] = picture_url
        if status_message:
            profile["statusMessage"] = status_message
        if language:
            profile["language"] = language
        self.profiles[user_id] = profile
        return user_id

    def fail_next(
        self,
        status: int,
        times: int = 1,
        *,
        endpoint: str | None = None,
        message: str | None = None,
        details: list[dict[str, str]] | None = None,
        retry_after: float | str | None = None,
    ) -> None:
        """Answer the next ``times`` calls (to ``endpoint``: reply, push, profile, content;
        or any) with ``status`` and a LINE error body, without accepting anything."""
        body: dict[str, Any] = {"message": message or _DEFAULT_MESSAGES.get(status, "Error")}
        if details:
            body["details"] = details
        after = None if retry_after is None else str(retry_after)
        self._faults.append(_Fault(endpoint, times, status, body, after))

    def delay_next(
        self, seconds: float, times: int = 1, *, endpoint: str | None = None, after_accept: bool = False
    ) -> None:
        """Be slow on the next ``times`` calls. With ``after_accept`` the message is sent
        first and only the response is late, as when a response is lost to a timeout."""
        self._faults.append(_Fault(endpoint, times, delay=seconds, after_accept=after_accept))

    def messages_to(self, to: str) -> list[SentMessage]:
        return [m for m in self.sent if m.to == to]

    # --- plumbing --------------------------------------------------------------------

    def _take_fault(self, endpoint: str, *, delay: bool) -> _Fault | None:
        for fault in self._faults:
            if fault.applies(endpoint) and (fault.delay > 0) == delay:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def _prologue(self, request: web.Request, endpoint: str) -> _Call:
        """Record, authenticate, apply faults and parse JSON; ``call.early`` ends the call."""
        raw = await request.read()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError):
                body = raw
        self.requests.append(
            RecordedRequest(request.method, request.path, dict(request.headers), body, self._now())
        )
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return _Call(_error(401, AUTH_REQUIRED))
        if not secrets.compare_digest(auth[len("Bearer ") :], self.access_token):
            return _Call(_error(401, AUTH_FAILED))
        late = 0.0
        slow = self._take_fault(endpoint, delay=True)
        if slow is not None and not slow.after_accept:
            await asyncio.sleep(slow.delay)
        elif slow is not None:
            late = slow.delay
        fault = self._take_fault(endpoint, delay=False)
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return _Call(
                web.json_response(
                    fault.body,
                    status=fault.status,
                    headers={"x-line-request-id": str(uuid.uuid4()), **headers},
                )
            )
        if request.method == "POST" and not isinstance(body, dict):
            return _Call(_error(400, "The request body has 1 error(s)", [{"message": "Invalid JSON"}]))
        return _Call(None, body, late)

    def _accept(self, via: str, to: str, messages: list[dict[str, Any]], retry_key: str | None) -> _Accepted:
        accepted = _Accepted(str(uuid.uuid4()))
        for message in messages:
            self._seq += 1
            message_id = str(self._seq)
            entry = {"id": message_id}
            if message.get("type") in {"text", "image", "video", "sticker", "textV2"}:
                entry["quoteToken"] = secrets.token_urlsafe(12)
            accepted.sent.append(entry)
            self.sent.append(SentMessage(message_id, via, to, message, accepted.request_id, retry_key))
        return accepted

    async def _respond(self, call: _Call, accepted: _Accepted) -> web.Response:
        if call.late:
            await asyncio.sleep(call.late)
        return web.json_response(
            {"sentMessages": accepted.sent}, headers={"x-line-request-id": accepted.request_id}
        )

    # --- endpoints -------------------------------------------------------------------

    async def _reply(self, request: web.Request) -> web.Response:
        call = await self._prologue(request, "reply")
        if call.early is not None:
            return call.early
        body = call.body
        if "X-Line-Retry-Key" in request.headers:
            # The retry key is only supported on push/multicast/narrowcast/broadcast.
            return _error(400, "X-Line-Retry-Key is not supported for this API")
        details = validate_messages(body.get("messages"))
        if not isinstance(body.get("replyToken"), str):
            details.insert(0, {"message": "Must not be null", "property": "replyToken"})
        if details:
            return _error(400, f"The request body has {len(details)} error(s)", details)
        issued = self.webhooks.reply_tokens.get(body["replyToken"])
        if issued is None or issued.used or self._now() - issued.issued_at > self.reply_token_ttl:
            return _error(400, INVALID_REPLY_TOKEN)
        issued.used = True
        accepted = self._accept("reply", issued.to, body["messages"], None)
        await self._download_media(body["messages"])
        return await self._respond(call, accepted)

    async def _push(self, request: web.Request) -> web.Response:
        call = await self._prologue(request, "push")
        if call.early is not None:
            return call.early
        body = call.body
        key = request.headers.get("X-Line-Retry-Key")
        if key is not None and not _UUID_RE.match(key):
            return _error(400, "The value for the 'X-Line-Retry-Key' header is invalid")
        if key is not None and key in self._accepted:
            previous = self._accepted[key]
            return web.json_response(
                {"message": RETRY_KEY_ACCEPTED, "sentMessages": previous.sent},
                status=409,
                headers={
                    "x-line-request-id": str(uuid.uuid4()),
                    "x-line-accepted-request-id": previous.request_id,
                },
            )
        details = validate_messages(body.get("messages"))
        if details:
            return _error(400, f"The request body has {len(details)} error(s)", details)
        to = body.get("to")
        if not isinstance(to, str) or not _TO_RE.match(to):
            return _error(400, "The property, 'to', in the request body is invalid (line: -, column: -)")
        accepted = self._accept("push", to, body["messages"], key)
        if key is not None:
            self._accepted[key] = accepted
        await self._download_media(body["messages"])
        return await self._respond(call, accepted)

    async def _download_media(self, messages: list[dict[str, Any]]) -> None:
        """Fetch each image/video the way LINE's servers do; a failure does not fail the send
        (LINE accepts the message and the customer sees a broken image)."""
        urls = [m["originalContentUrl"] for m in messages if m.get("type") in {"image", "video"}]
        if not urls or not self.download_media:
            return
        connector = aiohttp.TCPConnector(ssl=self.client_ssl or True)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=10)
        ) as client:
            for url in urls:
                try:
                    async with client.get(url) as resp:
                        self.downloads[url] = await resp.read() if resp.status == 200 else None
                except (aiohttp.ClientError, TimeoutError):
                    self.downloads[url] = None

    async def _profile(self, request: web.Request) -> web.Response:
        call = await self._prologue(request, "profile")
        if call.early is not None:
            return call.early
        profile = self.profiles.get(request.match_info["user_id"])
        if profile is None:
            return _error(404, NOT_FOUND)
        if "container" in request.match_info:
            # Member profiles carry only these three properties.
            profile = {k: v for k, v in profile.items() if k in {"displayName", "userId", "pictureUrl"}}
        return web.json_response(profile, headers={"x-line-request-id": str(uuid.uuid4())})

    async def _content(self, request: web.Request) -> web.Response:
        call = await self._prologue(request, "content")
        if call.early is not None:
            return call.early
        content = self.webhooks.contents.get(request.match_info["message_id"])
        if content is None:
            return _error(404, NOT_FOUND)
        data, content_type = content
        return web.Response(body=data, content_type=content_type)
