"""NHN Cloud KakaoTalk Bizmessage's sender-profile API v2.3 (발신 프로필): how a Kakao channel
is linked for Alimtalk and brand messages, and what its refusals mean to the person linking.

* categories: ``GET /alimtalk/v2.3/appkeys/{appkey}/sender/categories``: a tree of
  ``{code, name, subCategories}``; a sender is registered with a leaf's 11-digit code.
* register: ``POST …/senders`` ``{plusFriendId, phoneNo, categoryCode}``: Kakao sends a
  verification code to the admin phone's KakaoTalk (the sender waits for its token, YSC02).
* token: ``PUT …/senders/token`` ``{plusFriendId, token}``: the sender is registered (YSC03).
* find: ``GET …/senders?plusFriendId=``: ``senders[].senderKey`` and ``status``.
* delete: ``DELETE …/senders/{senderKey}``: NHN deletes the sender's templates with it.

Kakao's own refusals come back as ``-7000`` ("Vendor request API failed") with Kakao's reason
in ``resultMessage``; :func:`explain` turns each reason the seed lists into a refusal code with
the explanation and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from bridgekit.exceptions import RequestRefused

from bridgekit_kakao.nhn import API, AlimtalkClient, Refused
from bridgekit_kakao.settings import AlimtalkSettings

#: NHN's "Already registered Plus Friend".
ALREADY_REGISTERED = -1004
#: NHN's "Registration failed for Plus Friend token" (a wrong or expired code).
TOKEN_FAILED = -1008
#: NHN's "Vendor request API failed": Kakao refused; its reason is in the message.
KAKAO_REFUSED = -7000
#: A sender profile waiting for its token, and one registered.
WAITING, REGISTERED = "YSC02", "YSC03"


@dataclass(frozen=True, slots=True)
class Explanation:
    code: str
    status: int
    says: str  # what went wrong, in the person's terms
    fix: str


#: Kakao's reasons the seed lists (matched on a part of the reason), each with its fix.
KAKAO_REASONS: tuple[tuple[str, Explanation], ...] = (
    (
        "고객센터",
        Explanation(
            "kakao_customer_centre_missing",
            422,
            "the Kakao channel has no customer-centre contact",
            "enter it in the Kakao channel admin centre (center-pf.kakao.com) > Profile > "
            "Profile settings > Customer centre contact, then link again",
        ),
    ),
    (
        "채널 상태",
        Explanation(
            "kakao_channel_not_public",
            422,
            "the Kakao channel is not public",
            "in the Kakao channel admin centre > Profile > Profile settings > Option settings > "
            "Public settings, switch 'Public channel' on, then link again",
        ),
    ),
    (
        "관리자 알림",
        Explanation(
            "kakao_admin_phone_not_registered",
            422,
            "the admin phone number is not one the Kakao channel sends admin notifications to",
            "check that you were invited to the channel as an admin: if so, correct the phone "
            "number in the Kakao channel admin centre > your e-mail (top right) > My info and "
            "link again with that same number; if not, ask the channel's master or another "
            "admin to invite you under Manage > Admins",
        ),
    ),
    (
        "3018",
        Explanation(
            "kakao_token_undeliverable",
            422,
            "Kakao could not send the verification code to the admin phone (3018)",
            "unblock the KakaoTalk Bizmessage channel in your KakaoTalk (Friends > settings > "
            "Manage friends > Blocked friends); check that the number is the one in the Kakao "
            "channel admin centre > My info and can receive Alimtalk; the phone must use "
            "KakaoTalk 6.0.0 or later and have opened it within the last 7 days",
        ),
    ),
    (
        "다른 파트너",
        Explanation(
            "kakao_profile_used_by_another_partner",
            409,
            "another partner already uses this profile for consultation talk",
            "the Kakao channel is linked to another bridgekit or another service (Lunasoft, "
            "Happytalk...): unlink it there, or ask Kakao if it should move here",
        ),
    ),
)


def explain(exc: Refused) -> RequestRefused:
    """NHN's refusal of a link step as the refusal the API answers: the seed's explanation and
    fix when Kakao gave one of its reasons, else NHN's own words (502: the provider refused)."""
    reason = str(exc)
    if exc.code == ALREADY_REGISTERED:
        return RequestRefused(
            f"{reason}: this Kakao channel is already registered with this NHN Cloud app key; "
            "delete its sender profile there or link it through the bridgekit that holds it",
            status=409,
            code="kakao_channel_already_linked",
        )
    if exc.code == TOKEN_FAILED:
        return RequestRefused(
            "waiting for token verification: the verification code is not the one Kakao sent to "
            "the admin phone's KakaoTalk; enter the right code again",
            status=422,
            code="kakao_token_invalid",
        )
    for marker, found in KAKAO_REASONS:
        if marker in reason:
            return RequestRefused(
                f"the Kakao API request failed ({reason}): {found.says}. Fix: {found.fix}",
                status=found.status,
                code=found.code,
            )
    return RequestRefused(reason, status=502, code="kakao_provider_refused")


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    name: str  # "건강 > 병원 > 종합병원"


class SenderClient(AlimtalkClient):
    """The sender-profile calls, on the same app key, secret and transport as the sends."""

    def __init__(self, settings: AlimtalkSettings, session: aiohttp.ClientSession) -> None:
        super().__init__(settings, session)
        self.categories_url = self.base + "/sender/categories"

    async def categories(self) -> list[Category]:
        """The leaf categories a sender may be registered with."""
        data = await self._call("GET", self.categories_url, headers=self._headers())
        found: list[Category] = []

        def walk(items: object, path: tuple[str, ...]) -> None:
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, dict):
                    continue
                names = (*path, str(item.get("name", "")))
                children = item.get("subCategories")
                if children:
                    walk(children, names)
                elif isinstance(item.get("code"), str):
                    found.append(Category(item["code"], " > ".join(names)))

        walk(data.get("categories"), ())
        return found

    async def register(self, plus_friend_id: str, phone_no: str, category_code: str) -> None:
        body = {"plusFriendId": plus_friend_id, "phoneNo": phone_no, "categoryCode": category_code}
        await self._call("POST", f"{self.base}/senders", json=body, headers=self._headers())

    async def verify(self, plus_friend_id: str, token: str) -> str:
        """Send the verification code; the registered sender's key."""
        body: dict[str, Any] = {"plusFriendId": plus_friend_id, "token": token}
        await self._call("PUT", f"{self.base}/senders/token", json=body, headers=self._headers())
        data = await self._call(
            "GET", f"{self.base}/senders", params={"plusFriendId": plus_friend_id}, headers=self._headers()
        )
        senders = data.get("senders")
        for sender in senders if isinstance(senders, list) else []:
            if isinstance(sender, dict) and sender.get("status") == REGISTERED and sender.get("senderKey"):
                return str(sender["senderKey"])
        raise Refused(TOKEN_FAILED, f"{API} lists no registered sender for {plus_friend_id}")

    async def delete(self, sender_key: str) -> None:
        await self._call(
            "DELETE", f"{self.base}/senders/{quote(sender_key, safe='')}", headers=self._headers()
        )
