"""Typed view of one LINE integration's settings and secrets (``bridgekit.toml``).

Every provider URL comes from the settings, defaulting to the real LINE platform, so the
same code talks to LINE in production and to :mod:`bridgekit_line.sandbox` in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridgekit.exceptions import ConfigError
from bridgekit.model import Integration

DEFAULT_API_BASE = "https://api.line.me"
DEFAULT_DATA_API_BASE = "https://api-data.line.me"

# LINE: "Reply tokens must be used within one minute after receiving the webhook; use after
# more than one minute is not guaranteed" (Messaging API reference, "Send reply message").
# We only reply while the token is at most this old, counted from the event timestamp (which
# is earlier than our receipt, so the margin is conservative), and push otherwise.
REPLY_TOKEN_DOCUMENTED_VALIDITY = 60.0
DEFAULT_REPLY_TOKEN_MAX_AGE = 30.0


def _number(settings: Mapping[str, Any], key: str, default: float, *, minimum: float = 0.0) -> float:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(f"LINE setting {key!r} must be a number >= {minimum}, not {value!r}")
    return float(value)


def _base_url(settings: Mapping[str, Any], key: str, default: str) -> str:
    value = settings.get(key, default)
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ConfigError(f"LINE setting {key!r} must be an http(s) URL, not {value!r}")
    return value.rstrip("/")


@dataclass(frozen=True, slots=True)
class LineSettings:
    """Settings of one LINE integration (see the plugin README for each key)."""

    api_base: str = DEFAULT_API_BASE
    data_api_base: str = DEFAULT_DATA_API_BASE
    use_reply_api: bool = True
    reply_token_max_age: float = DEFAULT_REPLY_TOKEN_MAX_AGE
    request_timeout: float = 10.0
    content_timeout: float = 10.0
    max_content_bytes: int = 50 * 1024 * 1024
    profile_cache_ttl: float = 3600.0

    @classmethod
    def from_integration(cls, integration: Integration) -> LineSettings:
        s = integration.settings
        use_reply = s.get("use_reply_api", True)
        if not isinstance(use_reply, bool):
            raise ConfigError(f"LINE setting 'use_reply_api' must be true or false, not {use_reply!r}")
        max_age = _number(s, "reply_token_max_age", DEFAULT_REPLY_TOKEN_MAX_AGE)
        if max_age >= REPLY_TOKEN_DOCUMENTED_VALIDITY:
            raise ConfigError(
                "LINE setting 'reply_token_max_age' must stay below the documented reply-token "
                f"validity of {REPLY_TOKEN_DOCUMENTED_VALIDITY:g} s, not {max_age:g}"
            )
        return cls(
            api_base=_base_url(s, "api_base", DEFAULT_API_BASE),
            data_api_base=_base_url(s, "data_api_base", DEFAULT_DATA_API_BASE),
            use_reply_api=use_reply,
            reply_token_max_age=max_age,
            request_timeout=_number(s, "request_timeout", 10.0, minimum=0.001),
            content_timeout=_number(s, "content_timeout", 10.0, minimum=0.001),
            max_content_bytes=int(_number(s, "max_content_bytes", 50 * 1024 * 1024, minimum=1)),
            profile_cache_ttl=_number(s, "profile_cache_ttl", 3600.0),
        )


def secret(integration: Integration, name: str) -> str:
    """The secret ``name`` of ``integration``; a missing one is a configuration error."""
    value = integration.secrets.get(name)
    if not value:
        raise ConfigError(
            f"LINE integration {integration.name!r} has no {name!r} secret "
            f"(set [integrations.{integration.name}.secrets] {name} or its environment variable)"
        )
    return value
