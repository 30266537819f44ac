"""A minimal channel plugin used by the core's tests — built exactly like a real one.

Webhooks are JSON ``{"events": [{"id", "user", "name", "text", "thread"?, "auto"?}]}`` signed
with HMAC-SHA256 in ``X-Test-Signature``. An event ``{"read": "<provider id>"}`` reports a
read. Sends go to the sandbox's ``POST /v1/send`` with an ``Idempotency-Key``.
"""

from __future__ import annotations

import base64
import hmac
import json
from typing import Any

import aiohttp

import bridgekit
from bridgekit.exceptions import (
    MalformedDelivery,
    PermanentDeliveryError,
    SignatureError,
    TransientDeliveryError,
)
from bridgekit.model import (
    Capabilities,
    ChannelSpec,
    Charge,
    Contact,
    CustomerProfile,
    DeliveryResult,
    DeliveryStatus,
    HookResponse,
    InboundAttachment,
    InboundMessage,
    InboxSlot,
    IngestResult,
    Integration,
    OutboundMessage,
    RawDelivery,
    StatusUpdate,
)
from tests.support.sandbox import SIGNATURE_HEADER, sign

CHANNEL = "testchat"


class TestChannelPlugin:
    __test__ = False  # a plugin, not a test class

    def __init__(self, name: str = CHANNEL, slot: InboxSlot = InboxSlot.OTHER, **spec: Any) -> None:
        # Managers write first by the channel's shared handle, else by its own user ids.
        spec.setdefault("capabilities", Capabilities(start_chat_with=(spec.get("contact_kind") or name,)))
        spec.setdefault("stored_headers", frozenset({SIGNATURE_HEADER.lower()}))
        self.spec = ChannelSpec(name=name, title=name.title(), inbox_slot=slot, mark="T", **spec)
        self.session: aiohttp.ClientSession | None = None

    @bridgekit.hookimpl
    def bridgekit_channels(self) -> list[ChannelSpec]:
        return [self.spec]

    @bridgekit.hookimpl
    def bridgekit_ingest(self, integration: Integration, delivery: RawDelivery) -> IngestResult:
        if delivery.method == "GET":  # a subscription handshake, like Meta's hub.challenge
            if delivery.query.get("verify") != integration.secrets["secret"]:
                raise SignatureError("bad verify token")
            return IngestResult(response=HookResponse(200, delivery.query.get("challenge", "")))
        given = delivery.headers.get(SIGNATURE_HEADER.lower(), "")
        if not hmac.compare_digest(given, sign(integration.secrets["secret"], delivery.body)):
            raise SignatureError("bad X-Test-Signature")
        try:
            events = json.loads(delivery.body)["events"]
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedDelivery(f"not a test-channel webhook: {exc}") from exc
        if any(e.get("boom") for e in events):
            raise RuntimeError("plugin bug triggered on purpose")
        messages, reads = [], []
        for e in events:
            if "read" in e:
                reads.append(StatusUpdate(e["read"], DeliveryStatus.READ))
                continue
            messages.append(
                InboundMessage(
                    event_id=e["id"],
                    sender=Contact("testchat", e["user"], e.get("name")),
                    thread_key=e.get("thread", e["user"]),
                    text=e.get("text", ""),
                    title=e.get("title"),
                    automated=bool(e.get("auto")),
                    meta={"reply_token": e["id"]},
                    attachments=[
                        InboundAttachment(a["name"], a["type"], base64.b64decode(a["data"]))
                        for a in e.get("files", [])
                    ],
                )
            )
        return IngestResult(messages=messages, status_updates=reads)

    @bridgekit.hookimpl
    async def bridgekit_identify_customer(
        self, integration: Integration, message: InboundMessage
    ) -> CustomerProfile | None:
        email = integration.settings.get("emails", {}).get(message.sender.value)
        if email is None:
            return None
        return CustomerProfile(
            name=message.sender.name, contacts=[Contact("email", email, verified=True, shared=True)]
        )

    @bridgekit.hookimpl
    async def bridgekit_deliver(self, integration: Integration, message: OutboundMessage) -> DeliveryResult:
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
        try:
            async with self.session.post(
                f"{integration.settings['api_base']}/v1/send",
                json={"to": message.recipient.value, "text": message.text, "author": message.author_kind},
                headers={
                    "Authorization": f"Bearer {integration.secrets['token']}",
                    "Idempotency-Key": message.idempotency_key,
                },
            ) as resp:
                data = await resp.json()
                if resp.status == 429 or resp.status >= 500:
                    retry = resp.headers.get("Retry-After")
                    raise TransientDeliveryError(data["error"], retry_after=float(retry) if retry else None)
                if resp.status >= 400:
                    raise PermanentDeliveryError(data["error"])
                return DeliveryResult(provider_message_id=data["id"])
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from exc

    @bridgekit.hookimpl
    def bridgekit_bill(
        self, integration: Integration, message: OutboundMessage, result: DeliveryResult
    ) -> Charge:
        return Charge(7, "test", f"test send {result.provider_message_id}")

    @bridgekit.hookimpl
    async def bridgekit_shutdown(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


plugin = TestChannelPlugin()
"""Module-level instance, loadable with ``[plugins] modules = ["tests.support.testchannel"]``."""

__all__ = ["CHANNEL", "Capabilities", "TestChannelPlugin", "plugin"]
