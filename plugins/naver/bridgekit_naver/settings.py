"""The settings and secrets of one Naver TalkTalk integration (``bridgekit.toml``).

Checked at start-up (``bridgekit_check_integration``); see the plugin README for each key.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from bridgekit.addresses import IPNetwork
from bridgekit.channelkit import ChannelSettings, HttpUrl, InvalidSetting, Secret
from bridgekit.exceptions import ConfigError
from bridgekit_naver.client import DEFAULT_API_BASE
from bridgekit_naver.networks import allowed_networks

#: TalkTalk waits 5 s for our webhook answer (README: "Read timed out: 5초"), and the image
#: is fetched before we answer, so leave it well under that.
DEFAULT_IMAGE_FETCH_TIMEOUT = 3.0
#: Identical webhook bodies within this many seconds are one event (see events.event_id_for).
DEFAULT_DEDUPE_WINDOW = 10.0


class NaverSettings(ChannelSettings, frozen=True, kw_only=True):
    """Settings of one ``naver`` integration."""

    channel_title = "Naver TalkTalk"

    api_base: HttpUrl = DEFAULT_API_BASE
    #: CIDRs (a list or a comma-separated string; ``"naver"`` is Naver's published range)
    #: webhook calls may come from; empty: any address with the right token.
    allowed_ips: list[str] | str = []
    dedupe_window_seconds: Annotated[float, Meta(ge=0)] = DEFAULT_DEDUPE_WINDOW
    image_fetch_timeout: Annotated[float, Meta(gt=0)] = DEFAULT_IMAGE_FETCH_TIMEOUT
    #: The webhook URL's ``?token=``: TalkTalk signs nothing, so this is its only credential.
    path_token: Secret
    #: The send API's key (partner center > 개발자도구 > 챗봇API 설정 > 보내기 API > 생성).
    authorization_key: Secret

    def checked(self) -> NaverSettings:
        try:
            self.networks  # noqa: B018 - parsed (and cached) now, so a typo stops start-up
        except ConfigError as exc:
            raise InvalidSetting("allowed_ips", str(exc)) from None
        return self

    @property
    def networks(self) -> tuple[IPNetwork, ...]:
        """``allowed_ips`` parsed (cached by :func:`~bridgekit_naver.networks.allowed_networks`)."""
        return allowed_networks(self.allowed_ips)
