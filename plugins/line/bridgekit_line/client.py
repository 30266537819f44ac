"""HTTP calls to the LINE platform, and how their failures map to delivery errors.

Endpoints (Messaging API reference; ``messaging-api.yml`` in github.com/line/line-openapi):

* ``POST {api}/v2/bot/message/reply``  ``{"replyToken", "messages"}`` -> ``{"sentMessages": [...]}``
* ``POST {api}/v2/bot/message/push``   ``{"to", "messages"}`` + ``X-Line-Retry-Key`` -> same
* ``GET  {api}/v2/bot/profile/{userId}`` (and the group/room member variants)
* ``GET  {data}/v2/bot/message/{messageId}/content`` -> the binary content

Errors come back as ``{"message": ..., "details": [{"message", "property"}]}``. A ``409`` to a
push carrying a retry key means "already accepted" (the retry-key guide): the response
repeats ``sentMessages`` and names the original request in ``x-line-accepted-request-id``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp

from bridgekit.channelkit import (
    MediaUnavailable,
    ProviderSession,
    fetch_media,
    parse_retry_after,
    status_error,
    transport_errors,
)
from bridgekit.exceptions import PermanentDeliveryError
from bridgekit_line.settings import LineSettings

#: LINE answers a reply with an expired or already used token like this (HTTP 400).
INVALID_REPLY_TOKEN = "Invalid reply token"
#: A 429 that no retry within the month can fix (the plan's message quota is used up).
MONTHLY_LIMIT = "You have reached your monthly limit."


class InvalidReplyToken(Exception):
    """LINE refused the reply token: expired *or* used already (LINE gives one answer for
    both). Nothing was sent by this call."""


@dataclass(frozen=True, slots=True)
class SendResult:
    """LINE's answer to one accepted reply or push call."""

    via: str
    message_ids: Sequence[str]
    quote_tokens: Sequence[str] = ()
    request_id: str | None = None
    accepted_request_id: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


def error_reason(status: int, body: Any) -> str:
    """A manager-readable reason from LINE's ``message`` and ``details``."""
    if not isinstance(body, Mapping):
        return f"LINE API HTTP {status}"
    reason = str(body.get("message") or f"HTTP {status}")
    parts = []
    for detail in body.get("details") or ():
        if isinstance(detail, Mapping):
            prop, msg = detail.get("property"), detail.get("message")
            parts.append(f"{prop}: {msg}" if prop else str(msg))
    if parts:
        reason += " (" + "; ".join(parts) + ")"
    return f"LINE API {status}: {reason}"


def raise_for_status(status: int, body: Any, headers: Mapping[str, str]) -> None:
    """Map a non-2xx LINE response to the bridgekit delivery error the outbox understands."""
    reason = error_reason(status, body)
    if status == 429 and isinstance(body, Mapping) and body.get("message") == MONTHLY_LIMIT:
        # The monthly message quota does not come back within any backoff window.
        raise PermanentDeliveryError(reason)
    raise status_error(status, reason, retry_after=parse_retry_after(headers.get("Retry-After")))


def _sent_messages(body: Any) -> tuple[list[str], list[str]]:
    ids: list[str] = []
    quotes: list[str] = []
    sent = body.get("sentMessages") if isinstance(body, Mapping) else None
    for item in sent or ():
        if isinstance(item, Mapping) and item.get("id") is not None:
            ids.append(str(item["id"]))
            if item.get("quoteToken"):
                quotes.append(str(item["quoteToken"]))
    return ids, quotes


class LineClient:
    """Thin async client for the few LINE endpoints a support inbox needs."""

    def __init__(self, http: ProviderSession) -> None:
        self._http = http

    async def _request(
        self,
        method: str,
        url: str,
        token: str,
        seconds: float,
        *,
        payload: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any, Mapping[str, str]]:
        session = self._http.get()
        all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
        with transport_errors(f"LINE API ({method} {url})", seconds):
            async with session.request(
                method,
                url,
                json=payload,
                headers=all_headers,
                timeout=aiohttp.ClientTimeout(total=seconds),
            ) as resp:
                raw = await resp.read()
        try:
            body: Any = json.loads(raw) if raw else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = {"message": raw[:200].decode("utf-8", "replace")}
        return resp.status, body, resp.headers

    async def reply(
        self, settings: LineSettings, token: str, reply_token: str, messages: Sequence[Mapping[str, Any]]
    ) -> SendResult:
        """Answer through the free reply API. Raises :class:`InvalidReplyToken` when LINE
        says the token is expired or used."""
        status, body, headers = await self._request(
            "POST",
            f"{settings.api_base}/v2/bot/message/reply",
            token,
            settings.request_timeout,
            payload={"replyToken": reply_token, "messages": list(messages)},
        )
        if status == 400 and isinstance(body, Mapping) and body.get("message") == INVALID_REPLY_TOKEN:
            raise InvalidReplyToken(INVALID_REPLY_TOKEN)
        if not 200 <= status < 300:
            raise_for_status(status, body, headers)
        ids, quotes = _sent_messages(body)
        return SendResult("reply", ids, quotes, headers.get("x-line-request-id"))

    async def push(
        self,
        settings: LineSettings,
        token: str,
        to: str,
        messages: Sequence[Mapping[str, Any]],
        retry_key: str,
    ) -> SendResult:
        """Push with an ``X-Line-Retry-Key``; a ``409`` for that key is success."""
        status, body, headers = await self._request(
            "POST",
            f"{settings.api_base}/v2/bot/message/push",
            token,
            settings.request_timeout,
            payload={"to": to, "messages": list(messages)},
            headers={"X-Line-Retry-Key": retry_key},
        )
        if status == 409:
            # An earlier attempt with this retry key was accepted (its response may have
            # been lost to a timeout or a crash): the message went out exactly once.
            ids, quotes = _sent_messages(body)
            return SendResult(
                "push",
                ids,
                quotes,
                headers.get("x-line-request-id"),
                accepted_request_id=headers.get("x-line-accepted-request-id"),
                meta={"already_accepted": True},
            )
        if not 200 <= status < 300:
            raise_for_status(status, body, headers)
        ids, quotes = _sent_messages(body)
        return SendResult("push", ids, quotes, headers.get("x-line-request-id"))

    async def profile(self, settings: LineSettings, token: str, path: str) -> Mapping[str, Any] | None:
        """GET a profile (``path`` below ``/v2/bot/``); ``None`` when LINE has none (404).

        Other failures raise delivery errors; the plugin turns them into "no name" so that
        ingest never fails because of a profile look-up.
        """
        status, body, headers = await self._request(
            "GET", f"{settings.api_base}/v2/bot/{path}", token, settings.request_timeout
        )
        if status == 404:
            return None
        if not 200 <= status < 300:
            raise_for_status(status, body, headers)
        return body if isinstance(body, Mapping) else None

    async def content(self, settings: LineSettings, token: str, message_id: str) -> tuple[bytes, str]:
        """Download a message's content (image, video, audio, file) from the data API.

        Raises :class:`~bridgekit.channelkit.MediaUnavailable` with LINE's own reason."""
        url = f"{settings.data_api_base}/v2/bot/message/{quote(message_id, safe='')}/content"
        try:
            media = await fetch_media(
                self._http.get(),
                url,
                max_bytes=settings.max_content_bytes,
                timeout=settings.content_timeout,
                headers={"Authorization": f"Bearer {token}"},
            )
        except MediaUnavailable as exc:
            if exc.status is None:
                raise
            # 202 means LINE is still preparing a video/audio; 404/410 that it is gone.
            try:
                body: Any = json.loads(exc.body) if exc.body else {}
            except (UnicodeDecodeError, json.JSONDecodeError):
                body = {}
            raise MediaUnavailable(error_reason(exc.status, body), status=exc.status) from None
        return media.data, media.content_type or "application/octet-stream"
