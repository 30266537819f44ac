"""The plugin's settings, declared once: ``integration.settings`` over the plugin's section.

Every key may be set per integration (``[integrations.acme.settings]``) or once for all
email integrations in the plugin's section (``[plugins.settings.email_forward]``); the
integration wins. Checked at start-up (``bridgekit_check_integration``); see the README.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from bridgekit.channelkit import ChannelSettings, InvalidSetting, Secret

TlsMode = Literal["auto", "none", "starttls", "tls"]

DEFAULT_SMTP_HOST = "127.0.0.1"
DEFAULT_SMTP_PORT = 2525
DEFAULT_MAX_MESSAGE_BYTES = 35 * 1024 * 1024  # Gmail's 25 MB of attachments, base64-encoded
DEFAULT_MAX_LINE_BYTES = 1024 * 1024

Port = Annotated[int, Meta(ge=0, le=65535)]
Bytes = Annotated[int, Meta(ge=1)]


class EmailSettings(ChannelSettings, frozen=True, kw_only=True):
    """Resolved settings of one email integration (see the README for each key)."""

    channel_title = "email"

    address: str
    #: The name the SMTP listener greets with (default: the domain of ``address``).
    hostname: str = ""
    smtp_host: str = DEFAULT_SMTP_HOST
    smtp_port: Port = DEFAULT_SMTP_PORT
    max_message_bytes: Bytes = DEFAULT_MAX_MESSAGE_BYTES
    max_line_bytes: Bytes = DEFAULT_MAX_LINE_BYTES
    relay_host: str = "localhost"
    relay_port: Port = 25
    relay_tls: TlsMode = "auto"
    relay_username: str | None = None
    relay_password: Secret = ""
    relay_timeout: Annotated[float, Meta(gt=0)] = 30.0
    default_from: str = ""
    reply_to: str | None = None
    envelope_from: str | None = None
    domain: str | None = None
    #: Published in DNS (``_bridgekit.<domain>`` TXT), so a setting, not a secret.
    domain_verification_token: str | None = None
    dns_resolver: str | None = None
    dkim_selector: str = "bridgekit"
    dkim_private_key: Secret = ""
    message_id_domain: str | None = None
    manager_addresses: dict[str, str] = {}

    def checked(self) -> EmailSettings:
        address = self.address.strip().lower()
        if "@" not in address:
            raise InvalidSetting("address", "must be the integration's inbound email address")
        domain = self.domain.strip().lower().rstrip(".") if self.domain else None
        return msgspec.structs.replace(
            self, address=address, default_from=self.default_from or address, domain=domain or None
        )

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
