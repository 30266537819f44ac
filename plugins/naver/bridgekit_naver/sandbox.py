"""A local Naver TalkTalk that speaks the real wire format, for tests and ``bridgekit demo``.

It plays both sides of the Chat Bot API (navertalk/chatbot-api):

* the **API** bridgekit calls: ``POST /chatbot/v1/event`` (보내기 API) and
  ``POST /chatbot/v1/imageUpload`` (Image Upload API). It checks the ``Authorization`` key
  and the body shape, answers the documented bodies (``{"success": true, "resultCode":
  "00"}`` or a failure ``resultCode`` with its ``resultMessage``, always inside HTTP 200),
  downloads uploaded images from their ``imageUrl`` like Naver does, and records every
  accepted event in :attr:`TalkTalkSandbox.sends`;
* the **webhook sender**: it builds TalkTalk event bodies (``open``, ``send`` text/image/
  composite, ``leave``, ``friend``, ``echo``, ``action``, ``handover``) and POSTs them to
  ``callback_url?token=...`` as TalkTalk would.

It can be told to fail (:meth:`TalkTalkSandbox.fail_next`): an HTTP status, a delay longer
than the client's timeout, or a specific ``resultCode`` inside HTTP 200. It also hosts
images at ``/sandbox/images/<name>`` for customers' image messages.

Usage::

    async with TalkTalkSandbox(authorization_key="ct_key", callback_url=hook, path_token="s3cret") as naver:
        await naver.post_webhook(naver.text_event("user-1", "안녕하세요"))
        ...
        assert naver.sends[-1]["textContent"]["text"] == "reply"
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
from aiohttp import web
from yarl import URL

from bridgekit.channelkit import HttpSandbox
from bridgekit.testing.images import png_from_rows

Endpoint = Literal["event", "imageUpload"]

#: The documented result messages (README "오류 명세", imageupload_api_v1.md).
RESULT_MESSAGES: Mapping[str, str] = {
    "00": "success",
    "01": "Authorization 정보 오류",
    "02": "request json 문자열 파싱 오류",
    "99": "처리 중 오류",
    "IMG-01": "이미지 업로드 - 포맷 불일치 또는 처리 실패",
    "IMG-02": "이미지 업로드 - 전송/처리 시간 초과",
    "IMG-03": "이미지 업로드 - 크기 초과",
    "IMG-99": "이미지 업로드 중 에러",
}
MAX_TEXT_CHARS = 10_000
MAX_IMAGE_BYTES = 20 * 1024 * 1024
IMAGE_TYPES: Mapping[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


@dataclass(slots=True)
class Failure:
    """One injected failure: wait ``delay`` seconds, then answer ``status`` or ``result_code``."""

    status: int = 200
    result_code: str | None = None
    result_message: str | None = None
    delay: float = 0.0
    retry_after: str | None = None
    body: str | None = None
    skip: int = 0


@dataclass(slots=True)
class RecordedRequest:
    """A request the API side received, accepted or not."""

    endpoint: Endpoint
    headers: Mapping[str, str]
    body: bytes
    result_code: str | None = None


@dataclass(slots=True)
class Upload:
    """An image TalkTalk downloaded through the Image Upload API."""

    image_url: str
    image_id: str
    content_type: str
    data: bytes


@dataclass(slots=True)
class WebhookResult:
    """What bridgekit answered to one webhook POST."""

    status: int
    body: bytes
    sent: bytes = b""


@dataclass(slots=True)
class _Hosted:
    content_type: str
    data: bytes
    status: int = 200
    delay: float = 0.0
    hits: int = 0


class _Reject(Exception):
    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message or RESULT_MESSAGES.get(code, "")


class TalkTalkSandbox(HttpSandbox):
    """A fake TalkTalk on 127.0.0.1: see the module docstring."""

    def __init__(
        self,
        authorization_key: str = "ct_sandbox_authorization_key",
        *,
        callback_url: str | None = None,
        path_token: str | None = None,
        partner: str = "wc1234",
        image_download_timeout: float = 10.0,
    ) -> None:
        super().__init__()
        self.authorization_key = authorization_key
        self.callback_url = callback_url
        self.path_token = path_token
        self.partner = partner
        self.image_download_timeout = image_download_timeout
        self.sends: list[dict[str, Any]] = []
        self.requests: list[RecordedRequest] = []
        self.uploads: list[Upload] = []
        self.images: dict[str, Upload] = {}
        self.webhooks: list[WebhookResult] = []
        self._hosted: dict[str, _Hosted] = {}
        self._failures: defaultdict[str, deque[Failure]] = defaultdict(deque)
        self.app.add_routes(
            [
                web.post("/chatbot/v1/event", self._handle_event),
                web.post("/chatbot/v1/imageUpload", self._handle_upload),
                web.get("/sandbox/images/{name}", self._handle_image),
            ]
        )

    # --- lifecycle (HttpSandbox) ---------------------------------------------------------

    @property
    def api_base(self) -> str:
        """What to put in the integration's ``settings.api_base``."""
        return self.url

    # --- failure injection ---------------------------------------------------------------

    def fail_next(
        self,
        endpoint: Endpoint = "event",
        *,
        status: int = 200,
        result_code: str | None = None,
        result_message: str | None = None,
        delay: float = 0.0,
        retry_after: str | None = None,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Make the next ``times`` calls to ``endpoint`` fail.

        ``status`` other than 200 answers that HTTP status; ``result_code`` answers HTTP 200
        with ``{"success": false, "resultCode": ...}``; ``delay`` sleeps first (longer than
        the client's timeout = a timeout). ``after`` lets that many calls succeed first.
        """
        for index in range(times):
            skip = after if index == 0 else 0
            self._failures[endpoint].append(
                Failure(status, result_code, result_message, delay, retry_after, skip=skip)
            )

    async def _injected(self, endpoint: Endpoint) -> web.Response | None:
        queue = self._failures[endpoint]
        if not queue:
            return None
        if queue[0].skip > 0:
            queue[0].skip -= 1
            return None
        failure = queue.popleft()
        if failure.delay:
            await asyncio.sleep(failure.delay)
        headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
        if failure.status != 200:
            return web.Response(status=failure.status, text=failure.body or "server error", headers=headers)
        if failure.result_code:
            return _result(failure.result_code, failure.result_message)
        return None

    # --- the API side --------------------------------------------------------------------

    async def _record(self, request: web.Request, endpoint: Endpoint) -> RecordedRequest:
        body = await request.read()
        record = RecordedRequest(endpoint, {k.lower(): v for k, v in request.headers.items()}, body)
        self.requests.append(record)
        return record

    def _decode(self, request: web.Request, record: RecordedRequest) -> dict[str, Any]:
        if request.headers.get("Authorization") != self.authorization_key:
            raise _Reject("01")
        try:
            data = json.loads(record.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _Reject("02") from None
        if not isinstance(data, dict):
            raise _Reject("02")
        return data

    async def _handle_event(self, request: web.Request) -> web.Response:
        record = await self._record(request, "event")
        injected = await self._injected("event")
        if injected is not None:
            return injected
        try:
            data = self._decode(request, record)
            await self._validate_event(data)
        except _Reject as rej:
            record.result_code = rej.code
            return _result(rej.code, rej.message)
        record.result_code = "00"
        self.sends.append(data)
        return _result("00")

    async def _validate_event(self, data: Mapping[str, Any]) -> None:
        event = data.get("event")
        if not isinstance(event, str) or not event:
            raise _Reject("02")
        if event in ("send", "action", "profile", "handover"):
            user = data.get("user")
            if not isinstance(user, str) or not user:
                raise _Reject("02")
        if event == "action":
            options = data.get("options")
            if not isinstance(options, dict) or options.get("action") not in ("typingOn", "typingOff"):
                raise _Reject("02")
        if event != "send":
            return
        contents = [k for k in ("textContent", "imageContent", "compositeContent") if k in data]
        if len(contents) != 1 or not isinstance(data[contents[0]], dict):
            raise _Reject("02")
        content = data[contents[0]]
        if contents[0] == "textContent":
            text = content.get("text")
            if not isinstance(text, str) or not text:
                raise _Reject("02")
            if len(text.encode("utf-16-le")) // 2 > MAX_TEXT_CHARS:
                raise _Reject("99", f"text 길이 초과 (최대 {MAX_TEXT_CHARS}자)")
        elif contents[0] == "imageContent":
            image_id, image_url = content.get("imageId"), content.get("imageUrl")
            if isinstance(image_id, str) and image_id:
                if image_id not in self.images:
                    raise _Reject("99", "존재하지 않는 imageId")
            elif isinstance(image_url, str) and image_url:
                await self._download(image_url)
            else:
                raise _Reject("02")
        elif not isinstance(content.get("compositeList"), list) or not content["compositeList"]:
            raise _Reject("02")

    async def _handle_upload(self, request: web.Request) -> web.Response:
        record = await self._record(request, "imageUpload")
        injected = await self._injected("imageUpload")
        if injected is not None:
            return injected
        try:
            data = self._decode(request, record)
            image_url = data.get("imageUrl")
            if not isinstance(image_url, str) or not image_url:
                raise _Reject("02")
            content_type, payload = await self._download(image_url)
        except _Reject as rej:
            record.result_code = rej.code
            return _result(rej.code, rej.message)
        image_id = secrets.token_urlsafe(72)
        upload = Upload(image_url, image_id, content_type, payload)
        self.uploads.append(upload)
        self.images[image_id] = upload
        record.result_code = "00"
        return _result("00", extra={"imageId": image_id})

    async def _download(self, url: str) -> tuple[str, bytes]:
        """Fetch an image like TalkTalk does: 10 s limit, 20 MB, type must match the bytes."""
        session = self.client()
        try:
            async with session.get(
                url, timeout=aiohttp.ClientTimeout(total=self.image_download_timeout)
            ) as resp:
                if resp.status != 200:
                    raise _Reject("IMG-01")
                data = await resp.content.read(MAX_IMAGE_BYTES + 1)
                content_type = resp.content_type
        except TimeoutError:
            raise _Reject("IMG-02") from None
        except aiohttp.ClientError:
            raise _Reject("IMG-01") from None
        if len(data) > MAX_IMAGE_BYTES:
            raise _Reject("IMG-03")
        magic = IMAGE_TYPES.get(content_type)
        if magic is None or not data.startswith(magic):
            raise _Reject("IMG-01")
        return content_type, data

    # --- hosted images (for customers' image messages) -----------------------------------

    def host_image(
        self,
        data: bytes,
        content_type: str = "image/png",
        *,
        name: str | None = None,
        status: int = 200,
        delay: float = 0.0,
    ) -> str:
        """Serve ``data`` at a URL like ``https://...phinf.naver.net/...`` would; return it."""
        name = name or f"{secrets.token_hex(8)}.{content_type.rsplit('/', 1)[-1]}"
        self._hosted[name] = _Hosted(content_type, data, status, delay)
        return f"{self.api_base}/sandbox/images/{name}"

    def image_hits(self, name_or_url: str) -> int:
        """How often a hosted image was downloaded."""
        return self._hosted[name_or_url.rsplit("/", 1)[-1]].hits

    async def _handle_image(self, request: web.Request) -> web.Response:
        hosted = self._hosted.get(request.match_info["name"])
        if hosted is None:
            raise web.HTTPNotFound()
        hosted.hits += 1
        if hosted.delay:
            await asyncio.sleep(hosted.delay)
        if hosted.status != 200:
            return web.Response(status=hosted.status)
        return web.Response(body=hosted.data, content_type=hosted.content_type)

    # --- the webhook side: event builders ------------------------------------------------

    @staticmethod
    def open_event(
        user: str,
        *,
        inflow: str = "none",
        referer: str | None = None,
        from_: str | None = None,
        friend: bool = False,
        under14: bool = False,
        under19: bool = False,
    ) -> dict[str, Any]:
        """The customer opened the chat window (README, "open 이벤트")."""
        options: dict[str, Any] = {"inflow": inflow}
        if referer is not None:
            options["referer"] = referer
        if from_ is not None:
            options["from"] = from_
        options.update(friend=friend, under14=under14, under19=under19)
        return {"event": "open", "user": user, "options": options}

    @staticmethod
    def text_event(
        user: str,
        text: str,
        *,
        input_type: str = "typing",
        code: str | None = None,
        standby: bool = False,
        mobile: bool = False,
    ) -> dict[str, Any]:
        """The customer sent text (README, "send 이벤트"; Handover API for ``standby``)."""
        content: dict[str, Any] = {"text": text, "inputType": input_type}
        if code is not None:
            content["code"] = code
        event: dict[str, Any] = {
            "event": "send",
            "user": user,
            "textContent": content,
            "options": {"mobile": mobile},
        }
        if standby:
            event = {"standby": True, **event}
        return event

    @staticmethod
    def image_event(user: str, image_url: str, *, mobile: bool = False) -> dict[str, Any]:
        """The customer sent an image."""
        return {
            "event": "send",
            "user": user,
            "imageContent": {"imageUrl": image_url},
            "options": {"mobile": mobile},
        }

    @staticmethod
    def composite_event(user: str, composite: Mapping[str, Any]) -> dict[str, Any]:
        """A send event with a ``compositeContent`` (one composite)."""
        return {"event": "send", "user": user, "compositeContent": {"compositeList": [dict(composite)]}}

    @staticmethod
    def leave_event(user: str) -> dict[str, Any]:
        """The customer pressed 나가기 (README, "leave 이벤트")."""
        return {"event": "leave", "user": user}

    @staticmethod
    def friend_event(user: str, on: bool = True) -> dict[str, Any]:
        """The customer added or removed the account as a friend (README, "friend 이벤트")."""
        return {"event": "friend", "options": {"set": "on" if on else "off"}, "user": user}

    def echo_event(
        self,
        user: str,
        text: str,
        *,
        source_id: int | None = None,
        thread_owner_id: int | None = None,
        manager_nickname: str | None = None,
    ) -> dict[str, Any]:
        """The partner's own send, echoed back (README, "echo 이벤트"; Handover API)."""
        options: dict[str, Any] = {"mobile": False}
        if source_id is not None:
            options["sourceId"] = source_id
        if thread_owner_id is not None:
            options["threadOwnerId"] = thread_owner_id
        if manager_nickname is not None:
            options["managerNickname"] = manager_nickname
        return {
            "event": "echo",
            "echoedEvent": "send",
            "user": user,
            "partner": self.partner,
            "textContent": {"text": text, "inputType": "typing"},
            "options": options,
        }

    @staticmethod
    def action_event(user: str, action: str = "typingOn") -> dict[str, Any]:
        """A typing indicator (README, "action 이벤트")."""
        return {"event": "action", "user": user, "options": {"action": action}}

    def handover_event(
        self, user: str, *, control: str = "passThread", metadata: str | None = None
    ) -> dict[str, Any]:
        """The partner center passed the thread back (Handover API, 상담 완료하기)."""
        if metadata is None:
            metadata = json.dumps({"managerNickname": "상담사", "autoEnd": False}, ensure_ascii=False)
        return {
            "event": "handover",
            "user": user,
            "partner": self.partner,
            "options": {"control": control, "metadata": metadata},
        }

    @staticmethod
    def encode(event: Mapping[str, Any]) -> bytes:
        """The body bytes TalkTalk would send for ``event`` (UTF-8 JSON)."""
        return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    # --- the webhook side: delivery ------------------------------------------------------

    def webhook_url(self, callback_url: str | None = None, token: str | None = None) -> str:
        """``callback_url?token=...`` as registered in the partner center."""
        url = callback_url or self.callback_url
        if not url:
            raise RuntimeError("no callback_url given")
        token = token if token is not None else self.path_token
        target = URL(url)
        return str(target.update_query(token=token) if token else target)

    async def post_webhook(
        self,
        event: Mapping[str, Any] | bytes,
        *,
        callback_url: str | None = None,
        token: str | None = None,
    ) -> WebhookResult:
        """POST one event (or exact body bytes, for redelivery tests) to the webhook."""
        body = event if isinstance(event, bytes) else self.encode(event)
        session = self.client()
        async with session.post(
            self.webhook_url(callback_url, token),
            data=body,
            headers={"Content-Type": "application/json;charset=UTF-8", "Accept": "application/json"},
            # README: TalkTalk gives a webhook 3 s to connect and 5 s to answer.
            timeout=aiohttp.ClientTimeout(sock_connect=3, sock_read=5),
        ) as resp:
            result = WebhookResult(resp.status, await resp.read(), body)
        self.webhooks.append(result)
        return result


def _result(code: str, message: str | None = None, *, extra: Mapping[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"success": code == "00", "resultCode": code}
    if code != "00":
        body["resultMessage"] = message or RESULT_MESSAGES.get(code, "")
    if extra:
        body.update(extra)
    return web.json_response(body, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))


def sample_png(width: int = 1, height: int = 1) -> bytes:
    """A valid tiny PNG (opaque white), made here so tests never download anything."""
    return png_from_rows([b"\xff\xff\xff" * width] * height, colour=True)
