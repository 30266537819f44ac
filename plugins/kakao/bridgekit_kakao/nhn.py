"""The NHN Cloud KakaoTalk Bizmessage Alimtalk API v2.3 on the wire.

* send: ``POST /alimtalk/v2.3/appkeys/{appkey}/messages`` with ``X-Secret-Key`` and
  ``X-NC-API-IDEMPOTENCY-KEY``; body ``senderKey``, ``templateCode``, ``recipientList``
  (``recipientNo``, ``templateParameter``, ``resendParameter``); answer ``header`` and
  ``message.requestId`` / ``message.sendResults[].resultCode`` (0: accepted).
* one result: ``GET …/messages/{requestId}/{recipientSeq}``: ``message.messageStatus``
  COMPLETED, FAILED or CANCEL (anything else: still being decided).
* templates: ``GET …/senders/{senderKey}/templates?pageNum=&pageSize=``:
  ``templateListResponse.templates[]`` with ``templateCode``, ``templateName``,
  ``templateContent`` and ``status`` (TSC01 to TSC04).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from bridgekit.channelkit import status_error, transport_errors
from bridgekit.channelkit.errors import parse_retry_after
from bridgekit.exceptions import TransientDeliveryError

from bridgekit_kakao.settings import AlimtalkSettings
from bridgekit_kakao.templates import NHN_STATUS, Template, TemplateState

API = "NHN Cloud KakaoTalk Bizmessage"
SECRET_HEADER = "X-Secret-Key"
IDEMPOTENCY_HEADER = "X-NC-API-IDEMPOTENCY-KEY"
TEMPLATE_PAGE_SIZE = 1000

#: What ``messageStatus`` ends in; anything else is still being decided.
COMPLETED, FAILED, CANCEL = "COMPLETED", "FAILED", "CANCEL"


class Refused(Exception):
    """NHN answered but did not take the request (``header.isSuccessful`` false)."""

    def __init__(self, code: object, message: str) -> None:
        super().__init__(f"{API} refused the request: {message} ({code})")
        self.code = code


@dataclass(frozen=True, slots=True)
class Accepted:
    request_id: str
    recipient_seq: int
    result_code: int
    result_message: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """A send's result: ``final`` once NHN decided; ``delivered`` for COMPLETED."""

    status: str
    result_code: str
    result_name: str

    @property
    def final(self) -> bool:
        return self.status in (COMPLETED, FAILED, CANCEL)

    @property
    def delivered(self) -> bool:
        return self.status == COMPLETED


async def nhn_call(
    session: aiohttp.ClientSession, method: str, url: str, timeout: float, **kwargs: Any
) -> dict[str, Any]:
    """One call to any KakaoTalk Bizmessage API (Alimtalk, brand message): NHN's answer when
    ``header.isSuccessful``; :class:`Refused` when NHN answered no; a delivery error when it
    did not answer (transient for 5xx, 429, no JSON)."""
    with transport_errors(API, timeout):
        limit = aiohttp.ClientTimeout(total=timeout)
        async with session.request(method, url, timeout=limit, **kwargs) as resp:
            if resp.status >= 500 or resp.status == 429:
                after = parse_retry_after(resp.headers.get("Retry-After"))
                raise status_error(resp.status, f"{API} answered HTTP {resp.status}", retry_after=after)
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                raise TransientDeliveryError(f"{API} answered HTTP {resp.status} without JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("header"), dict):
        raise TransientDeliveryError(f"{API} answered without a header")
    header = data["header"]
    if header.get("isSuccessful") is not True:
        raise Refused(header.get("resultCode"), str(header.get("resultMessage", "")))
    return data


class AlimtalkClient:
    def __init__(self, settings: AlimtalkSettings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.session = session
        self.base = (
            f"{settings.api_base.rstrip('/')}/alimtalk/v2.3/appkeys/{quote(settings.app_key, safe='')}"
        )

    def _headers(self) -> dict[str, str]:
        return {SECRET_HEADER: self.settings.secret_key, "Content-Type": "application/json;charset=UTF-8"}

    async def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        return await nhn_call(self.session, method, url, self.settings.timeout_seconds, **kwargs)

    async def send(
        self, template_code: str, recipient_no: str, parameters: dict[str, str], idempotency_key: str
    ) -> Accepted:
        body = {
            "senderKey": self.settings.sender_key,
            "templateCode": template_code,
            "recipientList": [
                {
                    "recipientNo": recipient_no,
                    "templateParameter": parameters,
                    # bridgekit sends the fallback text itself, exactly once (K6; README).
                    "resendParameter": {"isResend": False},
                }
            ],
        }
        data = await self._call(
            "POST",
            f"{self.base}/messages",
            json=body,
            headers=self._headers() | {IDEMPOTENCY_HEADER: idempotency_key},
        )
        message = data.get("message")
        results = message.get("sendResults") if isinstance(message, dict) else None
        if not isinstance(message, dict) or not isinstance(results, list) or not results:
            raise TransientDeliveryError(f"{API} accepted the send but named no request id or result")
        first = results[0]
        if not isinstance(first, dict):
            raise TransientDeliveryError(f"{API} answered a malformed send result")
        return Accepted(
            str(message.get("requestId", "")),
            int(first.get("recipientSeq", 1)),
            int(first.get("resultCode", -1)),
            str(first.get("resultMessage", "")),
        )

    async def outcome(self, request_id: str, recipient_seq: int) -> Outcome:
        data = await self._call(
            "GET",
            f"{self.base}/messages/{quote(request_id, safe='')}/{recipient_seq}",
            headers=self._headers(),
        )
        message = data.get("message")
        if not isinstance(message, dict):
            raise TransientDeliveryError(f"{API} answered a result without its message")
        return Outcome(
            str(message.get("messageStatus", "")),
            str(message.get("resultCode", "")),
            str(message.get("resultCodeName", "")),
        )

    async def templates(self) -> list[Template]:
        """Every template of the sender profile, each with its review state."""
        found: list[Template] = []
        page = 1
        while True:
            data = await self._call(
                "GET",
                f"{self.base}/senders/{quote(self.settings.sender_key, safe='')}/templates",
                params={"pageNum": str(page), "pageSize": str(TEMPLATE_PAGE_SIZE)},
                headers=self._headers(),
            )
            listing = data.get("templateListResponse")
            items = listing.get("templates") if isinstance(listing, dict) else None
            if not isinstance(listing, dict) or not isinstance(items, list):
                raise TransientDeliveryError(f"{API} answered a template list without templates")
            for item in items:
                if isinstance(item, dict) and isinstance(item.get("templateCode"), str):
                    status = str(item.get("status", ""))
                    found.append(
                        Template(
                            item["templateCode"],
                            str(item.get("templateName", "")),
                            str(item.get("templateContent", "")),
                            NHN_STATUS.get(status, TemplateState.REQUESTED),
                            status,
                        )
                    )
            total = listing.get("totalCount")
            if not items or not isinstance(total, int) or page * TEMPLATE_PAGE_SIZE >= total:
                return found
            page += 1
