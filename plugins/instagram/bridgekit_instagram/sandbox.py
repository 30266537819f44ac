"""A stand-in for Meta's Instagram messaging platform, speaking its wire formats.

:class:`MetaSandbox` is an aiohttp application that plays both sides of Meta:

* the **Graph API** the plugin calls: the Send API (``POST /{version}/{ig-id|me}/messages``)
  with token checks, body validation, the 1,000-byte text limit, and the 24-hour / 7-day
  HUMAN_AGENT windows, answering with Meta's error bodies; the user profile
  (``GET /{version}/{IGSID}``); and CDN URLs for inbound attachment content;
* the **webhook sender**: it builds Meta-shaped notifications (text, attachments, story
  reply, story mention, reaction, read, echo, unsend), serialises them the way Meta does
  (non-ASCII and ``/`` escaped), signs them with ``X-Hub-Signature-256`` and POSTs them to a
  callback URL, and it performs the ``hub.challenge`` verification GET.

Accepted sends are recorded in :attr:`MetaSandbox.sent`; every Send API request, accepted or
not, in :attr:`MetaSandbox.send_requests`. :meth:`MetaSandbox.fail_next` makes the next
calls fail (5xx, timeouts, rate limits, any Graph error). Usage::

    async with MetaSandbox() as meta:
        settings = {"graph_base": meta.url, "ig_user_id": meta.ig_user_id}
        await meta.deliver(callback_url, meta.text_event("IGSID-1", "hello"))
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from bridgekit.channelkit import HttpSandbox

from .signature import sign as sign_body

TEXT_LIMIT_BYTES = 1000
STANDARD_WINDOW_MS = 24 * 3600 * 1000
HUMAN_AGENT_WINDOW_MS = 7 * 24 * 3600 * 1000
_ATTACHMENT_TYPES = frozenset({"image", "video", "audio", "file"})
_MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG")


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One Send API request the sandbox accepted."""

    recipient_id: str
    message_id: str
    text: str | None
    attachment_type: str | None
    attachment_url: str | None
    attachment_content: bytes | None
    messaging_type: str | None
    tag: str | None
    body: Mapping[str, Any]
    at_ms: int


_GARBLED = b"HTTP/1.1 200 OK\r\nContent-Length: garbled\r\n\r\n"


@dataclass(slots=True)
class _Failure:
    kind: str
    status: int
    error: dict[str, Any] | None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    after: int = 0


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """What the callback answered to one webhook POST or verification GET."""

    status: int
    body: str


class MetaSandbox(HttpSandbox):
    """Fake Meta Graph API + webhook sender for Instagram messaging (see module docs)."""

    def __init__(
        self,
        *,
        app_secret: str = "sandbox-app-secret",
        verify_token: str = "sandbox-verify-token",
        access_token: str = "sandbox-access-token",
        ig_user_id: str = "17841400000000001",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.access_token = access_token
        super().__init__()
        self.ig_user_id = ig_user_id
        self._clock = clock
        self.sent: list[SentMessage] = []
        self.send_requests: list[Mapping[str, Any]] = []
        self.profile_requests: list[str] = []
        self.media_requests: list[str] = []
        self.profiles: dict[str, dict[str, Any]] = {}
        self.media: dict[str, tuple[str, bytes]] = {}
        self.customer_activity: dict[str, int] = {}
        self._failures: dict[str, deque[_Failure]] = {"send": deque(), "profile": deque(), "media": deque()}
        self.last_challenge = ""
        self.app.router.add_get("/cdn/media/{media_id}", self._media)
        self.app.router.add_post("/{version}/{node}/messages", self._send)
        self.app.router.add_get("/{version}/{igsid}", self._profile)

    # --- test controls -------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def new_mid(self) -> str:
        """A message id shaped like Meta's (base64 of an ``ig_item`` reference)."""
        raw = f"ig_item:1:IGMessage:{self.ig_user_id}:{uuid.uuid4().int}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def add_profile(
        self, igsid: str, *, name: str | None = None, username: str | None = None, **fields: Any
    ) -> None:
        """Register a customer for the profile endpoint."""
        self.profiles[igsid] = {"id": igsid, "name": name, "username": username, **fields}

    def add_media(self, content: bytes, content_type: str, *, name: str = "") -> str:
        """Serve ``content`` at a CDN-like URL (``start()`` first) and return that URL."""
        media_id = secrets.token_hex(8) + (f"_{name}" if name else "")
        self.media[media_id] = (content_type, content)
        return f"{self.url}/cdn/media/{media_id}"

    def set_customer_activity(self, igsid: str, when: datetime | float) -> None:
        """Pretend the customer last wrote at ``when`` (a datetime or epoch seconds)."""
        seconds = when.timestamp() if isinstance(when, datetime) else float(when)
        self.customer_activity[igsid] = int(seconds * 1000)

    def fail_next(
        self,
        kind: str = "server_error",
        *,
        endpoint: str = "send",
        times: int = 1,
        code: int | None = None,
        subcode: int | None = None,
        message: str | None = None,
        status: int | None = None,
        delay: float = 30.0,
        regain_minutes: int = 1,
        retry_after: float | None = None,
        after: int = 0,
    ) -> None:
        """Make the next ``times`` calls to ``endpoint`` (send | profile | media) fail.

        ``kind``: ``server_error`` (HTTP 500, Graph code 2, ``is_transient``), ``timeout``
        (hold the request ``delay`` seconds), ``rate_limit`` (Graph code 613 by default,
        with ``X-Business-Use-Case-Usage``), ``http_429`` (bare 429 with ``Retry-After``), or
        ``error`` (any Graph error: give ``code``/``subcode``/``message``/``status``), or
        ``garbled`` (a reply that is not valid HTTP, as a broken proxy in front of Meta sends).
        ``after`` lets that many calls succeed first (to fail the middle of a multi-part send).
        """
        failure: _Failure
        if kind == "server_error":
            failure = _Failure(
                kind,
                status or 500,
                _error(
                    "An unexpected error has occurred. Please retry your request later.",
                    code or 2,
                    subcode,
                    is_transient=True,
                ),
            )
        elif kind == "timeout":
            failure = _Failure(kind, status or 200, None, delay=delay)
        elif kind == "rate_limit":
            code = code or 613
            usage = {
                self.ig_user_id: [
                    {
                        "type": "instagram",
                        "call_count": 100,
                        "total_cputime": 100,
                        "total_time": 100,
                        "estimated_time_to_regain_access": regain_minutes,
                    }
                ]
            }
            failure = _Failure(
                kind,
                status or 400,
                _error(
                    message or f"(#{code}) Calls to this api have exceeded the rate limit.", code, subcode
                ),
                headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
            )
        elif kind == "garbled":
            failure = _Failure(kind, 200, None)
        elif kind == "http_429":
            failure = _Failure(kind, 429, None, headers={"Retry-After": str(retry_after or 7)})
        elif kind == "error":
            failure = _Failure(
                kind, status or 400, _error(message or "(#100) Invalid parameter", code or 100, subcode)
            )
        else:
            raise ValueError(f"unknown failure kind {kind!r}")
        if retry_after is not None and kind != "http_429":
            failure.headers["Retry-After"] = str(retry_after)
        failure.after = after
        self._failures[endpoint].append(failure)
        for _ in range(times - 1):
            self._failures[endpoint].append(
                _Failure(failure.kind, failure.status, failure.error, failure.delay, failure.headers)
            )

    # --- Graph API -----------------------------------------------------------------------

    async def _injected(self, endpoint: str, request: web.Request) -> web.Response | None:
        queue = self._failures[endpoint]
        if not queue:
            return None
        if queue[0].after > 0:
            queue[0].after -= 1
            return None
        failure = queue.popleft()
        if failure.kind == "garbled" and request.transport is not None:
            request.transport.write(_GARBLED)
            request.transport.close()
            return web.Response()  # never reaches the client: the connection is gone
        if failure.kind == "timeout":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), failure.delay)
            return web.json_response({"error": _error("timed out", 2, None)["error"]}, status=504)
        if failure.error is None:
            return web.Response(status=failure.status, text="Too Many Requests", headers=failure.headers)
        return web.json_response(failure.error, status=failure.status, headers=failure.headers)

    def _token(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        auth = request.headers.get("Authorization", "")
        token = request.query.get("access_token")
        if auth.lower().startswith(("bearer ", "oauth ")):
            token = auth.split(" ", 1)[1].strip()
        if not token:
            return None, _fail(
                400, "An active access token must be used to query information about the current user.", 2500
            )
        if not hmac.compare_digest(token.encode(), self.access_token.encode()):
            return None, _fail(400, "Invalid OAuth access token - Cannot parse access token", 190)
        proof = request.query.get("appsecret_proof")
        if proof is not None:
            expected = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(proof.encode(), expected.encode()):
                return None, _fail(400, "Invalid appsecret_proof provided in the API argument", 100)
        return token, None

    async def _read_send_body(self, request: web.Request) -> dict[str, Any] | None:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                return None
            return body if isinstance(body, dict) else None
        # Meta also takes form fields whose values are JSON (recipient={"id":...})
        form = await request.post()
        body = {}
        for key, value in form.items():
            if not isinstance(value, str):
                continue
            try:
                body[key] = json.loads(value) if key in {"recipient", "message"} else value
            except ValueError:
                body[key] = value
        return body

    async def _send(self, request: web.Request) -> web.Response:
        body = await self._read_send_body(request)
        self.send_requests.append(
            {
                "node": request.match_info["node"],
                "query": dict(request.query),
                "body": body,
                "authorization": request.headers.get("Authorization"),
            }
        )
        injected = await self._injected("send", request)
        if injected is not None:
            return injected
        _, denied = self._token(request)
        if denied is not None:
            return denied
        node = request.match_info["node"]
        if node not in {self.ig_user_id, "me"}:
            return _fail(
                400,
                f"Unsupported post request. Object with ID '{node}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation.",
                100,
                33,
            )
        if body is None:
            return _fail(400, "(#100) The request body must be JSON or form-encoded", 100)
        recipient = body.get("recipient")
        if not isinstance(recipient, dict) or not recipient.get("id"):
            return _fail(400, "(#100) The parameter recipient is required", 100)
        igsid = str(recipient["id"])
        message = body.get("message")
        if not isinstance(message, dict) or not message:
            return _fail(400, "(#100) param message must be non-empty.", 100)
        text = message.get("text")
        attachment = message.get("attachment")
        if (text is None) == (attachment is None):
            return _fail(
                400, "(#100) Exactly one of message[text] or message[attachment] must be provided", 100
            )
        if text is not None:
            if not isinstance(text, str) or not text:
                return _fail(400, "(#100) param message[text] must be a non-empty UTF-8 encoded string", 100)
            if len(text.encode("utf-8")) > TEXT_LIMIT_BYTES:
                return _fail(
                    400, "(#100) Length of param message[text] must be less than or equal to 1000", 100
                )
        messaging_type = body.get("messaging_type")
        tag = body.get("tag")
        if messaging_type is not None and messaging_type not in _MESSAGING_TYPES:
            return _fail(
                400,
                "(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG} "
                f'- got "{messaging_type}"',
                100,
            )
        if messaging_type == "MESSAGE_TAG" and not tag:
            return _fail(400, "(#100) Tag is required for MESSAGE_TAG messaging type.", 100)
        if tag is not None and tag != "HUMAN_AGENT":
            return _fail(400, f'(#100) Param tag must be one of {{HUMAN_AGENT}} - got "{tag}"', 100)
        last = self.customer_activity.get(igsid)
        if last is None:
            if igsid not in self.profiles:
                return _fail(400, "(#100) No matching user found", 100, 2018001)
            return _fail(400, "(#10) This message is sent outside of allowed window.", 10, 2018278)
        age = self.now_ms() - last
        allowed = (
            HUMAN_AGENT_WINDOW_MS
            if (messaging_type == "MESSAGE_TAG" and tag == "HUMAN_AGENT")
            else (STANDARD_WINDOW_MS)
        )
        if age > allowed:
            return _fail(400, "(#10) This message is sent outside of allowed window.", 10, 2018278)

        content: bytes | None = None
        attachment_type = attachment_url = None
        if attachment is not None:
            payload = attachment.get("payload") if isinstance(attachment, dict) else None
            attachment_type = attachment.get("type") if isinstance(attachment, dict) else None
            attachment_url = payload.get("url") if isinstance(payload, dict) else None
            if attachment_type not in _ATTACHMENT_TYPES or not attachment_url:
                return _fail(
                    400,
                    "(#100) param message[attachment] must have a type (image, video, audio, "
                    "file) and payload[url]",
                    100,
                )
            content = await self._download(str(attachment_url))
            if content is None:
                return _fail(400, "(#100) Upload attachment failure.", 100, 2018047)

        mid = self.new_mid()
        self.sent.append(
            SentMessage(
                igsid,
                mid,
                text,
                attachment_type,
                attachment_url,
                content,
                messaging_type,
                tag,
                body,
                self.now_ms(),
            )
        )
        return web.json_response({"recipient_id": igsid, "message_id": mid})

    async def _download(self, url: str) -> bytes | None:
        """Fetch an outgoing attachment like Meta does; ``None`` when it cannot be loaded."""
        try:
            async with self.client().get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
                if response.status != 200:
                    return None
                return await response.read()
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def _profile(self, request: web.Request) -> web.Response:
        igsid = request.match_info["igsid"]
        self.profile_requests.append(igsid)
        injected = await self._injected("profile", request)
        if injected is not None:
            return injected
        _, denied = self._token(request)
        if denied is not None:
            return denied
        profile = self.profiles.get(igsid)
        if profile is None:
            return _fail(
                400,
                f"Unsupported get request. Object with ID '{igsid}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation.",
                100,
                33,
            )
        wanted = [f for f in request.query.get("fields", "name,profile_pic").split(",") if f]
        answer = {key: profile[key] for key in wanted if profile.get(key) is not None}
        answer["id"] = igsid
        return web.json_response(answer)

    async def _media(self, request: web.Request) -> web.Response:
        media_id = request.match_info["media_id"]
        self.media_requests.append(media_id)
        injected = await self._injected("media", request)
        if injected is not None:
            return injected
        stored = self.media.get(media_id)
        if stored is None:
            return web.Response(status=404, text="URL signature expired")
        content_type, content = stored
        return web.Response(body=content, content_type=content_type)

    # --- webhook builder -----------------------------------------------------------------

    def _event(self, igsid: str, timestamp: int | None, **payload: Any) -> dict[str, Any]:
        return {
            "sender": {"id": igsid},
            "recipient": {"id": self.ig_user_id},
            "timestamp": timestamp if timestamp is not None else self.now_ms(),
            **payload,
        }

    def text_event(
        self,
        igsid: str,
        text: str,
        *,
        mid: str | None = None,
        timestamp: int | None = None,
        reply_to_mid: str | None = None,
        quick_reply_payload: str | None = None,
    ) -> dict[str, Any]:
        """A customer's text message."""
        message: dict[str, Any] = {"mid": mid or self.new_mid(), "text": text}
        if reply_to_mid:
            message["reply_to"] = {"mid": reply_to_mid}
        if quick_reply_payload is not None:
            message["quick_reply"] = {"payload": quick_reply_payload}
        return self._event(igsid, timestamp, message=message)

    def attachment_event(
        self,
        igsid: str,
        attachments: Sequence[tuple[str, str]],
        *,
        text: str | None = None,
        mid: str | None = None,
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        """A message with ``(type, url)`` attachments (image, video, audio, file, share, ig_reel...)."""
        message: dict[str, Any] = {
            "mid": mid or self.new_mid(),
            "attachments": [{"type": kind, "payload": {"url": url}} for kind, url in attachments],
        }
        if text:
            message["text"] = text
        return self._event(igsid, timestamp, message=message)

    def story_reply_event(
        self,
        igsid: str,
        text: str,
        story_url: str,
        *,
        story_id: str | None = None,
        mid: str | None = None,
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        """The customer replied to the business's story."""
        message = {
            "mid": mid or self.new_mid(),
            "text": text,
            "reply_to": {"story": {"url": story_url, "id": story_id or secrets.token_hex(8)}},
        }
        return self._event(igsid, timestamp, message=message)

    def story_mention_event(
        self, igsid: str, story_url: str, *, mid: str | None = None, timestamp: int | None = None
    ) -> dict[str, Any]:
        """The customer mentioned the business in their story."""
        message = {
            "mid": mid or self.new_mid(),
            "attachments": [{"type": "story_mention", "payload": {"url": story_url}}],
        }
        return self._event(igsid, timestamp, message=message)

    def reaction_event(
        self,
        igsid: str,
        mid: str,
        emoji: str = "\u2764\ufe0f",
        *,
        action: str = "react",
        reaction: str = "love",
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        """The customer reacted (or unreacted) to message ``mid``."""
        body: dict[str, Any] = {"mid": mid, "action": action}
        if action == "react":
            body.update(reaction=reaction, emoji=emoji)
        return self._event(igsid, timestamp, reaction=body)

    def read_event(self, igsid: str, mid: str, *, timestamp: int | None = None) -> dict[str, Any]:
        """``messaging_seen``: the customer read the business's message ``mid``."""
        return self._event(igsid, timestamp, read={"mid": mid})

    def echo_event(
        self, igsid: str, text: str, *, mid: str | None = None, timestamp: int | None = None
    ) -> dict[str, Any]:
        """The business's own send coming back (``is_echo``), sender = the business."""
        return {
            "sender": {"id": self.ig_user_id},
            "recipient": {"id": igsid},
            "timestamp": timestamp if timestamp is not None else self.now_ms(),
            "message": {"mid": mid or self.new_mid(), "text": text, "is_echo": True},
        }

    def unsend_event(self, igsid: str, mid: str, *, timestamp: int | None = None) -> dict[str, Any]:
        """The customer unsent their message ``mid``."""
        return self._event(igsid, timestamp, message={"mid": mid, "is_deleted": True})

    def edit_event(
        self, igsid: str, mid: str, text: str, *, num_edit: int = 1, timestamp: int | None = None
    ) -> dict[str, Any]:
        """The customer edited their message ``mid`` (``message_edit``)."""
        return self._event(igsid, timestamp, message_edit={"mid": mid, "text": text, "num_edit": num_edit})

    def postback_event(
        self, igsid: str, title: str, payload: str, *, timestamp: int | None = None
    ) -> dict[str, Any]:
        """The customer tapped a button (an icebreaker, a generic template's button)."""
        postback = {"mid": self.new_mid(), "title": title, "payload": payload}
        return self._event(igsid, timestamp, postback=postback)

    def referral_event(self, igsid: str, ref: str, *, timestamp: int | None = None) -> dict[str, Any]:
        """The customer opened an ig.me link with ``?ref=`` into an existing conversation."""
        return self._event(
            igsid, timestamp, referral={"ref": ref, "source": "IGME_LINK", "type": "OPEN_THREAD"}
        )

    def envelope(self, *events: Mapping[str, Any]) -> dict[str, Any]:
        """Wrap events the way Meta does: one ``entry`` per event, ``object: instagram``."""
        return {
            "object": "instagram",
            "entry": [
                {"time": self.now_ms(), "id": self.ig_user_id, "messaging": [dict(event)]} for event in events
            ],
        }

    @staticmethod
    def encode(payload: Any) -> bytes:
        """Serialise like Meta: compact JSON, non-ASCII as lower-case ``\\uXXXX``, and ``/``,
        ``<``, ``%``, ``@`` escaped. The signature is over exactly these bytes."""
        text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
        for char, escaped in (("/", "\\/"), ("<", "\\u003C"), ("%", "\\u0025"), ("@", "\\u0040")):
            text = text.replace(char, escaped)
        return text.encode("ascii")

    def sign(self, body: bytes) -> str:
        """The ``X-Hub-Signature-256`` header for ``body``."""
        return sign_body(self.app_secret, body)

    def _note_activity(self, payload: Any) -> None:
        for entry in payload.get("entry", ()) if isinstance(payload, Mapping) else ():
            for event in entry.get("messaging", ()):
                message = event.get("message")
                customer_message = (isinstance(message, Mapping) and not message.get("is_echo")) or any(
                    key in event for key in ("postback", "referral")
                )
                if customer_message:
                    igsid = str(event["sender"]["id"])
                    stamp = int(event.get("timestamp") or self.now_ms())
                    self.customer_activity[igsid] = max(self.customer_activity.get(igsid, 0), stamp)

    async def post_webhook(
        self, callback_url: str, body: bytes, *, signature: str | None = None, signed: bool = True
    ) -> WebhookResult:
        """POST raw ``body`` to ``callback_url`` signed like Meta (or with ``signature``)."""
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        elif signed:
            headers["X-Hub-Signature-256"] = self.sign(body)
        async with self.client().post(callback_url, data=body, headers=headers) as response:
            return WebhookResult(response.status, await response.text())

    async def deliver(self, callback_url: str, *events: Mapping[str, Any]) -> WebhookResult:
        """Envelope, encode, sign and POST ``events``; customer messages open the window."""
        payload = self.envelope(*events)
        self._note_activity(payload)
        return await self.post_webhook(callback_url, self.encode(payload))

    async def verify_callback(self, callback_url: str, *, verify_token: str | None = None) -> WebhookResult:
        """Meta's subscription check: GET with ``hub.mode``, ``hub.challenge``, ``hub.verify_token``.

        The callback passes when it answers 200 with the challenge verbatim; compare
        ``result.body`` with :attr:`last_challenge`.
        """
        self.last_challenge = str(secrets.randbelow(10**9) + 10**9)
        params = {
            "hub.mode": "subscribe",
            "hub.challenge": self.last_challenge,
            "hub.verify_token": self.verify_token if verify_token is None else verify_token,
        }
        async with self.client().get(callback_url, params=params) as response:
            return WebhookResult(response.status, await response.text())


def _error(
    message: str, code: int, subcode: int | None, *, is_transient: bool | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if is_transient is not None:
        error["is_transient"] = is_transient
    error["fbtrace_id"] = base64.b64encode(secrets.token_bytes(8)).decode().rstrip("=")
    return {"error": error}


def _fail(status: int, message: str, code: int, subcode: int | None = None) -> web.Response:
    return web.json_response(_error(message, code, subcode), status=status)
