"""The adapter boundary: one :class:`Provider` per SMS gateway, each speaking its own wire
format. The plugin decides what to send (rules, sender, type); a provider only sends it and
reads its answer.

* :class:`NhnProvider` — NHN Cloud Notification SMS API v3.0 (Korean numbers):
  ``POST {base}/sms/v3.0/appKeys/{appKey}/sender/{sms|mms|ad-sms|ad-mms}`` with the
  ``X-Secret-Key`` header and ``{"body", "title"?, "sendNo", "recipientList":
  [{"recipientNo"}], "senderGroupingKey"}``; the answer is ``{"header": {"isSuccessful",
  "resultCode", "resultMessage"}, "body": {"data": {"requestId", "statusCode",
  "sendResultList": [{"recipientNo", "resultCode", "resultMessage", "recipientSeq"}]}}}``.
  Results are polled: ``GET .../sender/{sms|mms}/{requestId}?recipientSeq=N`` answers
  ``body.data`` with ``msgStatus`` (0 failed, 1 requested, 2 processing, 3 done, 4 reservation
  cancelled, 5 duplicate failure, 6 failed (advertising restriction), 7 waiting to be sent
  again (advertising restriction)) and the carrier's ``resultCode``/``resultCodeName``
  (``1000`` = received by the phone). As given by the v3.0 guide,
  https://docs.nhncloud.com/ko/Notification/SMS/ko/api-guide/, and its result codes,
  https://docs.nhncloud.com/ko/Notification/SMS/ko/error-code/.
* :class:`TwilioProvider` — Twilio Programmable Messaging:
  ``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`` (HTTP Basic AccountSid:AuthToken)
  with the form fields ``To``, ``From``, ``Body``, ``StatusCallback``; the answer (201) has
  ``sid``, ``status``, ``num_segments``; errors are ``{"code", "message", "status"}``.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote_plus

import aiohttp
from bridgekit.channelkit import parse_retry_after, status_error, transport_errors
from bridgekit.exceptions import PermanentDeliveryError
from bridgekit.payloads import parse_json

from bridgekit_sms import rules
from bridgekit_sms.settings import SmsSettings

#: Twilio error codes whose reason we word ourselves (others are given as Twilio says them).
TWILIO_ERRORS = {
    21211: "invalid 'To' phone number",
    21408: "permission to send to this region is not enabled",
    21610: "the recipient replied STOP: Twilio refuses texts to this number",
    21614: "'To' number is not a mobile number",
    30003: "unreachable destination handset",
    30004: "message blocked",
    30005: "unknown destination handset",
    30006: "landline or unreachable carrier",
    30007: "filtered by the carrier",
    30008: "unknown error",
}
TWILIO_OPTED_OUT = 21610
FORM = "application/x-www-form-urlencoded"
#: ``quote_plus`` of the form values that repeat (numbers, the callback URL).
_quoted = functools.lru_cache(maxsize=4096)(quote_plus)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One text, decided: who, from which number, which type (``SMS``, ``LMS``, ``INTL``)."""

    to: rules.Phone
    sender: rules.Phone
    text: str
    subject: str | None
    kind: str
    ad: bool
    idempotency_key: str
    status_callback: str | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    provider_id: str
    provider_status: str
    segments: int | None = None


class Provider(Protocol):
    name: str

    async def send(self, session: aiohttp.ClientSession, out: Outgoing) -> Accepted: ...


class OptedOutAtProvider(PermanentDeliveryError):
    """The provider refuses the number because its owner opted out (Twilio 21610)."""


class NhnProvider:
    name = "nhn"

    def __init__(self, settings: SmsSettings) -> None:
        self.base = f"{settings.nhn_api_base}/sms/v3.0/appKeys/{settings.nhn_app_key}"
        self.headers = {"X-Secret-Key": settings.nhn_secret_key}
        self.timeout = settings.timeout_seconds

    @staticmethod
    def send_path(kind: str, ad: bool) -> str:
        path = "sms" if kind == "SMS" else "mms"
        return f"ad-{path}" if ad else path

    async def send(self, session: aiohttp.ClientSession, out: Outgoing) -> Accepted:
        body: dict[str, Any] = {
            "body": out.text,
            "sendNo": out.sender.national,
            "recipientList": [{"recipientNo": out.to.national, "countryCode": "82"}],
            "senderGroupingKey": out.idempotency_key[:100],
        }
        if out.kind == "LMS":
            body["title"] = out.subject or ""
        url = f"{self.base}/sender/{self.send_path(out.kind, out.ad)}"
        with transport_errors("NHN Cloud SMS API", self.timeout):
            async with session.post(url, json=body, headers=self.headers) as resp:
                raw = await resp.read()
        data = _json(raw)
        found = data.get("header")
        header: dict[str, Any] = found if isinstance(found, dict) else {}
        if not 200 <= resp.status < 300:
            reason = (
                f"NHN Cloud SMS API answered HTTP {resp.status}: {header.get('resultMessage') or raw[:200]!r}"
            )
            raise status_error(
                resp.status, reason, retry_after=parse_retry_after(resp.headers.get("Retry-After"))
            )
        if not header.get("isSuccessful"):
            raise PermanentDeliveryError(
                f"NHN Cloud SMS refused the text: {header.get('resultCode')} {header.get('resultMessage')}"
            )
        result = (data.get("body") or {}).get("data") or {}
        request_id = result.get("requestId")
        recipients = result.get("sendResultList") or [{}]
        first = recipients[0] if isinstance(recipients[0], dict) else {}
        if first.get("resultCode", 0) != 0:
            raise PermanentDeliveryError(
                f"NHN Cloud SMS refused the recipient: {first.get('resultCode')} {first.get('resultMessage')}"
            )
        if not isinstance(request_id, str) or not request_id:
            raise PermanentDeliveryError("NHN Cloud SMS accepted the text without a requestId")
        seq = first.get("recipientSeq", 1)
        return Accepted(f"{request_id}#{seq}", str(result.get("statusCode", "")))

    async def result(
        self, session: aiohttp.ClientSession, provider_id: str, kind: str
    ) -> dict[str, Any] | None:
        """NHN's record of one send (``body.data``), or None when it could not be read."""
        request_id, _, seq = provider_id.partition("#")
        url = f"{self.base}/sender/{'sms' if kind == 'SMS' else 'mms'}/{request_id}"
        with transport_errors("NHN Cloud SMS API", self.timeout):
            async with session.get(url, params={"recipientSeq": seq or "1"}, headers=self.headers) as resp:
                raw = await resp.read()
        if resp.status != 200:
            return None
        data = _json(raw)
        found = (data.get("body") or {}).get("data")
        return found if isinstance(found, dict) else None


class TwilioProvider:
    name = "twilio"

    def __init__(self, settings: SmsSettings) -> None:
        self.url = (
            f"{settings.twilio_api_base}/2010-04-01/Accounts/{settings.twilio_account_sid}/Messages.json"
        )
        pair = f"{settings.twilio_account_sid}:{settings.twilio_auth_token}".encode()
        self.headers = {
            "Authorization": "Basic " + base64.b64encode(pair).decode("ascii"),
            "Content-Type": FORM,
        }
        self.timeout = settings.timeout_seconds

    async def send(self, session: aiohttp.ClientSession, out: Outgoing) -> Accepted:
        # Encoded here, as aiohttp would (``urlencode``: UTF-8, ``+`` for spaces): its FormData
        # machinery cost as much as the rest of the request. The numbers and the callback URL
        # repeat from text to text, so their quoted forms are kept.
        body = f"To={_quoted(out.to.e164)}&From={_quoted(out.sender.e164)}&Body={quote_plus(out.text)}"
        if out.status_callback:
            body += f"&StatusCallback={_quoted(out.status_callback)}"
        with transport_errors("Twilio API", self.timeout):
            async with session.post(self.url, data=body.encode(), headers=self.headers) as resp:
                raw = await resp.read()
        data = _json(raw)
        if not 200 <= resp.status < 300:
            code = data.get("code")
            words = TWILIO_ERRORS.get(code) if isinstance(code, int) else None
            said = words or data.get("message") or repr(raw[:200])
            reason = f"Twilio API answered HTTP {resp.status}: error {code}: {said}"
            if code == TWILIO_OPTED_OUT:
                raise OptedOutAtProvider(reason)
            raise status_error(
                resp.status, reason, retry_after=parse_retry_after(resp.headers.get("Retry-After"))
            )
        sid = data.get("sid")
        if not isinstance(sid, str) or not sid:
            raise PermanentDeliveryError("Twilio accepted the text without a message sid")
        segments = str(data.get("num_segments"))
        return Accepted(sid, str(data.get("status", "")), int(segments) if segments.isdigit() else None)


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = parse_json(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
