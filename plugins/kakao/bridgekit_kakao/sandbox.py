"""A stand-in for NHN Cloud's KakaoTalk Bizmessage Alimtalk API v2.3 on 127.0.0.1, for the
tests: the wire format of :mod:`bridgekit_kakao.nhn` over real HTTP.

It checks the app key and ``X-Secret-Key``, the sender key, that the template exists and is
approved (TSC03) and that ``templateParameter`` fills every ``#{variable}``; it honours
``X-NC-API-IDEMPOTENCY-KEY`` (a repeated key within ten minutes is refused and sends
nothing, as NHN documents). Results: COMPLETED, or FAILED with Kakao's result code for a
recipient :meth:`AlimtalkSandbox.fail_recipient` named; with ``hold_results`` they stay
undecided until :meth:`AlimtalkSandbox.decide`. ``resendParameter`` is recorded:
the sandbox never sends a fallback text itself.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from bridgekit.channelkit import HttpSandbox

from bridgekit_kakao.nhn import IDEMPOTENCY_HEADER, SECRET_HEADER
from bridgekit_kakao.sandbox_senders import SenderDesk, nhn_answer
from bridgekit_kakao.templates import VARIABLE

#: NHN's answer to a repeated idempotency key within ten minutes (its error-code guide).
DUPLICATE_REQUEST = -1005
#: Kakao's "cannot deliver the message" result (the user blocked the channel, no KakaoTalk...).
CANNOT_DELIVER = "3018"
IDEMPOTENCY_WINDOW = 600.0


@dataclass(slots=True)
class SandboxTemplate:
    code: str
    name: str
    content: str
    status: str  # TSC01 requested, TSC02 in review, TSC03 approved, TSC04 rejected


class AlimtalkSandbox(HttpSandbox):
    def __init__(self) -> None:
        super().__init__()
        self.app_key = "appkey-" + secrets.token_hex(6)
        self.secret_key = "secret-" + secrets.token_hex(12)
        self.sender_key = secrets.token_hex(20)  # 40 characters, like NHN's
        self.templates: dict[str, SandboxTemplate] = {}
        #: Every send NHN took: the request body's fields for one recipient, plus ``requestId``.
        self.sent: list[dict[str, Any]] = []
        self.results: dict[tuple[str, int], dict[str, Any]] = {}
        self.failing: dict[str, str] = {}
        #: While true, results stay undecided ("SENDING") until :meth:`decide`.
        self.hold_results = False
        #: Every ``X-NC-API-IDEMPOTENCY-KEY`` a send came with, repeats included.
        self.idempotency_keys: list[str] = []
        #: How many template listings were asked for (pages included).
        self.template_reads = 0
        self._keys: dict[str, float] = {}
        self._ids = itertools.count(1)
        base = "/alimtalk/v2.3/appkeys/{app_key}"
        self.app.add_routes(
            [
                web.post(base + "/messages", self._send),
                web.get(base + "/messages/{request_id}/{seq}", self._result),
                web.get(base + "/senders/{sender_key}/templates", self._templates),
            ]
        )
        #: Kakao channels and their sender profiles (linking: ``sandbox_senders``).
        self.senders = SenderDesk(self.app, self._authorised, self._sender_deleted)

    def settings(self) -> dict[str, Any]:
        return {"api_base": self.url, "app_key": self.app_key, "sender_key": self.sender_key}

    def secrets(self) -> dict[str, str]:
        return {"secret_key": self.secret_key}

    def add_template(self, code: str, content: str, status: str = "TSC03", name: str = "") -> None:
        self.templates[code] = SandboxTemplate(code, name or code, content, status)

    def fail_recipient(self, recipient_no: str, code: str = CANNOT_DELIVER) -> None:
        """Alimtalks to ``recipient_no`` (as sent: ``01012345678``) fail with ``code``."""
        self.failing[recipient_no] = code

    def decide(self) -> None:
        """Decide every held result: COMPLETED, or FAILED for a failing recipient."""
        for record in self.results.values():
            if record["messageStatus"] == "SENDING":
                failed = self.failing.get(record["recipientNo"])
                record.update(
                    messageStatus="FAILED" if failed else "COMPLETED",
                    resultCode=failed or "1000",
                    resultCodeName="Message cannot be delivered" if failed else "Success",
                )

    def _sender_deleted(self, sender_key: str) -> None:
        if sender_key == self.sender_key:
            self.templates.clear()  # NHN deletes a sender's templates with it

    def _authorised(self, request: web.Request) -> bool:
        return (
            request.match_info["app_key"] == self.app_key
            and request.headers.get(SECRET_HEADER) == self.secret_key
        )

    async def _send(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return nhn_answer(False, -1000, "Invalid appKey or secretKey")
        key = request.headers.get(IDEMPOTENCY_HEADER)
        now = time.monotonic()
        if key:
            self.idempotency_keys.append(key)
            if now - self._keys.get(key, -IDEMPOTENCY_WINDOW) < IDEMPOTENCY_WINDOW:
                return nhn_answer(False, DUPLICATE_REQUEST, "Duplicate request (X-NC-API-IDEMPOTENCY-KEY)")
            self._keys[key] = now
        data = await request.json()
        if data.get("senderKey") != self.sender_key:
            return nhn_answer(False, -1006, "Invalid senderKey")
        template = self.templates.get(str(data.get("templateCode")))
        if template is None or template.status != "TSC03":
            return nhn_answer(False, -1009, "Template not found or not approved")
        recipients = data.get("recipientList")
        if not isinstance(recipients, list) or not recipients:
            return nhn_answer(False, -1002, "recipientList is required")
        request_id = f"{time.strftime('%Y%m%d%H%M%S')}{next(self._ids):06d}"
        results = []
        for seq, recipient in enumerate(recipients, start=1):
            parameters = recipient.get("templateParameter") or {}
            wanted = set(VARIABLE.findall(template.content))
            if not wanted <= set(parameters):
                code, message = -3001, "templateParameter does not fill the template"
            else:
                code, message = 0, "SUCCESS"
                number = str(recipient.get("recipientNo"))
                self.sent.append({**recipient, "templateCode": template.code, "requestId": request_id})
                self.results[(request_id, seq)] = {
                    "requestId": request_id,
                    "recipientSeq": seq,
                    "recipientNo": number,
                    "messageStatus": "SENDING",
                    "resultCode": "",
                    "resultCodeName": "",
                    "resendStatus": "RSC01",  # never a fallback target here: isResend is false
                }
                if not self.hold_results:
                    self.decide()
            results.append(
                {
                    "recipientSeq": seq,
                    "recipientNo": recipient.get("recipientNo"),
                    "resultCode": code,
                    "resultMessage": message,
                }
            )
        return nhn_answer(True, 0, "SUCCESS", message={"requestId": request_id, "sendResults": results})

    async def _result(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return nhn_answer(False, -1000, "Invalid appKey or secretKey")
        try:
            key = (request.match_info["request_id"], int(request.match_info["seq"]))
        except ValueError:
            return nhn_answer(False, -1002, "recipientSeq must be a number")
        found = self.results.get(key)
        if found is None:
            return nhn_answer(False, -1010, "No such message")
        return nhn_answer(True, 0, "SUCCESS", message=found)

    async def _templates(self, request: web.Request) -> web.Response:
        self.template_reads += 1
        if not self._authorised(request):
            return nhn_answer(False, -1000, "Invalid appKey or secretKey")
        if request.match_info["sender_key"] != self.sender_key:
            return nhn_answer(False, -1006, "Invalid senderKey")
        page = int(request.query.get("pageNum", "1"))
        size = int(request.query.get("pageSize", "15"))
        listed = list(self.templates.values())[(page - 1) * size : page * size]
        templates = [
            {
                "senderKey": self.sender_key,
                "templateCode": t.code,
                "templateName": t.name,
                "templateMessageType": "BA",
                "templateEmphasizeType": "NONE",
                "templateContent": t.content,
                "status": t.status,
                "statusName": {"TSC01": "요청", "TSC02": "검수중", "TSC03": "승인", "TSC04": "반려"}[
                    t.status
                ],
            }
            for t in listed
        ]
        return nhn_answer(
            True,
            0,
            "SUCCESS",
            templateListResponse={"templates": templates, "totalCount": len(self.templates)},
        )


def integration(sandbox: AlimtalkSandbox, **settings: Any) -> dict[str, Any]:
    """A ``kakao_alimtalk`` integration pointed at the (started) sandbox."""
    return {
        "channel": "kakao_alimtalk",
        "settings": sandbox.settings() | settings,
        "secrets": sandbox.secrets(),
    }
