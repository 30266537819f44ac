"""The NHN Cloud KakaoTalk Bizmessage brand message API v1.0 on the wire (브랜드 메시지, the
successor of FriendTalk v2.x, which NHN now answers with -9992 "migrate to the new
brand-message endpoint"). Source: NHN Cloud docs "Notification > KakaoTalk Bizmessage > 브랜드
메시지 > API v1.0 Guide" (TOAST-DOCS Alimtalk repository, ``ko/friendtalkupgrade-api-guide.md``).

* send (free style): ``POST /brand-message/v1.0/appkeys/{appkey}/freestyle-messages`` with
  ``X-Secret-Key`` and ``X-NC-API-IDEMPOTENCY-KEY`` (a repeated key within ten minutes is
  refused: ``-1005``); body ``senderKey``, ``chatBubbleType`` ``WIDE``, ``content`` (at most
  76 characters), ``image.imageUrl`` / ``image.imageLink``, ``recipientList[]``
  (``recipientNo``, ``targeting`` ``I``: "the recipients ∩ channel friends",
  ``resendParameter``); answer ``header`` and ``message.requestId`` /
  ``message.sendResults[].resultCode`` (0: accepted).
* one result: ``GET …/messages/{requestId}/{recipientSeq}``: ``message.messageStatus``
  COMPLETED or FAILED, ``resultCode`` (Kakao's: 3018 cannot deliver, 3022 night), and
  ``isAddedChannel``: whether the recipient is a friend of the channel, which bridgekit keeps.

Assumptions where the guide is silent: the v1.0 body has no ad flag (FriendTalk's ``isAd``),
so the ``(광고)`` marker travels in ``content``; a result not yet decided has another
``messageStatus`` (the Alimtalk API's ``SENDING``) and is asked again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from bridgekit.exceptions import TransientDeliveryError

from bridgekit_kakao.brand_rules import BrandSettings
from bridgekit_kakao.nhn import API, COMPLETED, FAILED, IDEMPOTENCY_HEADER, SECRET_HEADER, nhn_call

#: The wide-image type, the only one the seed offers ("현재는 와이드 이미지형만 제공").
WIDE = "WIDE"
#: Recipients who are friends of the channel (the only targeting every channel may use).
FRIENDS = "I"


@dataclass(frozen=True, slots=True)
class BrandAccepted:
    request_id: str
    recipient_seq: int
    result_code: int
    result_message: str


@dataclass(frozen=True, slots=True)
class BrandOutcome:
    status: str
    result_code: str
    result_name: str
    #: ``isAddedChannel``: NHN's word on whether the recipient is a friend (None: not said).
    friend: bool | None

    @property
    def final(self) -> bool:
        return self.status in (COMPLETED, FAILED)

    @property
    def delivered(self) -> bool:
        return self.status == COMPLETED


class BrandClient:
    def __init__(self, settings: BrandSettings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.session = session
        self.base = (
            f"{settings.api_base.rstrip('/')}/brand-message/v1.0/appkeys/{quote(settings.app_key, safe='')}"
        )

    def _headers(self) -> dict[str, str]:
        return {SECRET_HEADER: self.settings.secret_key, "Content-Type": "application/json;charset=UTF-8"}

    async def send_wide(
        self, content: str, image_url: str, image_link: str, recipient_no: str, idempotency_key: str
    ) -> BrandAccepted:
        image = {"imageUrl": image_url} | ({"imageLink": image_link} if image_link else {})
        body = {
            "senderKey": self.settings.sender_key,
            "chatBubbleType": WIDE,
            "content": content,
            "image": image,
            "recipientList": [
                {
                    "recipientNo": recipient_no,
                    "targeting": FRIENDS,
                    # A brand message is not replaced by a text: an ad by SMS has rules of its own.
                    "resendParameter": {"isResend": False},
                }
            ],
        }
        data = await nhn_call(
            self.session,
            "POST",
            f"{self.base}/freestyle-messages",
            self.settings.timeout_seconds,
            json=body,
            headers=self._headers() | {IDEMPOTENCY_HEADER: idempotency_key},
        )
        message = data.get("message")
        results = message.get("sendResults") if isinstance(message, dict) else None
        if not isinstance(message, dict) or not isinstance(results, list) or not results:
            raise TransientDeliveryError(f"{API} took the brand message but named no request id or result")
        first = results[0]
        if not isinstance(first, dict):
            raise TransientDeliveryError(f"{API} answered a malformed send result")
        return BrandAccepted(
            str(message.get("requestId", "")),
            int(first.get("recipientSeq", 1)),
            int(first.get("resultCode", -1)),
            str(first.get("resultMessage", "")),
        )

    async def outcome(self, request_id: str, recipient_seq: int) -> BrandOutcome:
        data = await nhn_call(
            self.session,
            "GET",
            f"{self.base}/messages/{quote(request_id, safe='')}/{recipient_seq}",
            self.settings.timeout_seconds,
            headers=self._headers(),
        )
        message: Any = data.get("message")
        if not isinstance(message, dict):
            raise TransientDeliveryError(f"{API} answered a result without its message")
        added = message.get("isAddedChannel")
        return BrandOutcome(
            str(message.get("messageStatus", "")),
            str(message.get("resultCode", "")),
            str(message.get("resultCodeName", "")),
            added if isinstance(added, bool) else None,
        )
