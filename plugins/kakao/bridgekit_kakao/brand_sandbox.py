"""The Alimtalk sandbox that also speaks NHN Cloud's brand message API v1.0 (the same app key
and sender key serve both at NHN), for the tests: the wire format of
:mod:`bridgekit_kakao.brand_api` over real HTTP.

``POST /brand-message/v1.0/appkeys/{appkey}/freestyle-messages`` checks the app key and
``X-Secret-Key``, the sender key, ``chatBubbleType`` WIDE with ``image.imageUrl`` and at most
76 characters of ``content``, and honours ``X-NC-API-IDEMPOTENCY-KEY`` (a repeat within ten
minutes: NHN's ``-1005``). Kakao's rules as results: at night in Korea (``clock``) the
result is FAILED ``3022``; to a number not among :attr:`BrandSandbox.friends` (targeting
``I``) FAILED ``3018`` with ``isAddedChannel`` false; :meth:`BrandSandbox.fail_brand`
makes any Kakao code. Otherwise COMPLETED with ``isAddedChannel`` true.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bridgekit_kakao.brand_rules import AD_NIGHT, WIDE_MAX_CHARS
from bridgekit_kakao.nhn import IDEMPOTENCY_HEADER
from bridgekit_kakao.sandbox import CANNOT_DELIVER, DUPLICATE_REQUEST, IDEMPOTENCY_WINDOW, AlimtalkSandbox
from bridgekit_kakao.sandbox_senders import nhn_answer

#: Kakao's "not a time messages may be sent" (friend talk / brand messages: 08:00 to 20:50).
NOT_NOW = "3022"


class BrandSandbox(AlimtalkSandbox):
    def __init__(self) -> None:
        super().__init__()
        #: Recipient numbers (as sent: ``01012345678``) that added the channel as a friend.
        self.friends: set[str] = set()
        #: Every brand message NHN took: the body's fields for one recipient, plus ``requestId``.
        self.brand_sent: list[dict[str, Any]] = []
        #: Every send request that reached the sandbox, taken or not.
        self.brand_requests = 0
        self.brand_results: dict[tuple[str, int], dict[str, Any]] = {}
        self.brand_failing: dict[str, str] = {}
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._brand_keys: dict[str, float] = {}
        self._brand_ids = itertools.count(1)
        base = "/brand-message/v1.0/appkeys/{app_key}"
        self.app.add_routes(
            [
                web.post(base + "/freestyle-messages", self._brand_send),
                web.get(base + "/messages/{request_id}/{seq}", self._brand_result),
            ]
        )

    def fail_brand(self, recipient_no: str, code: str = CANNOT_DELIVER) -> None:
        """Brand messages to ``recipient_no`` fail with Kakao's ``code``."""
        self.brand_failing[recipient_no] = code

    async def _brand_send(self, request: web.Request) -> web.Response:
        self.brand_requests += 1
        if not self._authorised(request):
            return nhn_answer(False, -1000, "Invalid appKey or secretKey")
        key = request.headers.get(IDEMPOTENCY_HEADER)
        now = time.monotonic()
        if key:
            if now - self._brand_keys.get(key, -IDEMPOTENCY_WINDOW) < IDEMPOTENCY_WINDOW:
                return nhn_answer(False, DUPLICATE_REQUEST, "The same X-NC-API-IDEMPOTENCY-KEY again")
            self._brand_keys[key] = now
        data = await request.json()
        if data.get("senderKey") != self.sender_key:
            return nhn_answer(False, -1006, "Plus friend don't have sender key")
        image = data.get("image")
        content = data.get("content")
        if data.get("chatBubbleType") != "WIDE" or not isinstance(image, dict) or not image.get("imageUrl"):
            return nhn_answer(False, -2002, "The 'image' must not be null.")
        if not isinstance(content, str) or len(content) > WIDE_MAX_CHARS:
            return nhn_answer(False, 3014, "content too long")
        recipients = data.get("recipientList")
        if not isinstance(recipients, list) or not recipients:
            return nhn_answer(False, -2002, "The 'recipientList' must not be null.")
        request_id = f"{time.strftime('%Y%m%d%H%M%S')}{next(self._brand_ids):06d}"
        results = []
        for seq, recipient in enumerate(recipients, start=1):
            number = str(recipient.get("recipientNo"))
            friend = number in self.friends
            failed = (
                NOT_NOW
                if AD_NIGHT.covers(self.clock())
                else self.brand_failing.get(number) or (None if friend else CANNOT_DELIVER)
            )
            self.brand_sent.append({**recipient, "content": content, "image": image, "requestId": request_id})
            self.brand_results[(request_id, seq)] = {
                "requestId": request_id,
                "recipientSeq": seq,
                "senderKey": self.sender_key,
                "recipientNo": number,
                "targeting": recipient.get("targeting", "I"),
                "chatBubbleType": "WIDE",
                "content": content,
                "messageStatus": "FAILED" if failed else "COMPLETED",
                "isAddedChannel": friend,
                "resultCode": failed or "1000",
                "resultCodeName": "Message cannot be delivered" if failed else "Success",
            }
            results.append({"recipientSeq": seq, "recipientNo": number, "resultCode": 0})
            results[-1]["resultMessage"] = "SUCCESS"
        return nhn_answer(True, 0, "SUCCESS", message={"requestId": request_id, "sendResults": results})

    async def _brand_result(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return nhn_answer(False, -1000, "Invalid appKey or secretKey")
        try:
            key = (request.match_info["request_id"], int(request.match_info["seq"]))
        except ValueError:
            return nhn_answer(False, -2002, "recipientSeq must be a number")
        found = self.brand_results.get(key)
        if found is None:
            return nhn_answer(False, -1010, "No such message")
        return nhn_answer(True, 0, "SUCCESS", message=found)


def brand_integration(sandbox: BrandSandbox, **settings: Any) -> dict[str, Any]:
    """A ``kakao_brand`` integration pointed at the (started) sandbox, verified both ways and
    with a default wide image."""
    return {
        "channel": "kakao_brand",
        "settings": sandbox.settings()
        | {
            "kakao_business_verified": True,
            "workspace_business_verified": True,
            "image_url": "https://mud-kage.kakao.com/dn/wide/sale.jpg",
        }
        | settings,
        "secrets": sandbox.secrets(),
    }
