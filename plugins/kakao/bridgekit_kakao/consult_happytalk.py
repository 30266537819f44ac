"""Wire profile ``happytalk_v1``: Kakao consultation talk relayed by Happytalk (해피톡).

Documented by Happytalk's developer center ("카카오톡 상담톡 > 상담" pages, read 2026-12-07):

* send: ``POST {api_base}/v1/chat/write`` with headers ``HT-Client-Id`` and
  ``HT-Client-Secret``; JSON ``user_key`` (≤20), ``sender_key`` (40), ``serial_number`` (≤30,
  "메시지 고유키"), ``message_type`` ``TX`` | ``IM`` | ``FI`` | ``LI``, ``message`` (≤1000,
  TX and LI), ``image_url`` (IM), ``file_url`` / ``file_name`` / ``file_size`` (FI),
  ``links`` (LI). Answer ``{"code": 0}``; another code is a refusal with ``message``.
* end the session: ``POST {api_base}/v1/chat/end`` ``{"user_key", "sender_key"}`` →
  ``{"code": 0, "sessionId": "…"}``.
  (https://developer-center.happytalk.io/kakaotalk_webhook/counseling/send_chat,
  …/counseling/end_of_counseling)

**Assumptions where the public pages say nothing** (change them here, nowhere else):

* Inbound: Happytalk posts each customer message to the partner's URL as JSON with Kakao's
  hub-partner fields ``user_key``, ``sender_key``, ``session_id``, ``serial_number``, ``time``
  (ms since the epoch), ``type`` (``text``, ``photo``, ``file``, ``link``; ``leave`` when the
  customer ended the session) and ``content``, with ``attachment`` ``{"url", "name"}`` for
  photos and files. Field names follow Kakao's hub-partner API as the relay pages and
  "사용자 메타 정보 수신" (``user_key``, ``sender_key``, ``time``, ``session_id``) show them.
* Authentication of inbound calls: the pages document none (Happytalk's console restricts by
  address), so the URL registered with the reseller carries a long random token,
  ``/hooks/<integration>?token=<webhook_token>``, compared in constant time before anything is
  parsed (as for Naver TalkTalk, which signs nothing either).
* Refusal codes: ``-501`` is Happytalk's documented "InvalidSenderException". The codes for a
  session that is over and for a repeated ``serial_number`` are not published; the profile
  takes ``-1010`` ("NoSessionException") and ``-1030`` ("DuplicateSerialNumber"), the sandbox
  answers with them, and a real code seen in the field belongs in :data:`SESSION_GONE` /
  :data:`DUPLICATE`.
* Images and files: Happytalk sends only files stored at Kakao (its upload API first); this
  profile hands Kakao bridgekit's signed media URL as ``image_url`` / ``file_url``.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any, TypedDict

import aiohttp
from bridgekit.channelkit import status_error, transport_errors
from bridgekit.channelkit.errors import parse_retry_after
from bridgekit.exceptions import MalformedDelivery, PermanentDeliveryError, SignatureError
from bridgekit.model import RawDelivery
from bridgekit.payloads import check_types, parse_json

from bridgekit_kakao.consult_wire import ConsultSettings, InboundChat, InboundKind, OutboundChat, SessionGone

TITLE = "Happytalk (Kakao consultation talk relay)"
CLIENT_ID_HEADER = "HT-Client-Id"
CLIENT_SECRET_HEADER = "HT-Client-Secret"
WRITE_PATH = "/v1/chat/write"
END_PATH = "/v1/chat/end"
#: Our message kinds as Happytalk's ``message_type``.
MESSAGE_TYPES = {"text": "TX", "image": "IM", "file": "FI", "link": "LI"}
#: Happytalk's documented "InvalidSenderException".
INVALID_SENDER = -501
#: Assumed (not published): the customer's session is over (expired or ended).
SESSION_GONE = frozenset({-1010})
#: Assumed (not published): this ``serial_number`` was sent already.
DUPLICATE = frozenset({-1030})
#: Kakao's ``type`` of an inbound call as our kind.
INBOUND_TYPES: dict[str, InboundKind] = {
    "text": "text",
    "photo": "image",
    "image": "image",
    "file": "file",
    "link": "link",
    "leave": "leave",
}


class Attachment(TypedDict, total=False):
    url: str
    name: str


class _Required(TypedDict):
    user_key: str
    sender_key: str
    session_id: str
    serial_number: str
    time: int
    type: str


class InboundCall(_Required, total=False):
    content: str
    attachment: Attachment


class HappytalkWire:
    """:class:`~bridgekit_kakao.consult_wire.ConsultWire` for Happytalk's relay."""

    title = TITLE

    def __init__(self, settings: ConsultSettings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.session = session
        self.base = settings.api_base.rstrip("/")

    # --- inbound ------------------------------------------------------------------------

    def verify(self, delivery: RawDelivery) -> None:
        given = delivery.query.get("token")
        if not given:
            raise SignatureError("missing ?token= on the consultation-talk webhook URL")
        if not hmac.compare_digest(given.encode("utf-8"), self.settings.webhook_token.encode("utf-8")):
            raise SignatureError("wrong ?token= on the consultation-talk webhook URL")

    def parse(self, delivery: RawDelivery) -> list[InboundChat]:
        try:
            data = parse_json(delivery.body)
        except ValueError as exc:
            raise MalformedDelivery(f"{TITLE}: {exc}") from None
        check_types(data, InboundCall, TITLE)
        call: InboundCall = data
        if call["sender_key"] != self.settings.sender_key:
            raise MalformedDelivery(f"the call is for sender key {call['sender_key']!r}, not this channel's")
        kind = INBOUND_TYPES.get(call["type"])
        if kind is None:
            return []  # a type we do not know: the raw delivery is kept, nothing is made of it
        attachment = call.get("attachment", {})
        try:
            sent_at = datetime.fromtimestamp(call["time"] / 1000, UTC).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            raise MalformedDelivery(f"'time' {call['time']} is not a time in milliseconds") from None
        return [
            InboundChat(
                kind=kind,
                user_key=call["user_key"],
                session_id=call["session_id"],
                serial_number=call["serial_number"],
                sent_at=sent_at,
                text=call.get("content", ""),
                url=attachment.get("url"),
                filename=attachment.get("name"),
            )
        ]

    # --- outbound -----------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {
            CLIENT_ID_HEADER: self.settings.client_id,
            CLIENT_SECRET_HEADER: self.settings.client_secret,
            "Content-Type": "application/json",
        }

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        timeout = self.settings.timeout_seconds
        with transport_errors(TITLE, timeout):
            async with self.session.post(
                self.base + path,
                json=body,
                headers=self._headers(),
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                raw = await resp.read()
                if resp.status != 200:
                    raise status_error(
                        resp.status,
                        f"{TITLE} answered HTTP {resp.status}: {raw[:200].decode('utf-8', 'replace')}",
                        retry_after=parse_retry_after(resp.headers.get("Retry-After")),
                    )
        try:
            answer = parse_json(raw)
        except ValueError as exc:
            raise PermanentDeliveryError(f"{TITLE} answered {exc}") from None
        if not isinstance(answer, dict):
            raise PermanentDeliveryError(f"{TITLE} answered something that is not a JSON object")
        return answer

    async def send(self, message: OutboundChat) -> str:
        body: dict[str, Any] = {
            "user_key": message.user_key,
            "sender_key": self.settings.sender_key,
            "serial_number": message.serial_number,
            "message_type": MESSAGE_TYPES[message.kind],
        }
        if message.kind in ("text", "link"):
            body["message"] = message.text
        if message.kind == "image":
            body["image_url"] = message.url
        if message.kind == "file":
            body |= {"file_url": message.url, "file_name": message.filename, "file_size": message.size}
        if message.kind == "link":
            body["links"] = [dict(link) for link in message.links]
        answer = await self._post(WRITE_PATH, body)
        code = _code(answer)
        if code == 0 or code in DUPLICATE:  # a repeat of a message that went out: sent once
            return message.serial_number
        reason = f"{TITLE} refused the message: {answer.get('message', '')} ({code})"
        if code in SESSION_GONE:
            raise SessionGone(reason)
        raise PermanentDeliveryError(reason)

    async def end_session(self, user_key: str) -> str | None:
        answer = await self._post(END_PATH, {"user_key": user_key, "sender_key": self.settings.sender_key})
        code = _code(answer)
        if code in SESSION_GONE:
            return None  # nothing left to end
        if code != 0:
            raise PermanentDeliveryError(
                f"{TITLE} did not end the session: {answer.get('message', '')} ({code})"
            )
        session_id = answer.get("sessionId")
        return str(session_id) if session_id is not None else None


def _code(answer: dict[str, Any]) -> int:
    """Happytalk's ``code`` (documented as a string or a number)."""
    try:
        return int(answer.get("code", -1))
    except (TypeError, ValueError):
        return -1
