"""One integration's Instagram settings and secrets (``bridgekit.toml``), declared once.

Every value has a default that points at the real platform, so a minimal integration only
names its three secrets. Tests and the sandbox override ``graph_base``. Checked at start-up
(``bridgekit_check_integration``); see the plugin README for each key.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, field

from bridgekit.channelkit import ChannelSettings, HttpUrl, Secret

DEFAULT_GRAPH_BASE = "https://graph.instagram.com"
"""Host of the Instagram API with Instagram Login. Use ``https://graph.facebook.com`` (and
``auth = "query"``) for the older Facebook-Page-linked Messenger Platform flow."""

DEFAULT_API_VERSION = "v23.0"
MAX_TEXT_BYTES = 1000
"""Meta: "Message text must be UTF-8 and be 1000 bytes or less"."""

Seconds = Annotated[float, Meta(gt=0)]


class InstagramConfig(ChannelSettings, frozen=True, kw_only=True):
    """The settings one integration runs with (see the plugin README for each one)."""

    channel_title = "Instagram"

    graph_base: HttpUrl = DEFAULT_GRAPH_BASE
    api_version: str = DEFAULT_API_VERSION
    ig_user_id: str = ""
    # With the Facebook-Login flow the send node is the Page linked to the Instagram account
    # rather than the Instagram account itself; ``page_id`` names it.
    page_id: str = ""
    auth: Literal["bearer", "query"] = "bearer"
    appsecret_proof: bool = False
    human_agent: bool = field(default=True, name="human_agent_tag")
    timeout: Seconds = field(default=10.0, name="timeout_seconds")
    attachment_timeout: Seconds = field(default=5.0, name="attachment_timeout_seconds")
    profile_ttl: Seconds = field(default=24 * 3600.0, name="profile_ttl_seconds")
    app_secret: Secret
    verify_token: Secret
    access_token: Secret

    def checked(self) -> InstagramConfig:
        return msgspec.structs.replace(
            self,
            graph_base=self.graph_base.rstrip("/"),
            api_version=self.api_version.strip("/"),
            ig_user_id=self.ig_user_id or self.page_id or "me",
        )

    @property
    def api_root(self) -> str:
        """``{graph_base}/{api_version}``, the prefix of every Graph call."""
        return f"{self.graph_base}/{self.api_version}"
