"""The plugin's settings, read from ``integration.settings`` over the plugin's own section.

Every key may be set per integration (``[integrations.acme.settings]``) or once for all
email integrations in the plugin's section (``bridge.settings``); the integration wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any, Literal

from bridgekit.exceptions import ConfigError

TlsMode = Literal["auto", "none", "starttls", "tls"]

DEFAULT_SMTP_HOST = "127.0.0.1"
DEFAULT_SMTP_PORT = 2525
DEFAULT_MAX_MESSAGE_BYTES = 35 * 1024 * 1024  # Gmail's 25 MB of attachments, base64-encoded
DEFAULT_MAX_LINE_BYTES = 1024 * 1024


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"email setting {name!r} must be an integer, not {value!r}") from None


@dataclass(frozen=True, slots=True)
class EmailSettings:
    """Resolved settings of one email integration (see the README for each key)."""

    address: str
    smtp_host: str = DEFAULT_SMTP_HOST
    smtp_port: int = DEFAULT_SMTP_PORT
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    relay_host: str = "localhost"
    relay_port: int = 25
    relay_tls: TlsMode = "auto"
    relay_username: str | None = None
    relay_password: str | None = None
    relay_timeout: float = 30.0
    default_from: str = ""
    reply_to: str | None = None
    envelope_from: str | None = None
    domain: str | None = None
    domain_verification_token: str | None = None
    dns_resolver: str | None = None
    dkim_selector: str = "bridgekit"
    dkim_private_key: str | None = None
    message_id_domain: str | None = None
    manager_addresses: Mapping[str, str] = field(default_factory=dict)

    @property
    def default_from_addr(self) -> str:
        return parseaddr(self.default_from)[1]

    @property
    def id_domain(self) -> str:
        """The right-hand side of bridgekit's Message-IDs."""
        if self.message_id_domain:
            return self.message_id_domain
        for candidate in (self.default_from_addr, self.address):
            if "@" in candidate:
                return candidate.rsplit("@", 1)[1].lower()
        return "bridgekit.invalid"

    @classmethod
    def resolve(
        cls,
        settings: Mapping[str, Any],
        secrets: Mapping[str, str] | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> EmailSettings:
        """Merge ``defaults`` (the plugin section) with the integration's ``settings``."""
        merged: dict[str, Any] = {**(defaults or {}), **settings}
        secrets = secrets or {}
        address = str(merged.get("address", "")).strip().lower()
        if "@" not in address:
            raise ConfigError("an email integration needs settings.address (its inbound address)")
        tls = str(merged.get("relay_tls", "auto")).lower()
        if tls not in ("auto", "none", "starttls", "tls"):
            raise ConfigError(f"relay_tls must be auto, none, starttls or tls, not {tls!r}")
        domain = merged.get("domain")
        return cls(
            address=address,
            smtp_host=str(merged.get("smtp_host", DEFAULT_SMTP_HOST)),
            smtp_port=_int(merged.get("smtp_port", DEFAULT_SMTP_PORT), "smtp_port"),
            max_message_bytes=_int(
                merged.get("max_message_bytes", DEFAULT_MAX_MESSAGE_BYTES), "max_message_bytes"
            ),
            max_line_bytes=_int(merged.get("max_line_bytes", DEFAULT_MAX_LINE_BYTES), "max_line_bytes"),
            relay_host=str(merged.get("relay_host", "localhost")),
            relay_port=_int(merged.get("relay_port", 25), "relay_port"),
            relay_tls=tls,  # type: ignore[arg-type]
            relay_username=merged.get("relay_username") or None,
            relay_password=secrets.get("relay_password") or None,
            relay_timeout=float(merged.get("relay_timeout", 30.0)),
            default_from=str(merged.get("default_from") or address),
            reply_to=merged.get("reply_to") or None,
            envelope_from=merged.get("envelope_from") or None,
            domain=str(domain).strip().lower().rstrip(".") if domain else None,
            domain_verification_token=(
                merged.get("domain_verification_token") or secrets.get("domain_verification_token") or None
            ),
            dns_resolver=merged.get("dns_resolver") or None,
            dkim_selector=str(merged.get("dkim_selector", "bridgekit")),
            dkim_private_key=secrets.get("dkim_private_key") or None,
            message_id_domain=merged.get("message_id_domain") or None,
            manager_addresses=dict(merged.get("manager_addresses") or {}),
        )
