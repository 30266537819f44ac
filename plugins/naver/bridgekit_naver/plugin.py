"""The Naver TalkTalk channel plugin: hook implementations.

Inbound: ``POST /hooks/<integration>?token=<secret>`` -> :mod:`.access` (token and source
address) -> :mod:`.events` (parse and normalise; images are fetched here).
Outbound: :mod:`.outbound` plans the ``send`` events, :mod:`.client` posts them, images go
through the Image Upload API: Naver downloads each image from the signed URL bridgekit's
core serves it at (``OutboundAttachment.url``).
"""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import bridgekit
from bridgekit import DemoProvider
from bridgekit.channelkit import (
    UTF16_UNITS,
    HttpChannelPlugin,
    MediaUnavailable,
    fetch_media,
    send_parts,
)
from bridgekit.exceptions import ConfigError, PermanentDeliveryError
from bridgekit.model import (
    Capabilities,
    ChannelSpec,
    Charge,
    CustomerProfile,
    DeliveryResult,
    DeliveryStatus,
    InboundAttachment,
    InboundMessage,
    InboxSlot,
    IngestResult,
    Integration,
    OutboundAttachment,
    OutboundMessage,
    RawDelivery,
)
from bridgekit_naver.access import verify_delivery
from bridgekit_naver.client import TalkTalkClient
from bridgekit_naver.events import CONTACT_KIND, customer_event, event_id_for, normalise, parse_event
from bridgekit_naver.outbound import IMAGE_CONTENT_TYPES, MAX_IMAGE_BYTES, Part, plan_parts
from bridgekit_naver.settings import NaverSettings

if TYPE_CHECKING:
    pass

CHANNEL = "naver"

#: Declared capabilities. Naver reports no read receipts (SPEC I19: the manager sees
#: "sent", never "read"); images only, up to 20 MB each (README, imageContent). Text has a
#: 10,000-character limit, which deliver handles by splitting, so no byte cap is declared.
CHANNEL_SPEC = ChannelSpec(
    name=CHANNEL,
    title="Naver TalkTalk",
    inbox_slot=InboxSlot.NAVER_TALKTALK,
    capabilities=Capabilities(
        reports_reads=False,
        max_attachments=10,
        max_attachment_bytes=MAX_IMAGE_BYTES,
        # TalkTalk sends only JPG/PNG/GIF images; long texts are split (outbound.py), counted
        # as Naver's servers count them.
        attachment_types=tuple(sorted(IMAGE_CONTENT_TYPES)),
        text_unit=UTF16_UNITS,
        supports_images=True,
        start_chat_with=(CONTACT_KIND,),  # a TalkTalk user id
    ),
    closed_chat_policy="reopen",
    mark="N",
    # TalkTalk posts one event per request (images as URLs); no maximum is documented.
    max_body_bytes=256 * 1024,
)

#: Total time for one call to TalkTalk's API.
API_TIMEOUT_SECONDS = 15.0


class NaverPlugin(HttpChannelPlugin):
    """Naver TalkTalk Chat Bot API channel.

    One instance serves every ``naver`` integration. It holds one lazily created
    ``aiohttp.ClientSession`` (closed in ``bridgekit_shutdown``); how far a multi-part
    delivery got is kept on the outbox row (``send_parts``), not here.
    """

    channel_specs = (CHANNEL_SPEC,)  # SPEC P2, P3 slot NAVER_TALKTALK, I19 no reads
    settings_class = NaverSettings  # checked at start-up: bad CIDRs too

    def __init__(self) -> None:
        super().__init__(timeout=API_TIMEOUT_SECONDS)

    # --- declaration ---------------------------------------------------------------------

    @bridgekit.hookimpl
    def bridgekit_demo_providers(self) -> Iterable[DemoProvider]:
        from bridgekit_naver.demo import NaverDemo  # sandbox code only for the demo

        return [NaverDemo()]

    # --- inbound -------------------------------------------------------------------------

    @bridgekit.hookimpl
    async def bridgekit_ingest(self, integration: Integration, delivery: RawDelivery) -> IngestResult:
        """Check the path token and source address, then normalise the event."""
        settings = verify_delivery(integration, delivery)
        if delivery.method.upper() != "POST":
            return IngestResult()  # a browser or monitor checking the URL: nothing to do
        event = parse_event(delivery.body)
        event_id = event_id_for(delivery.body, delivery.received_at, settings.dedupe_window_seconds)
        attachments: tuple[InboundAttachment, ...] = ()
        image_error: str | None = None
        if event.name == "send" and event.text_content is None and event.image_url:
            try:
                attachments = (await self._fetch_image(event.image_url, settings.image_fetch_timeout),)
            except MediaUnavailable as exc:  # the message keeps the image's URL instead
                image_error = str(exc)
        messages = normalise(
            event, event_id, sent_at=delivery.received_at, attachments=attachments, image_error=image_error
        )
        happened = customer_event(event, event_id, delivery.received_at)
        return IngestResult(messages=tuple(messages), events=(happened,) if happened else ())

    @bridgekit.hookimpl
    def bridgekit_identify_customer(
        self, integration: Integration, message: InboundMessage
    ) -> CustomerProfile | None:
        """TalkTalk gives no name with an event.

        Its Profile API (nickname, phone, address) interrupts the conversation with a
        consent dialog for the customer, so bridgekit never calls it on its own; the core
        uses the sender's TalkTalk id as the handle.
        """
        return None

    async def _fetch_image(self, url: str, limit_seconds: float) -> InboundAttachment:
        parts = urlsplit(url)
        media = await fetch_media(self._http.get(), url, max_bytes=MAX_IMAGE_BYTES, timeout=limit_seconds)
        data, content_type = media.data, media.content_type or "application/octet-stream"
        if not content_type.startswith("image/"):
            content_type = sniff_image_type(data) or content_type
        name = posixpath.basename(parts.path) or "image"
        if "." not in name:
            name += mimetypes.guess_extension(content_type) or ""
        return InboundAttachment(filename=name, content_type=content_type, data=data)

    # --- outbound ------------------------------------------------------------------------

    @bridgekit.hookimpl
    async def bridgekit_deliver(self, integration: Integration, message: OutboundMessage) -> DeliveryResult:
        """Send text (split at 10,000 characters) and images (uploaded, then sent by imageId).

        TalkTalk returns no message id, so ``provider_message_id`` is ``None``: nothing
        ever refers back to a sent message (no delivery or read reports, SPEC I19).
        """
        try:
            settings = NaverSettings.from_integration(integration)
        except ConfigError as exc:  # start-up refuses this; the outbox says why it cannot send
            raise PermanentDeliveryError(str(exc)) from None
        user = message.recipient.value if message.recipient.kind == CONTACT_KIND else ""
        user = user or message.thread_key
        if not user:
            raise PermanentDeliveryError("no TalkTalk user id to send to")
        parts = plan_parts(message)
        client = TalkTalkClient(self._http.get(), settings.api_base, settings.authorization_key)
        image_ids: list[str] = []

        async def send(part: Part) -> None:
            if part.attachment is not None:
                image_id = await self._upload(integration, client, part.attachment)
                image_ids.append(image_id)
                payload: dict[str, Any] = {"imageContent": {"imageId": image_id}}
            else:
                payload = {"textContent": {"text": part.text}}
            await client.send_event({"event": "send", "user": user, **payload})

        # parts that went out on an earlier attempt (kept on the outbox row) are never resent
        await send_parts(message, parts, send)
        return DeliveryResult(
            provider_message_id=None,
            status=DeliveryStatus.SENT,
            meta={"parts": len(parts), "image_ids": image_ids},
        )

    async def _upload(self, integration: Integration, client: TalkTalkClient, att: OutboundAttachment) -> str:
        if att.url is None:
            raise PermanentDeliveryError(
                "sending images to Naver TalkTalk needs a public URL Naver can download them from: "
                "set [server] public_url"
            )
        return await client.upload_image(att.url)

    @bridgekit.hookimpl
    def bridgekit_bill(
        self, integration: Integration, message: OutboundMessage, result: DeliveryResult
    ) -> Charge | None:
        """TalkTalk messages are free: nothing is billed in PU."""
        return None

    # --- lifecycle -----------------------------------------------------------------------

    @bridgekit.hookimpl
    def bridgekit_inbound_address(self, integration: Integration, base_url: str) -> str:
        # TalkTalk signs nothing: the URL's token is the webhook's only credential.
        try:
            token = NaverSettings.from_integration(integration).path_token
        except ConfigError:
            token = "<secrets.path_token>"
        return f"POST {base_url}/hooks/{quote(integration.name)}?token={quote(token)}"


def sniff_image_type(data: bytes) -> str | None:
    """The image type from magic bytes, for servers that send a generic Content-Type."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


plugin = NaverPlugin()
"""The instance registered through the ``bridgekit`` entry point."""
