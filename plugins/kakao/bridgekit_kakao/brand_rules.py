"""What a Kakao brand message (브랜드 메시지) must satisfy before NHN is called (SPEC K3, seed
002): a wide-image message, marked ``(광고)``, outside 20:50 to 08:00 KST, from a channel with
both business verifications, to a customer with a phone number who added the channel as a
friend. Each refusal is a :class:`BrandRefused` with a stable ``code`` (docs/api.md): a route
answers it as a 4xx, a delivery fails with its words and never reaches NHN.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated

from bridgekit.channelkit import ChannelSettings, HttpUrl, InvalidSetting, QuietHours, Secret, is_ad
from bridgekit.exceptions import RequestRefused
from msgspec import Meta

from bridgekit_kakao.settings import NHN_API_BASE, SENDER_KEY_LENGTH

#: K7: 17 PU per delivered brand message (the seed's promotional price); failed sends are free.
BRAND_PRICE_PU = 17
#: Kakao sends brand messages only from 08:00 to 20:50 KST (NHN's guide; Kakao's result 3022).
AD_NIGHT = QuietHours(time(20, 50), time(8, 0))
#: The wide-image type (WIDE), the only one the seed offers: at most 76 characters, one line break.
WIDE_MAX_CHARS = 76
WIDE_MAX_LINE_BREAKS = 1


class BrandRefused(RequestRefused):
    """A brand message that may not be sent; ``code`` says which rule (docs/api.md)."""

    def __init__(
        self, message: str, *, code: str, status: int = 409, details: dict[str, str | int] | None = None
    ) -> None:
        super().__init__(message, status=status, code=code, details=details)


class BrandSettings(ChannelSettings, frozen=True, kw_only=True):
    """``[integrations.<name>.settings]`` and ``.secrets`` of a ``kakao_brand`` integration:
    one linked Kakao channel's sender profile at NHN Cloud, sending brand messages."""

    channel_title = "Kakao brand message"

    api_base: HttpUrl = NHN_API_BASE
    app_key: str
    secret_key: Secret
    sender_key: str
    #: The Kakao channel's business verification (카카오톡 채널 비즈니스 인증) and the
    #: workspace's own (the seed's 채널톡 비즈니스 인증): marketing sends need both (K3).
    kakao_business_verified: bool = False
    workspace_business_verified: bool = False
    #: The wide image (uploaded to NHN as a wide image) a message carries when its sender named
    #: none, e.g. a reply typed in the chat; ``image_link`` is where tapping it leads.
    image_url: str = ""
    image_link: str = ""
    price_pu: Annotated[int, Meta(ge=0)] = BRAND_PRICE_PU
    #: How long to wait before asking NHN again for a result still being decided.
    result_poll_seconds: Annotated[float, Meta(gt=0)] = 5.0
    timeout_seconds: Annotated[float, Meta(gt=0)] = 15.0

    def checked(self) -> BrandSettings:
        if not self.app_key:
            raise InvalidSetting("app_key", "is required: the NHN Cloud KakaoTalk Bizmessage app key")
        if len(self.sender_key) != SENDER_KEY_LENGTH:
            raise InvalidSetting(
                "sender_key", f"must be the {SENDER_KEY_LENGTH}-character sender key of the Kakao channel"
            )
        return self


def check_verified(settings: BrandSettings, integration: str) -> None:
    """K3: marketing sends need the Kakao channel's business verification and the workspace's;
    with Kakao's alone, follow-up Alimtalk works but brand messages do not."""
    missing = [
        what
        for what, done in (
            ("kakao", settings.kakao_business_verified),
            ("workspace", settings.workspace_business_verified),
        )
        if not done
    ]
    if missing:
        whose = {"kakao": "the Kakao channel's", "workspace": "the workspace's"}
        words = " and ".join(whose[m] for m in missing)
        raise BrandRefused(
            f"{integration} may not send brand messages: {words} business verification is not "
            "done (marketing sends need both; settings kakao_business_verified and "
            "workspace_business_verified)",
            code="kakao_business_unverified",
            details={"missing": ",".join(missing)},
        )


def check_hours(moment: datetime) -> None:
    """No brand message between 20:50 and 08:00 KST: refused, never held (README)."""
    if AD_NIGHT.covers(moment):
        raise BrandRefused(
            f"brand messages are ads and may not be sent from {AD_NIGHT.describe()}; send it "
            "again after 08:00",
            code="kakao_ad_hours",
            details={"starts": f"{AD_NIGHT.starts:%H:%M}", "ends": f"{AD_NIGHT.ends:%H:%M}"},
        )


def check_content(text: str) -> None:
    """The text as Kakao shows it: marked ``(광고)``, within the wide-image type's limits."""
    if not is_ad(text):
        raise BrandRefused(
            "a brand message is an ad and must start with (광고)",
            code="kakao_ad_marker",
            status=422,
        )
    if len(text) > WIDE_MAX_CHARS or text.count("\n") > WIDE_MAX_LINE_BREAKS:
        raise BrandRefused(
            f"a wide-image brand message holds at most {WIDE_MAX_CHARS} characters and "
            f"{WIDE_MAX_LINE_BREAKS} line break, (광고) included; this one has {len(text)} "
            f"characters and {text.count(chr(10))} line breaks",
            code="kakao_brand_too_long",
            status=422,
            details={"max": WIDE_MAX_CHARS},
        )


def check_friend(friend: bool | None, customer_id: int, integration: str) -> None:
    """K3: only to customers who added the channel as a friend (``None``: not known to)."""
    if friend is not True:
        known = "is not" if friend is False else "is not known to be"
        raise BrandRefused(
            f"customer {customer_id} {known} a friend of {integration}'s Kakao channel: brand "
            "messages go only to customers who added the channel as a friend",
            code="kakao_not_friend",
            details={"customer_id": customer_id},
        )
