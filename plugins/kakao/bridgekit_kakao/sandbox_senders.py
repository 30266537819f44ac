"""The sender-profile half of the NHN Cloud sandbox (:mod:`bridgekit_kakao.senders` on the
wire): Kakao channels as the admin centre has them set up, the verification code Kakao sends to
the admin phone's KakaoTalk, registration, deletion, and Kakao's refusals as NHN relays them
(``-7000`` with Kakao's reason, ``-1004`` already registered, ``-1008`` a wrong token).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bridgekit_kakao.senders import ALREADY_REGISTERED, KAKAO_REFUSED, REGISTERED, TOKEN_FAILED, WAITING

if TYPE_CHECKING:
    from collections.abc import Callable

#: Kakao's reasons, as the seed quotes them (NHN relays them in ``resultMessage``).
NO_CUSTOMER_CENTRE = (
    "등록하려는 발신프로필 채널의 고객센터 정보 입력이 필요합니다. 모바일 카카오톡 채널 관리자 APP > 관리 > "
    "고객센터 연락처에서 고객센터 연락처 정보를 입력해주세요."
)
NOT_PUBLIC = "카카오톡 채널 상태를 확인 해주세요."
PHONE_NOT_NOTIFIED = "요청한 번호가 카카오톡 채널 관리자 알림 설정 되어있는지 확인해주세요."
CANNOT_SEND_TOKEN = "3018"
OTHER_PARTNER = (
    "다른 파트너에 의해 이미 상담톡을 이용중인 프로필입니다. "
    "상담톡 이용을 진행하고자 하는 경우 카카오에 문의해주세요."
)

CATEGORIES = [
    {
        "parentCode": "",
        "depth": 1,
        "code": "001",
        "name": "건강",
        "subCategories": [
            {
                "parentCode": "001",
                "depth": 2,
                "code": "0010001",
                "name": "병원",
                "subCategories": [
                    {"parentCode": "0010001", "depth": 3, "code": "00100010001", "name": "종합병원"}
                ],
            }
        ],
    },
    {
        "parentCode": "",
        "depth": 1,
        "code": "002",
        "name": "쇼핑",
        "subCategories": [
            {
                "parentCode": "002",
                "depth": 2,
                "code": "0020001",
                "name": "온라인쇼핑몰",
                "subCategories": [
                    {"parentCode": "0020001", "depth": 3, "code": "00200010001", "name": "종합쇼핑몰"}
                ],
            }
        ],
    },
]
SHOPPING = "00200010001"


@dataclass(slots=True)
class KakaoChannel:
    """A Kakao channel as its admin centre is set up."""

    search_id: str
    admin_phones: set[str]
    sender_key: str = field(default_factory=lambda: secrets.token_hex(20))
    customer_centre: bool = True
    public: bool = True
    #: Kakao cannot reach the admin phone's KakaoTalk (blocked, no KakaoTalk...): 3018.
    token_undeliverable: bool = False
    #: Another partner (another bridgekit, Happytalk...) holds its consultation talk.
    other_partner: bool = False
    #: NHN's sender status: "" (not registered), YSC02 (waiting for its token), YSC03.
    status: str = ""
    token: str = ""


def nhn_answer(ok: bool, code: int, text: str, **rest: Any) -> web.Response:
    """NHN's answer envelope: ``header`` (``resultCode``, ``resultMessage``, ``isSuccessful``)
    and the call's own fields beside it."""
    header = {"resultCode": code, "resultMessage": text, "isSuccessful": ok}
    return web.json_response({"header": header, **rest})


class SenderDesk:
    """Mounted on the Alimtalk sandbox's ``app``; ``authorised`` (its app key and secret)
    guards these routes, and ``sender_deleted`` tells it a sender key NHN deleted."""

    def __init__(
        self,
        app: web.Application,
        authorised: Callable[[web.Request], bool],
        sender_deleted: Callable[[str], None],
    ) -> None:
        self._authorised = authorised
        self._sender_deleted = sender_deleted
        self.channels: dict[str, KakaoChannel] = {}
        #: The verification codes Kakao sent, by admin phone: what the admin reads in KakaoTalk.
        self.codes_sent: dict[str, str] = {}
        #: Sender keys NHN deleted.
        self.deleted: list[str] = []
        base = "/alimtalk/v2.3/appkeys/{app_key}"
        app.add_routes(
            [
                web.get(base + "/sender/categories", self._categories),
                web.post(base + "/senders", self._register),
                web.put(base + "/senders/token", self._token),
                web.get(base + "/senders", self._list),
                web.delete(base + "/senders/{sender_key}", self._delete),
            ]
        )

    def add_channel(self, search_id: str, admin_phone: str, **setup: Any) -> KakaoChannel:
        channel = KakaoChannel(search_id, {admin_phone}, **setup)
        self.channels[search_id] = channel
        return channel

    def _refuse(self, code: int, message: str) -> web.Response:
        return nhn_answer(False, code, message)

    async def _categories(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._refuse(-1000, "Invalid appKey or secretKey")
        return nhn_answer(True, 0, "SUCCESS", categories=CATEGORIES)

    async def _register(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._refuse(-1000, "Invalid appKey or secretKey")
        data = await request.json()
        channel = self.channels.get(str(data.get("plusFriendId")))
        if channel is None:
            return self._refuse(-2017, "Plus Friend does not exist")
        if channel.status == REGISTERED:
            return self._refuse(ALREADY_REGISTERED, "Already registered Plus Friend")
        for failing, reason in (
            (channel.other_partner, OTHER_PARTNER),
            (not channel.customer_centre, NO_CUSTOMER_CENTRE),
            (not channel.public, NOT_PUBLIC),
            (str(data.get("phoneNo")) not in channel.admin_phones, PHONE_NOT_NOTIFIED),
            (channel.token_undeliverable, CANNOT_SEND_TOKEN),
        ):
            if failing:
                return self._refuse(KAKAO_REFUSED, f"Vendor request API failed. {reason}")
        channel.status, channel.token = WAITING, f"{secrets.randbelow(10**6):06d}"
        self.codes_sent[str(data["phoneNo"])] = channel.token
        return nhn_answer(True, 0, "SUCCESS")

    async def _token(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._refuse(-1000, "Invalid appKey or secretKey")
        data = await request.json()
        channel = self.channels.get(str(data.get("plusFriendId")))
        if channel is None or channel.status != WAITING or str(data.get("token")) != channel.token:
            return self._refuse(TOKEN_FAILED, "Registration failed for Plus Friend token")
        channel.status = REGISTERED
        return nhn_answer(True, 0, "SUCCESS")

    async def _list(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._refuse(-1000, "Invalid appKey or secretKey")
        wanted = request.query.get("plusFriendId")
        senders = [
            {"plusFriendId": c.search_id, "senderKey": c.sender_key, "status": c.status}
            for c in self.channels.values()
            if c.status and (wanted is None or c.search_id == wanted)
        ]
        return nhn_answer(True, 0, "SUCCESS", senders=senders, totalCount=len(senders))

    async def _delete(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._refuse(-1000, "Invalid appKey or secretKey")
        key = request.match_info["sender_key"]
        channel = next((c for c in self.channels.values() if c.sender_key == key and c.status), None)
        if channel is None:
            return self._refuse(-2017, "Plus Friend does not exist")
        channel.status = ""
        self.deleted.append(key)
        self._sender_deleted(key)
        return nhn_answer(True, 0, "SUCCESS")
