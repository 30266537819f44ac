"""What reaches ``/hooks/<integration>``: Twilio's webhooks (incoming texts and status
callbacks, signed with ``X-Twilio-Signature``), NHN Cloud's webhooks (``X-Toast-Webhook-Signature``),
an NHN MO callback (authenticated by the ``?token=`` of its URL; its shape is our assumption,
see :meth:`bridgekit_sms.plugin.SmsPlugin._nhn_mo`) and the plugin's own NHN result reports
(signed by the plugin).

Twilio's signature, exactly as Twilio computes it (its ``RequestValidator``): the full URL
Twilio requested, then for a form body each parameter name followed by its value, sorted by
name (and value); HMAC-SHA1 under the account's auth token, base64. Twilio's own validator
accepts the URL with and without an explicit default port, and so do we.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bridgekit.exceptions import MalformedDelivery, SignatureError
from bridgekit.model import DeliveryStatus, StatusUpdate

from bridgekit_sms.providers import TWILIO_ERRORS

TWILIO_SIGNATURE = "x-twilio-signature"
#: NHN Cloud's webhook carries the signature string set in its console, as it is.
NHN_WEBHOOK_SIGNATURE = "x-toast-webhook-signature"
REPORT_SIGNATURE = "x-bridgekit-sms-report"


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """``X-Twilio-Signature`` of a request to ``url`` with form ``params``."""
    grouped: dict[str, set[str]] = {}
    for name, value in params:
        grouped.setdefault(name, set()).add(value)
    signed = url + "".join(name + value for name in sorted(grouped) for value in sorted(grouped[name]))
    digest = hmac.new(auth_token.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _with_and_without_port(url: str) -> list[str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        return [url, urlunsplit(parts._replace(netloc=host))]
    port = 443 if parts.scheme == "https" else 80
    return [url, urlunsplit(parts._replace(netloc=f"{host}:{port}"))]


def form(body: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise SignatureError("Twilio webhook body is not UTF-8 form data") from None


def verify_twilio(
    auth_token: str, url: str, query: Mapping[str, str], body: bytes, given: str
) -> list[tuple[str, str]]:
    """The form parameters of an authentic Twilio webhook; :class:`SignatureError` otherwise."""
    if query:
        url = f"{url}?{urlencode(query)}"
    params = form(body)
    for candidate in _with_and_without_port(url):
        expected = twilio_signature(auth_token, candidate, params)
        if hmac.compare_digest(expected.encode(), given.encode()):
            return params
    raise SignatureError("X-Twilio-Signature does not match the URL and parameters")


# Twilio MessageStatus -> bridgekit's delivery status (others — queued, sending, accepted —
# change nothing: bridgekit's "pending" is the queued state, "sent" is the provider's accept).
TWILIO_STATUS = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,  # SMS never reports reads (I19)
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
}


def twilio_status(fields: Mapping[str, str]) -> StatusUpdate | None:
    sid = fields.get("MessageSid") or fields.get("SmsSid")
    status = TWILIO_STATUS.get(fields.get("MessageStatus", ""))
    if not sid or status is None:
        return None
    reason = None
    if status == DeliveryStatus.FAILED:
        code = fields.get("ErrorCode", "")
        words = TWILIO_ERRORS.get(int(code)) if code.isdigit() else None
        detail = f"{code or 'none given'}{': ' + words if words else ''}"
        reason = f"Twilio: {fields.get('MessageStatus')} (error {detail})"
    return StatusUpdate(sid, status, reason)


# --- the plugin's own NHN result reports ---------------------------------------------------

# ``msgStatus`` of a send, as NHN Cloud SMS API v3.0 defines it (the ``msgStatus`` parameter of
# "단문 SMS 발송목록 검색", https://docs.nhncloud.com/ko/Notification/SMS/ko/api-guide/):
# 0 실패, 1 요청, 2 처리 중, 3 성공, 4 예약취소, 5 중복실패, 6 실패(광고 제한),
# 7 재발송 대기(광고 제한). 1, 2 and 7 are not final: polling goes on.
NHN_DONE = "3"
NHN_FAILURES = {"0": "실패", "4": "예약취소", "5": "중복실패", "6": "실패(광고 제한)"}
#: The carrier's ``resultCode`` for "received" (수신 결과 코드 1000 성공; every other code is a
#: failure: https://docs.nhncloud.com/ko/Notification/SMS/ko/error-code/).
NHN_RECEIVED = "1000"


def report_key(nhn_secret_key: str) -> bytes:
    return hmac.new(nhn_secret_key.encode(), b"bridgekit-sms nhn result report", hashlib.sha256).digest()


def sign_report(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def nhn_update(provider_id: str, record: Mapping[str, object]) -> StatusUpdate | None:
    """A final NHN result (``body.data`` of the single-send lookup) as a status update; None
    while the send is not final."""
    status = str(record.get("msgStatus", ""))
    code = str(record.get("resultCode") or "")
    if status == NHN_DONE and code == NHN_RECEIVED:
        return StatusUpdate(provider_id, DeliveryStatus.DELIVERED)
    if (status == NHN_DONE and code) or status in NHN_FAILURES:
        name = record.get("resultCodeName") or NHN_FAILURES.get(status) or record.get("msgStatusName") or ""
        result = f", result {code}" if code else ""
        return StatusUpdate(
            provider_id, DeliveryStatus.FAILED, f"NHN Cloud SMS: msgStatus {status}{result} {name}".strip()
        )
    return None


def parse_report(body: bytes) -> list[StatusUpdate]:
    try:
        data = json.loads(body)
    except ValueError:
        raise MalformedDelivery("SMS result report: not JSON") from None
    updates = []
    for item in data.get("reports", []) if isinstance(data, dict) else []:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(item.get("data"), dict):
            update = nhn_update(item["id"], item["data"])
            if update is not None:
                updates.append(update)
    return updates


# --- NHN Cloud webhooks (console: SMS > 웹훅 설정) -------------------------------------------
# https://docs.nhncloud.com/ko/Notification/SMS/ko/webhook/ : the envelope, the
# X-Toast-Webhook-Signature header, and the events UNSUBSCRIBE, MESSAGE_RESULT_UPDATE,
# CONVERSION_BLOCK and INTERNATIONAL_DELIVERY_RECEIPT. It defines no inbound-text (MO) event.

#: ``messageStatus`` of a MESSAGE_RESULT_UPDATE hook that is a failure (the guide's values are
#: COMPLETED 발송 완료, FAILED 발송 실패, CANCEL 취소, DUPLICATED 중복 발송, FAILED_AD 실패(광고 제한)).
NHN_FAILED_STATUSES = frozenset({"FAILED", "CANCEL", "DUPLICATED", "FAILED_AD"})


def nhn_webhook(body: bytes) -> tuple[str, list[dict[str, object]]]:
    """The event name and hooks of an authentic NHN Cloud webhook."""
    try:
        data = json.loads(body)
    except ValueError:
        raise MalformedDelivery("NHN Cloud webhook: not JSON") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("event"), str)
        or not isinstance(data.get("hooks"), list)
    ):
        raise MalformedDelivery('NHN Cloud webhook: expected {"event": ..., "hooks": [...]}')
    return data["event"], [h for h in data["hooks"] if isinstance(h, dict)]


def nhn_result_update(hook: Mapping[str, object]) -> StatusUpdate | None:
    """A MESSAGE_RESULT_UPDATE hook as a status update (``requestId#recipientSeq``)."""
    request_id, seq = hook.get("requestId"), hook.get("recipientSeq", 1)
    status, code = str(hook.get("messageStatus", "")), str(hook.get("resultCode", ""))
    if not isinstance(request_id, str):
        return None
    provider_id = f"{request_id}#{seq}"
    if status == "COMPLETED" and code == NHN_RECEIVED:
        return StatusUpdate(provider_id, DeliveryStatus.DELIVERED)
    if (status == "COMPLETED" and code) or status in NHN_FAILED_STATUSES:
        return StatusUpdate(provider_id, DeliveryStatus.FAILED, f"NHN Cloud SMS: {status}, result {code}")
    return None
