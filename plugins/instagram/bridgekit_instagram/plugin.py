"""The Instagram DM channel: bridgekit hook implementations.

Inbound: Meta POSTs signed webhooks to ``/hooks/{integration}``; ``bridgekit_ingest``
verifies ``X-Hub-Signature-256`` over the raw bytes, parses the events, downloads
attachments and returns customer messages plus read receipts. Meta's subscription GET
(``hub.challenge``) is answered here too.

Outbound: ``bridgekit_deliver`` checks the messaging window first (24 h plain, 7 days with
the HUMAN_AGENT tag, refused after that without calling Meta), splits long text at
1,000 UTF-8 bytes, and sends each piece and attachment through the Send API.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import bridgekit
from bridgekit import DemoProvider
from bridgekit.channelkit import (
    UTF8_BYTES,
    HttpChannelPlugin,
    TTLCache,
    send_parts,
    split_text,
)
from bridgekit.exceptions import (
    ConfigError,
    MalformedDelivery,
    PermanentDeliveryError,
    SignatureError,
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
    InboundMessage,
    InboxSlot,
    IngestResult,
    Integration,
    OutboundAttachment,
    OutboundMessage,
    RawDelivery,
    StatusUpdate,
)
from bridgekit.payloads import parse_json

from . import events
from .client import PROFILE_FIELDS, GraphClient
from .config import MAX_TEXT_BYTES, InstagramConfig
from .media import fetch_all
from .signature import SIGNATURE_HEADER, verify_handshake, verify_signature
from .window import decide

log = logging.getLogger("bridgekit_instagram")

CHANNEL = "instagram"
CONTACT_KIND = events.CONTACT_KIND

# Meta's attachment limits for Instagram messaging: images 8 MB, everything else 25 MB
_IMAGE_MAX = 8 * 1024 * 1024
_OTHER_MAX = 25 * 1024 * 1024

SPEC = ChannelSpec(
    name=CHANNEL,
    title="Instagram",
    inbox_slot=InboxSlot.INSTAGRAM,
    capabilities=Capabilities(
        reports_reads=True,
        max_attachments=10,
        max_attachment_bytes=_OTHER_MAX,
        max_image_bytes=_IMAGE_MAX,
        # Meta counts UTF-8 bytes per message; a longer reply is split (textsplit.py), so
        # there is no total beyond the core's.
        text_unit=UTF8_BYTES,
        max_text_bytes=MAX_TEXT_BYTES,
        supports_images=True,
        start_chat_with=(CONTACT_KIND,),  # an Instagram-scoped id (IGSID)
    ),
    closed_chat_policy="reopen",
    mark="instagram",
    # Meta batches "a maximum of 1000 updates" per POST; a messaging update (media as URLs)
    # is a few hundred bytes to ~2 KB, so a full batch stays well under this.
    max_body_bytes=4 * 1024 * 1024,
    stored_headers=frozenset({SIGNATURE_HEADER}),
)

_PROFILE_CACHE_MAX = 10_000
_PROFILE_FAILURE_TTL = 60.0
"""Seconds to remember a failed profile look-up, so a burst of messages does not hammer
a Graph API that is already failing."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _attachment_type(content_type: str) -> str:
    major = content_type.split("/", 1)[0].lower()
    return major if major in {"image", "video", "audio"} else "file"


class InstagramPlugin(HttpChannelPlugin):
    """Instagram DM through the Instagram API (Messenger Platform for Instagram)."""

    channel_specs = (SPEC,)
    settings_class = InstagramConfig

    def __init__(self, *, clock: Callable[[], datetime] = _utcnow) -> None:
        super().__init__(timeout=30)
        self._clock = clock
        self._profiles: TTLCache[tuple[int, str], CustomerProfile | None] = TTLCache(
            _PROFILE_CACHE_MAX, 3600.0
        )

    # --- declaration and lifecycle -------------------------------------------------------

    @bridgekit.hookimpl
    def bridgekit_demo_providers(self) -> Iterable[DemoProvider]:
        from .demo import InstagramDemo  # sandbox code only for the demo

        return [InstagramDemo()]

    # --- inbound -------------------------------------------------------------------------

    @bridgekit.hookimpl
    async def bridgekit_ingest(self, integration: Integration, delivery: RawDelivery) -> IngestResult:
        """Answer Meta's handshake, or verify and parse one webhook delivery."""
        try:
            config = InstagramConfig.from_integration(integration)
        except ConfigError as exc:
            # Start-up refuses this; a delivery that still gets here cannot be verified.
            raise SignatureError(str(exc)) from None
        method = delivery.method.upper()
        if method == "GET":
            challenge = verify_handshake(config.verify_token, delivery.query)
            return IngestResult(response=HookResponse(status=200, body=challenge, content_type="text/plain"))
        if method != "POST":
            raise SignatureError(f"Meta sends webhooks as GET or POST, not {method}")
        # authenticate the exact bytes received before looking inside them
        verify_signature(config.app_secret, delivery.body, delivery.headers.get(SIGNATURE_HEADER))
        try:
            payload = parse_json(delivery.body)
        except ValueError as exc:
            raise MalformedDelivery(f"instagram webhook body is {exc}") from None
        own_ids = [config.ig_user_id] if config.ig_user_id != "me" else []
        parsed = events.parse(payload, own_ids=own_ids)
        messages = await asyncio.gather(*(self._inbound(config, item) for item in parsed.messages))
        statuses = [
            StatusUpdate(provider_message_id=mid, status=DeliveryStatus.READ) for mid in parsed.read_mids
        ]
        return IngestResult(messages=list(messages), status_updates=statuses, events=parsed.events)

    async def _inbound(self, config: InstagramConfig, item: events.ParsedMessage) -> InboundMessage:
        meta = dict(item.meta)
        text = item.text
        attachments: Sequence[Any] = ()
        if item.media:
            meta["attachments"] = [{"type": ref.kind, "url": ref.url} for ref in item.media]
            attachments, failures = await fetch_all(self._http.get(), item.media, config.attachment_timeout)
            if failures:
                meta["attachment_failures"] = [
                    {"type": f.kind, "url": f.url, "reason": f.reason} for f in failures
                ]
                notes = [f"[{f.kind} attachment could not be loaded: {f.url}]" for f in failures]
                text = "\n".join([text, *notes]) if text else "\n".join(notes)
        return InboundMessage(
            event_id=item.event_id,
            sender=Contact(kind=CONTACT_KIND, value=item.igsid, verified=True, shared=False),
            thread_key=item.igsid,
            text=text,
            attachments=tuple(attachments),
            sent_at=events.sent_at(item.timestamp_ms),
            meta=meta,
            provider_message_id=item.event_id,  # a message's event id is its mid
        )

    @bridgekit.hookimpl
    async def bridgekit_identify_customer(
        self, integration: Integration, message: InboundMessage
    ) -> CustomerProfile | None:
        """Name and username from the Graph user profile, cached; ``None`` on any failure."""
        igsid = message.sender.value
        key = (integration.id, igsid)
        hit, cached = self._profiles.get(key)
        if hit:
            return cached
        config = InstagramConfig.from_integration(integration)
        try:
            data = await GraphClient(self._http.get(), config).profile(igsid)
        except Exception as exc:  # a profile is a nicety: never let it fail the ingest
            log.warning("instagram profile look-up for %s failed: %s", igsid, exc)
            self._profiles.set(key, None, _PROFILE_FAILURE_TTL)
            return None
        profile = _profile(igsid, data)
        self._profiles.set(key, profile, config.profile_ttl)
        return profile

    # --- outbound ------------------------------------------------------------------------

    @bridgekit.hookimpl
    async def bridgekit_deliver(self, integration: Integration, message: OutboundMessage) -> DeliveryResult:
        """Send text (split at 1,000 bytes) and attachments within Meta's messaging window."""
        try:
            config = InstagramConfig.from_integration(integration)
        except ConfigError as exc:
            raise PermanentDeliveryError(str(exc)) from None
        recipient = message.recipient.value or message.thread_key
        pieces = split_text(message.text, MAX_TEXT_BYTES, UTF8_BYTES)
        if not pieces and not message.attachments:
            raise PermanentDeliveryError("nothing to send: the message has no text and no attachments")
        self._check_attachments(message.attachments)
        # the window decides before any request: a shut window must not reach Meta at all
        policy = decide(message.reply_context, self._clock(), human_agent=config.human_agent)
        bodies: list[dict[str, Any]] = [
            {"recipient": {"id": recipient}, "message": {"text": piece}} for piece in pieces
        ]
        for attachment in message.attachments:
            # Meta downloads the file from bridgekit's signed media URL.
            payload = {"type": _attachment_type(attachment.content_type), "payload": {"url": attachment.url}}
            bodies.append({"recipient": {"id": recipient}, "message": {"attachment": payload}})

        client = GraphClient(self._http.get(), config)

        async def send(body: dict[str, Any]) -> str:
            answer = await client.send(policy.apply(body))
            return str(answer.get("message_id") or "")

        # a retried multi-part send resumes after the last delivered part (kept on the outbox row)
        done = await send_parts(message, bodies, send)
        mids = [mid for mid in done if mid]
        return DeliveryResult(
            # Meta reports a read for the latest message seen, i.e. the last part
            provider_message_id=mids[-1] if mids else None,
            status=DeliveryStatus.SENT,
            meta={
                "message_ids": mids,
                "parts": len(bodies),
                "messaging_type": policy.messaging_type,
                **({"tag": policy.tag} if policy.tag else {}),
            },
        )

    def _check_attachments(self, attachments: Sequence[OutboundAttachment]) -> None:
        """Refuse attachments Meta could never take, before any request."""
        if any(attachment.url is None for attachment in attachments):
            raise PermanentDeliveryError(
                "Instagram fetches attachments from a public URL, and bridgekit's [server] "
                "public_url is not set; set it to the https address where Meta can reach bridgekit"
            )
        for attachment in attachments:
            kind = _attachment_type(attachment.content_type)
            limit = _IMAGE_MAX if kind == "image" else _OTHER_MAX
            if attachment.size > limit:
                raise PermanentDeliveryError(
                    f"{attachment.filename} is {attachment.size} bytes; Instagram accepts "
                    f"{kind} attachments up to {limit // (1024 * 1024)} MB"
                )

    @bridgekit.hookimpl
    def bridgekit_bill(
        self, integration: Integration, message: OutboundMessage, result: DeliveryResult
    ) -> Charge | None:
        """Instagram messages cost nothing in PU."""
        return None


def _profile(igsid: str, data: Any) -> CustomerProfile:
    name = data.get("name") or None
    username = data.get("username") or None
    display = name or (f"@{username}" if username else None)
    meta = {field: data[field] for field in PROFILE_FIELDS if data.get(field) is not None}
    if username:
        meta["profile_url"] = f"https://www.instagram.com/{username}/"
    contact = Contact(kind=CONTACT_KIND, value=igsid, name=display, verified=True, shared=False)
    return CustomerProfile(name=display, contacts=[contact], meta=meta)


plugin = InstagramPlugin()
"""The instance registered through the ``bridgekit`` entry point."""
