"""bridgekit's inbound SMTP server: aiosmtpd's protocol on the running event loop.

One listener per ``(smtp_host, smtp_port)``; every email integration configured for that
pair shares it and is chosen by the envelope recipient (RCPT TO), never by the ``To:``
header, which a forwarded mail keeps from the customer's side.

Replies, in the order a forwarding mailbox sees them:

* ``550 5.1.1`` at RCPT for an address no integration has;
* ``552 5.3.4`` when the mail exceeds ``max_message_bytes`` (announced in EHLO ``SIZE``);
* ``250`` only after ``bridge.submit`` returned a durable outcome for every recipient;
* ``451 4.3.0`` for any failure of ours, so the forwarder keeps the mail and retries (a
  redelivery is deduplicated on the Message-ID).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from aiosmtpd.smtp import SMTP, Envelope, Session

from bridgekit.channelkit import shares_port
from bridgekit.model import IngestOutcome, Integration, RawDelivery
from bridgekit_email_forward.settings import EmailSettings

log = logging.getLogger("bridgekit.email_forward.smtp")
# aiosmtpd logs every SMTP command at INFO: five lines per mail would drown the server's log.
logging.getLogger("mail.log").setLevel(logging.WARNING)

DURABLE = ("accepted", "duplicate", "malformed")


class Submitter(Protocol):
    """The part of ``bridgekit.engine.bridge.Bridge`` the SMTP server uses."""

    async def submit(self, delivery: RawDelivery) -> IngestOutcome: ...


Router = Callable[[str], Integration | None]


class _BridgekitSMTP(SMTP):
    """aiosmtpd's protocol with room for long lines and a clearer size-limit reply."""

    line_length_limit: int = 1024 * 1024

    def __init__(self, handler: Any, *, max_line_bytes: int, **kwargs: Any) -> None:
        # aiosmtpd sizes its StreamReader from this (RFC 5321's 1000 is too small for the
        # single-line HTML some mailers send); set per instance before the reader exists.
        self.line_length_limit = max_line_bytes
        super().__init__(handler, **kwargs)

    async def push(self, status: Any) -> None:
        if isinstance(status, str) and status.startswith("552 Error"):
            status = f"552 5.3.4 Message too big: this server accepts at most {self.data_size_limit} bytes"
        await super().push(status)


class Handler:
    """aiosmtpd handler: routes RCPT TO to an integration, submits DATA to the bridge."""

    def __init__(self, bridge: Submitter, route: Router) -> None:
        self.bridge = bridge
        self.route = route

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.route(address) is None:
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        body = envelope.original_content or b""
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        mail_from = envelope.mail_from or ""
        try:
            for rcpt in envelope.rcpt_tos:
                integration = self.route(rcpt)
                if integration is None:  # removed since RCPT: let the forwarder retry later
                    return "451 4.3.0 Mailbox temporarily unavailable"
                delivery = RawDelivery(
                    integration=integration.name,
                    method="SMTP",
                    path=rcpt.lower(),
                    headers={"mail-from": mail_from, "rcpt-to": rcpt.lower(), "x-peer": peer},
                    query={},
                    body=bytes(body),
                    remote=peer,
                    received_at=datetime.now(UTC),
                )
                outcome = await self.bridge.submit(delivery)
                if outcome.status == "rejected":
                    return f"554 5.7.1 Message refused: {outcome.detail or 'rejected'}"
                if outcome.status not in DURABLE:
                    log.warning("submit for %s returned %s: %s", rcpt, outcome.status, outcome.detail)
                    return "451 4.3.0 Temporary failure storing the message, try again later"
        except Exception:
            log.exception("storing mail for %s failed", envelope.rcpt_tos)
            return "451 4.3.0 Temporary failure storing the message, try again later"
        return "250 2.0.0 OK: queued"


class Listener:
    """One listening socket and the integrations that share it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.server: asyncio.base_events.Server | None = None

    @property
    def bound_port(self) -> int:
        """The real port (useful when configured with port 0)."""
        if self.server is None or not self.server.sockets:
            return self.port
        return int(self.server.sockets[0].getsockname()[1])

    async def start(
        self, bridge: Submitter, route: Router, *, max_message_bytes: int, max_line_bytes: int, hostname: str
    ) -> None:
        handler = Handler(bridge, route)
        loop = asyncio.get_running_loop()

        def factory() -> SMTP:
            return _BridgekitSMTP(
                handler,
                max_line_bytes=max_line_bytes,
                data_size_limit=max_message_bytes,
                enable_SMTPUTF8=True,
                hostname=hostname,
                ident="bridgekit ESMTP",
                timeout=300,
            )

        # Under ``serve --workers N`` every worker listens on the port; the kernel spreads the
        # connections (SO_REUSEPORT), and each worker stores what it accepts before its 250.
        self.server = await loop.create_server(
            factory, host=self.host, port=self.port, reuse_port=shares_port() or None
        )

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None


class SmtpService:
    """All listeners of the plugin, built from the enabled email integrations."""

    def __init__(self) -> None:
        self.listeners: dict[tuple[str, int], Listener] = {}
        self._routes: dict[tuple[str, int], dict[str, Integration]] = {}

    def plan(
        self, integrations: Sequence[Integration], defaults: Mapping[str, Any]
    ) -> dict[tuple[str, int], tuple[dict[str, Integration], EmailSettings]]:
        """Group integrations by listening address; an address may belong to one only."""
        groups: dict[tuple[str, int], tuple[dict[str, Integration], EmailSettings]] = {}
        owners: dict[str, str] = {}
        for integration in integrations:
            settings = EmailSettings.from_integration(integration, defaults)
            if settings.address in owners:
                raise ValueError(
                    f"email address {settings.address} is used by both {owners[settings.address]!r} "
                    f"and {integration.name!r}"
                )
            owners[settings.address] = integration.name
            key = (settings.smtp_host, settings.smtp_port)
            routes, _first = groups.setdefault(key, ({}, settings))
            routes[settings.address] = integration
        return groups

    async def start(
        self, bridge: Submitter, integrations: Sequence[Integration], defaults: Mapping[str, Any]
    ) -> None:
        for key, (routes, settings) in self.plan(integrations, defaults).items():
            self._routes[key] = routes
            listener = Listener(*key)
            hostname = settings.hostname or settings.address.rsplit("@", 1)[1]
            await listener.start(
                bridge,
                self._router(key),
                max_message_bytes=settings.max_message_bytes,
                max_line_bytes=settings.max_line_bytes,
                hostname=hostname,
            )
            self.listeners[key] = listener
            log.info("SMTP listening on %s:%s for %s", key[0], listener.bound_port, ", ".join(sorted(routes)))

    def port_for(self, address: str) -> int:
        """The port actually listening for ``address`` (tests configure port 0)."""
        address = address.strip().lower()
        for key, routes in self._routes.items():
            if address in routes:
                return self.listeners[key].bound_port
        raise KeyError(address)

    def _router(self, key: tuple[str, int]) -> Router:
        def route(address: str) -> Integration | None:
            return self._routes.get(key, {}).get(address.strip().strip("<>").lower())

        return route

    async def stop(self) -> None:
        for listener in self.listeners.values():
            await listener.stop()
        self.listeners.clear()
        self._routes.clear()
