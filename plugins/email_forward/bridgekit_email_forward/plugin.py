"""The email-forward channel plugin: hook implementations only; the work is in the modules.

* :mod:`.ingest` / :mod:`.parse` / :mod:`.charsets` / :mod:`.quotes` — mail in
* :mod:`.smtp_server` — the SMTP listener started in ``bridgekit_startup``
* :mod:`.outbound` / :mod:`.compose` / :mod:`.domain` — replies out
* :mod:`.original` — the original-mail view (E4, E11)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

import bridgekit
from bridgekit import BridgeAPI, DemoProvider
from bridgekit.model import (
    Capabilities,
    ChannelSpec,
    Charge,
    DeliveryResult,
    InboxSlot,
    IngestResult,
    Integration,
    OutboundMessage,
    RawDelivery,
)
from bridgekit_email_forward import ingest as ingest_mod
from bridgekit_email_forward import outbound
from bridgekit_email_forward.domain import DomainVerifier
from bridgekit_email_forward.routes import make_routes
from bridgekit_email_forward.settings import EmailSettings
from bridgekit_email_forward.smtp_server import SmtpService

log = logging.getLogger("bridgekit.email_forward")

CHANNEL = "email"

# Mail that small parses in well under a millisecond: a thread hop would cost more than it
# saves. Larger mail (attachments) is parsed off the event loop.
INLINE_PARSE_BYTES = 64 * 1024

SPEC = ChannelSpec(
    name=CHANNEL,
    title="Email",
    inbox_slot=InboxSlot.EMAIL,
    capabilities=Capabilities(
        reports_reads=False,
        # Outbound limits (the composer's): I14's 10 files, each within what relays accept.
        max_attachments=10,
        max_attachment_bytes=25 * 1024 * 1024,
        supports_images=True,
        manager_can_reopen=False,  # E6
        start_chat_with=("email",),  # E10
    ),
    closed_chat_policy="new_chat",  # E6
    # The SMTP envelope, which the listener hands over as pseudo-headers.
    stored_headers=frozenset({"mail-from", "rcpt-to", "x-peer"}),
    mark="email",
    contact_kind="email",  # E10: managers write first to a customer's address
)


PLUGIN_NAME = "email_forward"
"""The entry-point name; the plugin's own settings are ``[plugins.settings.email_forward]``."""


class EmailForwardPlugin:
    """Forwarded mail in over SMTP, replies out through an SMTP relay."""

    def __init__(self) -> None:
        self.smtp = SmtpService()
        self.verifier = DomainVerifier()
        self.defaults: Mapping[str, Any] = {}

    def settings_for(self, integration: Integration) -> EmailSettings:
        return EmailSettings.from_integration(integration, self.defaults)

    @bridgekit.hookimpl
    def bridgekit_demo_providers(self) -> Iterable[DemoProvider]:
        from bridgekit_email_forward.demo import EmailDemo  # sandbox code only for the demo

        return [EmailDemo()]

    @bridgekit.hookimpl
    def bridgekit_channels(self) -> Iterable[ChannelSpec]:
        return [SPEC]

    @bridgekit.hookimpl
    def bridgekit_check_integration(
        self, integration: Integration, plugin_settings: Mapping[str, Any]
    ) -> None:
        """Refuse unknown keys, wrong types and a missing address before the server starts."""
        EmailSettings.from_integration(integration, plugin_settings)

    @bridgekit.hookimpl
    async def bridgekit_ingest(self, integration: Integration, delivery: RawDelivery) -> IngestResult:
        if len(delivery.body) <= INLINE_PARSE_BYTES:
            return ingest_mod.ingest(integration, delivery)
        return await asyncio.to_thread(ingest_mod.ingest, integration, delivery)

    @bridgekit.hookimpl
    async def bridgekit_deliver(self, integration: Integration, message: OutboundMessage) -> DeliveryResult:
        return await outbound.deliver(integration, message, self.settings_for(integration), self.verifier)

    @bridgekit.hookimpl
    def bridgekit_bill(
        self, integration: Integration, message: OutboundMessage, result: DeliveryResult
    ) -> Charge | None:
        return None  # email is free (F8)

    @bridgekit.hookimpl
    async def bridgekit_startup(self, bridge: BridgeAPI) -> None:
        self.defaults = dict(bridge.plugin_settings(PLUGIN_NAME) or {})
        integrations = list(bridge.integrations_for(CHANNEL))
        if integrations:
            await self.smtp.start(bridge, integrations, self.defaults)

    @bridgekit.hookimpl
    def bridgekit_routes(self, bridge: BridgeAPI) -> list[web.RouteDef]:
        return make_routes(bridge, self.settings_for)

    @bridgekit.hookimpl
    async def bridgekit_shutdown(self, bridge: BridgeAPI) -> None:
        await self.smtp.stop()

    @bridgekit.hookimpl
    def bridgekit_inbound_address(self, integration: Integration, base_url: str) -> str:
        settings = self.settings_for(integration)
        try:
            port = self.smtp.port_for(settings.address)
        except KeyError:  # not listening (yet): the configured port
            port = settings.smtp_port
        return f"forward mail for {settings.address} to SMTP {settings.smtp_host}:{port}"


plugin = EmailForwardPlugin()
"""The instance registered through the ``bridgekit`` entry-point group."""
