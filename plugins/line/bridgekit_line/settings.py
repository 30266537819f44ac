"""The settings and secrets of one LINE integration (``bridgekit.toml``), declared once.

Every provider URL comes from the settings, defaulting to the real LINE platform, so the
same code talks to LINE in production and to :mod:`bridgekit_line.sandbox` in tests.
Checked at start-up (``bridgekit_check_integration``); see the plugin README for each key.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from bridgekit.channelkit import ChannelSettings, HttpUrl, InvalidSetting, Secret
from bridgekit.model import Integration

DEFAULT_API_BASE = "https://api.line.me"
DEFAULT_DATA_API_BASE = "https://api-data.line.me"

# LINE: "Reply tokens must be used within one minute after receiving the webhook; use after
# more than one minute is not guaranteed" (Messaging API reference, "Send reply message").
# We only reply while the token is at most this old, counted from the event timestamp (which
# is earlier than our receipt, so the margin is conservative), and push otherwise.
REPLY_TOKEN_DOCUMENTED_VALIDITY = 60.0
DEFAULT_REPLY_TOKEN_MAX_AGE = 30.0

Seconds = Annotated[float, Meta(ge=0.001)]


class LineSettings(ChannelSettings, frozen=True, kw_only=True):
    """Settings of one LINE integration (see the plugin README for each key)."""

    channel_title = "LINE"

    api_base: HttpUrl = DEFAULT_API_BASE
    data_api_base: HttpUrl = DEFAULT_DATA_API_BASE
    use_reply_api: bool = True
    reply_token_max_age: Annotated[float, Meta(ge=0)] = DEFAULT_REPLY_TOKEN_MAX_AGE
    request_timeout: Seconds = 10.0
    content_timeout: Seconds = 10.0
    max_content_bytes: Annotated[int, Meta(ge=1)] = 50 * 1024 * 1024
    profile_cache_ttl: Annotated[float, Meta(ge=0)] = 3600.0
    channel_secret: Secret
    channel_access_token: Secret

    def checked(self) -> LineSettings:
        if self.reply_token_max_age >= REPLY_TOKEN_DOCUMENTED_VALIDITY:
            raise InvalidSetting(
                "reply_token_max_age",
                "must stay below the documented reply-token validity of "
                f"{REPLY_TOKEN_DOCUMENTED_VALIDITY:g} s",
            )
        return msgspec.structs.replace(
            self, api_base=self.api_base.rstrip("/"), data_api_base=self.data_api_base.rstrip("/")
        )


def secret(integration: Integration, name: str) -> str:
    """The secret ``name`` of ``integration``, from its checked (and kept) settings."""
    value: str = getattr(LineSettings.from_integration(integration), name)
    return value
