"""One integration's Instagram settings and secrets, read from ``bridgekit.toml``.

Every value has a default that points at the real platform, so a minimal integration only
names its three secrets. Tests and the sandbox override ``graph_base``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridgekit.exceptions import ConfigError
from bridgekit.model import Integration

DEFAULT_GRAPH_BASE = "https://graph.instagram.com"
"""Host of the Instagram API with Instagram Login. Use ``https://graph.facebook.com`` (and
``auth = "query"``) for the older Facebook-Page-linked Messenger Platform flow."""

DEFAULT_API_VERSION = "v23.0"
MAX_TEXT_BYTES = 1000
"""Meta: "Message text must be UTF-8 and be 1000 bytes or less"."""


def _as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _as_float(value: Any, default: float, name: str) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"instagram setting {name!r} must be a number, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"instagram setting {name!r} must be positive, got {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class InstagramConfig:
    """The settings one integration runs with (see the plugin README for each one)."""

    graph_base: str = DEFAULT_GRAPH_BASE
    api_version: str = DEFAULT_API_VERSION
    ig_user_id: str = "me"
    auth: str = "bearer"
    appsecret_proof: bool = False
    human_agent: bool = True
    timeout: float = 10.0
    attachment_timeout: float = 5.0
    profile_ttl: float = 24 * 3600.0
    app_secret: str = ""
    verify_token: str = ""
    access_token: str = ""

    @classmethod
    def from_integration(cls, integration: Integration) -> InstagramConfig:
        """Read and check ``integration.settings`` / ``integration.secrets``."""
        settings: Mapping[str, Any] = integration.settings
        secrets: Mapping[str, str] = integration.secrets
        auth = str(settings.get("auth", "bearer")).lower()
        if auth not in {"bearer", "query"}:
            raise ConfigError(f"instagram setting 'auth' must be 'bearer' or 'query', got {auth!r}")
        # ``page_id`` is accepted as an alias: with the Facebook-Login flow the send node is
        # the Page linked to the Instagram account rather than the Instagram account itself.
        node = settings.get("ig_user_id") or settings.get("page_id") or "me"
        return cls(
            graph_base=str(settings.get("graph_base") or DEFAULT_GRAPH_BASE).rstrip("/"),
            api_version=str(settings.get("api_version") or DEFAULT_API_VERSION).strip("/"),
            ig_user_id=str(node),
            auth=auth,
            appsecret_proof=_as_bool(settings.get("appsecret_proof"), False),
            human_agent=_as_bool(settings.get("human_agent_tag"), True),
            timeout=_as_float(settings.get("timeout_seconds"), 10.0, "timeout_seconds"),
            attachment_timeout=_as_float(
                settings.get("attachment_timeout_seconds"), 5.0, "attachment_timeout_seconds"
            ),
            profile_ttl=_as_float(settings.get("profile_ttl_seconds"), 24 * 3600.0, "profile_ttl_seconds"),
            app_secret=secrets.get("app_secret", ""),
            verify_token=secrets.get("verify_token", ""),
            access_token=secrets.get("access_token", ""),
        )

    @property
    def api_root(self) -> str:
        """``{graph_base}/{api_version}``, the prefix of every Graph call."""
        return f"{self.graph_base}/{self.api_version}"
