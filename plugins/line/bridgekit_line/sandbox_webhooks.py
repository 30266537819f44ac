"""The webhook-sending half of the LINE sandbox: build events, sign them, POST them.

Event objects follow the Messaging API reference ("Webhook event objects"; ``webhook.yml``
in github.com/line/line-openapi): ``type``, ``mode``, ``timestamp`` (ms),
``source``, ``webhookEventId`` (a ULID), ``deliveryContext.isRedelivery`` and, for events
one can answer, a ``replyToken``. Requests are signed like LINE signs them
(``X-Line-Signature`` = base64 HMAC-SHA256 of the body with the channel secret).
"""

from __future__ import annotations

import copy
import json
import secrets
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from bridgekit.model import RawDelivery
from bridgekit_line.signature import sign

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(now: float) -> str:
    """A ULID (48-bit ms timestamp + 80 random bits, Crockford base32), like LINE's ids."""
    value = (int(now * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def new_user_id() -> str:
    """A LINE-shaped userId: ``U`` + 32 hex digits."""
    return "U" + secrets.token_hex(16)


def new_group_id() -> str:
    return "C" + secrets.token_hex(16)


def new_room_id() -> str:
    return "R" + secrets.token_hex(16)


@dataclass(slots=True)
class IssuedReplyToken:
    """A reply token the sandbox handed out in a webhook, and where replies go."""

    token: str
    to: str
    issued_at: float
    used: bool = False


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    status: int
    text: str


class WebhookFactory:
    """Builds signed webhook deliveries as the LINE platform would send them.

    Reply tokens are recorded in ``reply_tokens`` so the sandbox's reply endpoint can
    enforce that they are single-use and expire.
    """

    def __init__(
        self,
        channel_secret: str,
        *,
        bot_user_id: str | None = None,
        clock: Callable[[], float] = time.time,
        client_ssl: ssl.SSLContext | None = None,
    ) -> None:
        self.channel_secret = channel_secret
        self.client_ssl = client_ssl
        self.bot_user_id = bot_user_id or new_user_id()
        self.clock = clock
        self.reply_tokens: dict[str, IssuedReplyToken] = {}
        self.contents: dict[str, tuple[bytes, str]] = {}
        self._message_seq = 500_000_000_000_000_000

    # --- pieces ----------------------------------------------------------------------

    def new_message_id(self) -> str:
        self._message_seq += 1
        return str(self._message_seq)

    def source(
        self, user_id: str | None, *, group_id: str | None = None, room_id: str | None = None
    ) -> dict[str, Any]:
        if group_id:
            src: dict[str, Any] = {"type": "group", "groupId": group_id}
        elif room_id:
            src = {"type": "room", "roomId": room_id}
        else:
            src = {"type": "user"}
        if user_id:
            src["userId"] = user_id
        return src

    def event(
        self,
        event_type: str,
        user_id: str | None,
        *,
        group_id: str | None = None,
        room_id: str | None = None,
        reply: bool = True,
        mode: str = "active",
        **fields: Any,
    ) -> dict[str, Any]:
        """Any event type, with the common properties filled in (and a reply token)."""
        now = self.clock()
        event: dict[str, Any] = {
            "type": event_type,
            "mode": mode,
            "timestamp": int(now * 1000),
            "source": self.source(user_id, group_id=group_id, room_id=room_id),
            "webhookEventId": new_ulid(now),
            "deliveryContext": {"isRedelivery": False},
        }
        # No reply token in standby mode (another channel is in control of the chat).
        if reply and mode == "active":
            token = secrets.token_hex(16)
            target = group_id or room_id or user_id or ""
            self.reply_tokens[token] = IssuedReplyToken(token, target, now)
            event["replyToken"] = token
        event.update(fields)
        return event

    def _message(self, user_id: str | None, message: dict[str, Any], **src: Any) -> dict[str, Any]:
        message.setdefault("id", self.new_message_id())
        return self.event("message", user_id, message=message, **src)

    # --- message events --------------------------------------------------------------

    def text(self, user_id: str, text: str, **src: Any) -> dict[str, Any]:
        return self._message(
            user_id, {"type": "text", "text": text, "quoteToken": secrets.token_urlsafe(12)}, **src
        )

    def media(
        self,
        kind: str,
        user_id: str,
        data: bytes = b"",
        content_type: str = "application/octet-stream",
        *,
        external_url: str | None = None,
        extra: Mapping[str, Any] | None = None,
        **src: Any,
    ) -> dict[str, Any]:
        """An image/video/audio/file message; its content is served by the data API."""
        message: dict[str, Any] = {"type": kind, "id": self.new_message_id(), **(extra or {})}
        if kind != "file":
            if external_url:
                message["contentProvider"] = {
                    "type": "external",
                    "originalContentUrl": external_url,
                    "previewImageUrl": external_url,
                }
            else:
                message["contentProvider"] = {"type": "line"}
        if kind in {"image", "video"}:
            message["quoteToken"] = secrets.token_urlsafe(12)
        if not external_url:
            self.contents[message["id"]] = (data, content_type)
        return self._message(user_id, message, **src)

    def image(self, user_id: str, data: bytes, content_type: str = "image/jpeg", **kw: Any) -> dict[str, Any]:
        return self.media("image", user_id, data, content_type, **kw)

    def video(self, user_id: str, data: bytes, content_type: str = "video/mp4", **kw: Any) -> dict[str, Any]:
        return self.media("video", user_id, data, content_type, extra={"duration": 3000}, **kw)

    def audio(
        self, user_id: str, data: bytes, content_type: str = "audio/x-m4a", **kw: Any
    ) -> dict[str, Any]:
        return self.media("audio", user_id, data, content_type, extra={"duration": 2000}, **kw)

    def file(self, user_id: str, data: bytes, file_name: str, **kw: Any) -> dict[str, Any]:
        extra = {"fileName": file_name, "fileSize": len(data)}
        return self.media("file", user_id, data, "application/octet-stream", extra=extra, **kw)

    def sticker(
        self, user_id: str, package_id: str = "446", sticker_id: str = "1988", **src: Any
    ) -> dict[str, Any]:
        message = {
            "type": "sticker",
            "packageId": package_id,
            "stickerId": sticker_id,
            "stickerResourceType": "STATIC",
            "keywords": ["Happy", "Smile"],
            "quoteToken": secrets.token_urlsafe(12),
        }
        return self._message(user_id, message, **src)

    def location(
        self, user_id: str, title: str, address: str, latitude: float, longitude: float, **src: Any
    ) -> dict[str, Any]:
        message = {
            "type": "location",
            "title": title,
            "address": address,
            "latitude": latitude,
            "longitude": longitude,
        }
        return self._message(user_id, message, **src)

    # --- other events ----------------------------------------------------------------

    def follow(self, user_id: str, *, unblocked: bool = False) -> dict[str, Any]:
        return self.event("follow", user_id, follow={"isUnblocked": unblocked})

    def unfollow(self, user_id: str) -> dict[str, Any]:
        return self.event("unfollow", user_id, reply=False)

    def unsend(self, user_id: str, message_id: str, **src: Any) -> dict[str, Any]:
        """The user took back their message ``message_id``."""
        return self.event("unsend", user_id, reply=False, unsend={"messageId": message_id}, **src)

    def edited(self, user_id: str, message_id: str, text: str, **src: Any) -> dict[str, Any]:
        """The user changed the text of their message ``message_id``."""
        message = {"id": message_id, "type": "text", "text": text}
        return self.event("messageEdited", user_id, message=message, **src)

    def postback(self, user_id: str, data: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The user pressed a postback button (or picked a date) in a message from the bot."""
        postback: dict[str, Any] = {"data": data}
        if params:
            postback["params"] = dict(params)
        return self.event("postback", user_id, postback=postback)

    # --- delivery --------------------------------------------------------------------

    def body(self, events: Iterable[Mapping[str, Any]]) -> bytes:
        payload = {"destination": self.bot_user_id, "events": list(events)}
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def signature(self, body: bytes) -> str:
        return sign(self.channel_secret, body)

    @staticmethod
    def as_redelivery(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The same events as LINE redelivers them: same ids, ``isRedelivery: true``."""
        again = [copy.deepcopy(dict(event)) for event in events]
        for event in again:
            event["deliveryContext"] = {"isRedelivery": True}
        return again

    def delivery(
        self,
        events: Sequence[Mapping[str, Any]],
        *,
        integration: str = "line",
        redelivery: bool = False,
        signature: str | None = None,
        sign_body: bool = True,
    ) -> RawDelivery:
        """The same request as a :class:`~bridgekit.model.RawDelivery`, to call a plugin's
        ``bridgekit_ingest`` directly without a running bridgekit."""
        body = self.body(self.as_redelivery(events) if redelivery else events)
        headers = {"content-type": "application/json; charset=utf-8", "user-agent": "LineBotWebhook/2.0"}
        if sign_body:
            headers["x-line-signature"] = signature if signature is not None else self.signature(body)
        return RawDelivery(integration, "POST", f"/hooks/{integration}", headers, {}, body)

    async def post(
        self,
        url: str,
        events: Sequence[Mapping[str, Any]],
        *,
        redelivery: bool = False,
        signature: str | None = None,
        sign_body: bool = True,
        body: bytes | None = None,
    ) -> WebhookResponse:
        """POST a webhook to ``url`` exactly as LINE would (signed unless told otherwise)."""
        if body is None:
            body = self.body(self.as_redelivery(events) if redelivery else events)
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "LineBotWebhook/2.0"}
        if sign_body:
            headers["X-Line-Signature"] = signature if signature is not None else self.signature(body)
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.client_ssl or True)) as session,
            session.post(url, data=body, headers=headers) as resp,
        ):
            return WebhookResponse(resp.status, await resp.text())

    async def verify_ping(self, url: str) -> WebhookResponse:
        """What the console's "Verify" button sends: a signed body with no events."""
        return await self.post(url, [])
