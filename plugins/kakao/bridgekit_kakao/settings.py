"""What a ``kakao_alimtalk`` integration's settings and secrets may hold (checked at start-up)."""

from __future__ import annotations

from typing import Annotated

from bridgekit.channelkit import ChannelSettings, HttpUrl, InvalidSetting, Secret
from msgspec import Meta

#: The messenger kind of an Alimtalk integration (``channel = "kakao_alimtalk"``).
CHANNEL = "kakao_alimtalk"

NHN_API_BASE = "https://kakaotalk-bizmessage.api.nhncloudservice.com"

#: K7: 7 PU per delivered Alimtalk; failed sends are free.
ALIMTALK_PRICE_PU = 7

#: NHN's sender key (발신 키) of a Kakao channel's sender profile is 40 characters.
SENDER_KEY_LENGTH = 40


class AlimtalkSettings(ChannelSettings, frozen=True, kw_only=True):
    """``[integrations.<name>.settings]`` and ``.secrets`` of a ``kakao_alimtalk`` integration
    (one linked Kakao channel's sender profile at NHN Cloud)."""

    channel_title = "Kakao Alimtalk"

    api_base: HttpUrl = NHN_API_BASE
    app_key: str
    secret_key: Secret
    #: Empty: the Kakao channel an admin linked as the default for follow-up Alimtalk
    #: (``links_api``), so linking needs no edit here.
    sender_key: str = ""
    #: Text the customer's phone when an Alimtalk fails (K6), through bridgekit's texting
    #: plugin; ``sms_integration`` names one of its integrations (default: its first).
    sms_fallback: bool = True
    sms_integration: str = ""
    price_pu: Annotated[int, Meta(ge=0)] = ALIMTALK_PRICE_PU
    #: How often the templates' review states are read from NHN (0: only at start and on request).
    template_sync_seconds: Annotated[float, Meta(ge=0)] = 600.0
    #: How long to wait before asking NHN again for a result still being decided.
    result_poll_seconds: Annotated[float, Meta(gt=0)] = 5.0
    timeout_seconds: Annotated[float, Meta(gt=0)] = 15.0

    def checked(self) -> AlimtalkSettings:
        if not self.app_key:
            raise InvalidSetting("app_key", "is required: the NHN Cloud KakaoTalk Bizmessage app key")
        if self.sender_key and len(self.sender_key) != SENDER_KEY_LENGTH:
            raise InvalidSetting(
                "sender_key", f"must be the {SENDER_KEY_LENGTH}-character sender key of the Kakao channel"
            )
        return self
