"""Stand-ins for NHN Cloud SMS and Twilio on 127.0.0.1, speaking their wire formats, for the
tests and ``bridgekit demo``.

* :class:`NhnSandbox`: ``POST /sms/v3.0/appKeys/{appKey}/sender/{sms|mms|ad-sms|ad-mms}``
  checks ``X-Secret-Key``, the registered ``sendNo``, EUC-KR encodability and the byte limits
  (as NHN it fails texts it cannot encode); answers ``header``/``body.data`` with a
  ``requestId``; ``GET .../sender/{sms|mms}/{requestId}?recipientSeq=`` answers the result
  (``msgStatus``, ``resultCode``), "processing" until :meth:`NhnSandbox.finish` decides it.
  :meth:`NhnSandbox.post_webhook` posts NHN's webhooks; :meth:`NhnSandbox.post_mo` posts a
  customer's text to the MO callback URL in the shape the plugin assumes (NHN documents none).
* :class:`TwilioSandbox`: ``POST /2010-04-01/Accounts/{sid}/Messages.json`` with HTTP Basic
  auth and the form fields; answers 201 with ``sid``, ``status: queued``, ``num_segments``;
  keeps Twilio's opt-out list (error 21610). :meth:`TwilioSandbox.post_inbound` and
  :meth:`TwilioSandbox.report` post signed webhooks (``X-Twilio-Signature``) as Twilio does.
"""

from __future__ import annotations

import base64
import itertools
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from bridgekit.channelkit import HttpSandbox

from bridgekit_sms import rules
from bridgekit_sms.inbound import TWILIO_SIGNATURE, twilio_signature


@dataclass(slots=True)
class Failure:
    status: int
    count: int


def _take(failures: list[Failure]) -> int | None:
    if not failures:
        return None
    failure = failures[0]
    failure.count -= 1
    if failure.count <= 0:
        failures.pop(0)
    return failure.status


class NhnSandbox(HttpSandbox):
    def __init__(self, *, registered: tuple[str, ...] = ("15881234",)) -> None:
        super().__init__()
        self.app_key = "appkey-" + secrets.token_hex(6)
        self.secret_key = "secret-" + secrets.token_hex(12)
        self.inbound_token = "mo-" + secrets.token_hex(12)
        self.webhook_signature = "whsig-" + secrets.token_hex(12)
        self.registered = set(registered)
        self.sent: list[dict[str, Any]] = []
        self.results: dict[str, dict[str, Any]] = {}
        self._failures: list[Failure] = []
        self._ids = itertools.count(1)
        base = "/sms/v3.0/appKeys/{app_key}/sender"
        self.app.add_routes(
            [
                web.post(base + "/{kind}", self._send),
                web.get(base + "/{kind}/{request_id}", self._result),
            ]
        )

    def settings(self) -> dict[str, Any]:
        return {"nhn_api_base": self.url, "nhn_app_key": self.app_key, "nhn_poll_seconds": 0.1}

    def secrets(self) -> dict[str, str]:
        return {
            "nhn_secret_key": self.secret_key,
            "nhn_inbound_token": self.inbound_token,
            "nhn_webhook_signature": self.webhook_signature,
        }

    def fail_next(self, status: int = 503, count: int = 1) -> None:
        self._failures.append(Failure(status, count))

    def finish(
        self, request_id: str, *, delivered: bool = True, code: str = "3006", name: str = "착신 거절"
    ) -> None:
        """Decide a send's result: received by the phone (``msgStatus`` 3, ``resultCode``
        1000), or failed with the carrier's code (수신 결과 코드, e.g. 3006 착신 거절)."""
        record = self.results[request_id]
        record.update(msgStatus="3", msgStatusName="성공")
        if delivered:
            record.update(resultCode="1000", resultCodeName="성공")
        else:
            record.update(resultCode=code, resultCodeName=name)

    def set_status(self, request_id: str, msg_status: str, name: str) -> None:
        """Put a send in another ``msgStatus`` of the v3.0 guide (0 실패 … 6 실패(광고 제한),
        7 재발송 대기(광고 제한)), with no carrier result."""
        self.results[request_id].update(msgStatus=msg_status, msgStatusName=name, resultCode="")

    @staticmethod
    def _answer(ok: bool, code: int, message: str, data: Any = None) -> web.Response:
        body: dict[str, Any] = {"header": {"isSuccessful": ok, "resultCode": code, "resultMessage": message}}
        if data is not None:
            body["body"] = {"data": data}
        return web.json_response(body)

    async def _send(self, request: web.Request) -> web.Response:
        if (
            request.match_info["app_key"] != self.app_key
            or request.headers.get("X-Secret-Key") != self.secret_key
        ):
            return self._answer(False, -1000, "Invalid appKey or secretKey")
        failed = _take(self._failures)
        if failed:
            return web.json_response(
                {"header": {"isSuccessful": False, "resultCode": -9999, "resultMessage": "system error"}},
                status=failed,
            )
        kind = request.match_info["kind"]
        data = await request.json()
        text, send_no = str(data.get("body", "")), str(data.get("sendNo", ""))
        if send_no not in self.registered:
            return self._answer(False, -2008, "미등록 발신번호 (unregistered sendNo)")
        try:
            size = len(text.encode(rules.KOREAN_CHARSET))
        except UnicodeEncodeError:
            return self._answer(False, -2019, "EUC-KR로 인코딩할 수 없는 문자")
        limit = rules.SMS_MAX_BYTES if kind.endswith("sms") else rules.LMS_MAX_BYTES
        if size > limit:
            return self._answer(False, -2020, f"body over {limit} bytes")
        request_id = f"2026{next(self._ids):012d}sandbox"
        recipient = data["recipientList"][0]
        self.sent.append({"kind": kind, "request_id": request_id, **data})
        self.results[request_id] = {
            "requestId": request_id,
            "recipientSeq": 1,
            "recipientNo": recipient["recipientNo"],
            "sendNo": send_no,
            "body": text,
            "msgStatus": "2",
            "msgStatusName": "처리중",
            "resultCode": "",
            "resultCodeName": "",
            "messageType": "SMS" if kind.endswith("sms") else "LMS",
        }
        return self._answer(
            True,
            0,
            "SUCCESS",
            {
                "requestId": request_id,
                "statusCode": "2",
                "senderGroupingKey": data.get("senderGroupingKey"),
                "sendResultList": [
                    {
                        "recipientNo": recipient["recipientNo"],
                        "resultCode": 0,
                        "resultMessage": "SUCCESS",
                        "recipientSeq": 1,
                        "recipientGroupingKey": None,
                    }
                ],
            },
        )

    async def _result(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Secret-Key") != self.secret_key:
            return self._answer(False, -1000, "Invalid appKey or secretKey")
        record = self.results.get(request.match_info["request_id"])
        if record is None:
            return self._answer(False, -1001, "no such request")
        return self._answer(True, 0, "SUCCESS", record)

    async def post_webhook(
        self, hook_url: str, event: str, hooks: list[dict[str, Any]], *, signature: str | None = None
    ) -> int:
        """An NHN Cloud webhook (``MESSAGE_RESULT_UPDATE``, ``UNSUBSCRIBE``) as NHN posts it."""
        body = {
            "hooksId": secrets.token_hex(12), "webhookConfigId": "sandbox", "productName": "SMS",
            "appKey": self.app_key, "event": event, "hooks": hooks,
        }  # fmt: skip
        headers = {"X-Toast-Webhook-Signature": signature or self.webhook_signature}
        async with self.client().post(hook_url, json=body, headers=headers) as resp:
            return resp.status

    def result_hook(self, request_id: str) -> dict[str, Any]:
        """The MESSAGE_RESULT_UPDATE hook of a send :meth:`finish` decided."""
        record = self.results[request_id]
        delivered = record["resultCode"] == "1000"
        return {
            "hookId": secrets.token_hex(12), "senderType": "NORMAL_SMS", "requestId": request_id,
            "recipientSeq": 1, "sendNo": record["sendNo"], "recipientNo": record["recipientNo"],
            "messageStatus": "COMPLETED" if delivered else "FAILED", "resultCode": record["resultCode"],
            "messageCount": 1,
        }  # fmt: skip

    async def post_mo(
        self, hook_url: str, sender: str, text: str, *, mo_key: str | None = None, token: str | None = None
    ) -> int:
        """A customer's text in the MO shape the plugin assumes (NHN documents none: see
        ``SmsPlugin._nhn_mo``)."""
        body = {
            "moKey": mo_key or secrets.token_hex(8),
            "sender": sender,
            "receiver": sorted(self.registered)[0],
            "message": text,
        }
        url = f"{hook_url}?{urlencode({'token': token or self.inbound_token})}"
        async with self.client().post(url, json=body) as resp:
            return resp.status

    @property
    def texts(self) -> list[str]:
        return [str(m["body"]) for m in self.sent]


class TwilioSandbox(HttpSandbox):
    def __init__(self, *, numbers: tuple[str, ...] = ("+14155550100",)) -> None:
        super().__init__()
        self.account_sid = "AC" + secrets.token_hex(16)
        self.auth_token = secrets.token_hex(16)
        self.numbers = numbers
        self.sent: list[dict[str, str]] = []
        self.opted_out: set[str] = set()
        self._failures: list[Failure] = []
        self._ids = itertools.count(1)
        self.app.add_routes([web.post("/2010-04-01/Accounts/{sid}/Messages.json", self._send)])

    def settings(self) -> dict[str, Any]:
        return {"twilio_api_base": self.url, "twilio_account_sid": self.account_sid}

    def secrets(self) -> dict[str, str]:
        return {"twilio_auth_token": self.auth_token}

    def fail_next(self, status: int = 503, count: int = 1) -> None:
        self._failures.append(Failure(status, count))

    async def _send(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        pair = f"{self.account_sid}:{self.auth_token}".encode()
        expected = "Basic " + base64.b64encode(pair).decode("ascii")
        if request.match_info["sid"] != self.account_sid or auth != expected:
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        failed = _take(self._failures)
        if failed:
            return web.json_response(
                {"code": 20500, "message": "Internal Server Error", "status": failed}, status=failed
            )
        form = {k: str(v) for k, v in (await request.post()).items()}
        if form.get("From") not in self.numbers:
            return web.json_response(
                {
                    "code": 21606,
                    "message": "The 'From' number is not a valid, message-capable Twilio phone number",
                    "status": 400,
                },
                status=400,
            )
        if form.get("To") in self.opted_out:
            return web.json_response(
                {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400},
                status=400,
            )
        sid = f"SM{next(self._ids):032x}"
        segs = rules.segments(form.get("Body", ""))
        self.sent.append({"sid": sid, **form})
        return web.json_response(
            {
                "sid": sid,
                "status": "queued",
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
                "num_segments": str(segs.count),
                "error_code": None,
                "error_message": None,
                "account_sid": self.account_sid,
            },
            status=201,
        )

    async def _post_signed(self, url: str, params: dict[str, str], *, token: str | None = None) -> int:
        signature = twilio_signature(token or self.auth_token, url, params.items())
        headers = {TWILIO_SIGNATURE: signature, "Content-Type": "application/x-www-form-urlencoded"}
        async with self.client().post(url, data=urlencode(params), headers=headers) as resp:
            return resp.status

    def inbound_params(self, sender: str, text: str, *, sid: str | None = None) -> dict[str, str]:
        params = {
            "MessageSid": sid or f"SM{secrets.token_hex(16)}",
            "SmsSid": "",
            "AccountSid": self.account_sid,
            "From": sender,
            "To": self.numbers[0],
            "Body": text,
            "NumMedia": "0",
            "NumSegments": str(rules.segments(text).count),
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        params["SmsSid"] = params["MessageSid"]
        if sender.upper() in {"STOP"} or text.strip().upper() == "STOP":
            self.opted_out.add(sender)
        return params

    async def post_inbound(
        self, hook_url: str, sender: str, text: str, *, sid: str | None = None, token: str | None = None
    ) -> int:
        """A customer's text to ``hook_url`` as Twilio posts it (``token`` other than the auth
        token forges the signature)."""
        return await self._post_signed(hook_url, self.inbound_params(sender, text, sid=sid), token=token)

    async def report(self, sid: str, status: str, *, error_code: str | None = None) -> int:
        """A status callback for an earlier send, to the ``StatusCallback`` it named."""
        sent = next(m for m in self.sent if m["sid"] == sid)
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": self.account_sid,
            "From": sent["From"],
            "To": sent["To"],
            "ApiVersion": "2010-04-01",
        }
        if error_code:
            params["ErrorCode"] = error_code
        return await self._post_signed(sent["StatusCallback"], params)

    @property
    def texts(self) -> list[str]:
        return [m["Body"] for m in self.sent]


def integration(nhn: NhnSandbox | None, twilio: TwilioSandbox | None, **settings: Any) -> dict[str, Any]:
    """An ``sms`` integration pointed at the (started) sandboxes."""
    conf: dict[str, Any] = {}
    keys: dict[str, str] = {}
    senders: list[str] = []
    if nhn is not None:
        conf |= nhn.settings()
        keys |= nhn.secrets()
        senders += [rules.phone(n).e164 for n in sorted(nhn.registered)]
    if twilio is not None:
        conf |= twilio.settings()
        keys |= twilio.secrets()
        senders += list(twilio.numbers)
    conf |= {"registered_senders": senders, "sender_number": senders[0]}
    if twilio is not None:
        conf["twilio_sender_number"] = twilio.numbers[0]
    conf |= settings
    return {"channel": "sms", "settings": conf, "secrets": keys}
