"""The TalkTalk 보내기 API (send API) and Image Upload API, with failures mapped for the outbox.

Wire format (navertalk/chatbot-api README "보내기 API 작성 방법" and "오류 명세";
imageupload_api_v1.md)::

    POST https://gw.talk.naver.com/chatbot/v1/event
    Content-Type: application/json;charset=UTF-8
    Authorization: ct_wc8b1i_Pb1AXDQ0RZWuCccpzdNL        (the raw key, no "Bearer")

    {"event": "send", "user": "...", "textContent": {"text": "hello world"}}

    POST https://gw.talk.naver.com/chatbot/v1/imageUpload
    {"imageUrl": "https://..."}        ->  {"success": true, "resultCode": "00", "imageId": "..."}

Both answer HTTP 200 with ``{"success": bool, "resultCode": str, "resultMessage"?: str}``;
only ``resultCode`` ``"00"`` is a success.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from bridgekit.channelkit import parse_retry_after, status_error, transport_errors
from bridgekit.exceptions import PermanentDeliveryError, TransientDeliveryError

DEFAULT_API_BASE = "https://gw.talk.naver.com"
EVENT_PATH = "/chatbot/v1/event"
IMAGE_UPLOAD_PATH = "/chatbot/v1/imageUpload"
JSON_CONTENT_TYPE = "application/json;charset=UTF-8"

SUCCESS_CODE = "00"

#: Result codes a later attempt may get past. ``IMG-02`` is "전송/처리 시간 초과": Naver
#: could not download the image within 10 s, which is a network condition.
TRANSIENT_RESULT_CODES: frozenset[str] = frozenset({"IMG-02"})

#: What the documented failure codes mean, for the reason a manager sees. All of these are
#: permanent: ``01`` (bad/expired Authorization key) and ``02`` (bad JSON / missing field)
#: need a configuration or code change, ``99`` is Naver's catch-all with the cause in
#: ``resultMessage`` (blocked user, user not found, ...), ``IMG-01``/``IMG-03`` are the
#: image itself (format, >20 MB) and ``IMG-99`` a failed upload.
RESULT_CODE_HINTS: Mapping[str, str] = {
    "01": "the Authorization key is wrong or expired: check secrets.authorization_key "
    "(partner center > 개발자도구 > 챗봇API 설정 > 보내기 API)",
    "02": "Naver could not parse the request",
    "99": "Naver refused the request",
    "IMG-01": "the image is not a JPG, PNG or GIF, or could not be processed",
    "IMG-02": "Naver timed out downloading the image",
    "IMG-03": "the image is larger than 20 MB",
    "IMG-99": "the image upload failed",
}


class TalkTalkClient:
    """Calls the TalkTalk API for one integration over a shared ``aiohttp`` session."""

    def __init__(self, session: aiohttp.ClientSession, api_base: str, authorization_key: str) -> None:
        self.session = session
        self.api_base = api_base.rstrip("/")
        self.authorization_key = authorization_key

    async def send_event(self, event: Mapping[str, Any]) -> Mapping[str, Any]:
        """POST one event (``send``, ``action``...) to the 보내기 API; return the reply body."""
        return await self._post(EVENT_PATH, event)

    async def upload_image(self, image_url: str) -> str:
        """Have TalkTalk download ``image_url`` once and return its ``imageId``."""
        body = await self._post(IMAGE_UPLOAD_PATH, {"imageUrl": image_url})
        image_id = body.get("imageId")
        if not isinstance(image_id, str) or not image_id:
            raise PermanentDeliveryError("Naver TalkTalk image upload succeeded but returned no imageId")
        return image_id

    async def _post(self, path: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        url = self.api_base + path
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": JSON_CONTENT_TYPE, "Authorization": self.authorization_key}
        with transport_errors(f"Naver TalkTalk ({path})", self.session.timeout.total):
            async with self.session.post(url, data=data, headers=headers) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        return check_response(path, status, raw, retry_after)


def check_response(path: str, status: int, raw: bytes, retry_after: float | None = None) -> Mapping[str, Any]:
    """Map one HTTP answer to a body (success) or a delivery error."""
    snippet = raw[:300].decode("utf-8", "replace").strip()
    if status != 200:
        reason = f"Naver TalkTalk answered HTTP {status} ({path}){': ' + snippet if snippet else ''}"
        raise status_error(status, reason, retry_after=retry_after)
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        body = None
    if not isinstance(body, dict):
        # A 200 we cannot read: whether the message went out is unknown, and a retry
        # could send it twice, so mark it failed and let a person decide.
        raise PermanentDeliveryError(f"Naver TalkTalk answered an unreadable body ({path}): {snippet!r}")
    code = str(body.get("resultCode", ""))
    if body.get("success") is True and code == SUCCESS_CODE:
        return body
    message = body.get("resultMessage")
    reason = f"Naver TalkTalk resultCode {code or '(none)'}"
    if isinstance(message, str) and message:
        reason += f": {message}"
    hint = RESULT_CODE_HINTS.get(code)
    if hint:
        reason += f" ({hint})"
    elif code:
        reason += " (undocumented result code)"
    if code in TRANSIENT_RESULT_CODES:
        raise TransientDeliveryError(reason)
    raise PermanentDeliveryError(reason)


__all__ = [
    "DEFAULT_API_BASE",
    "EVENT_PATH",
    "IMAGE_UPLOAD_PATH",
    "TalkTalkClient",
    "check_response",
]
