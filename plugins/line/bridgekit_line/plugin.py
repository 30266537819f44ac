"""The LINE Messaging API channel: bridgekit hook implementations.

Inbound: LINE POSTs signed webhook events to ``/hooks/<integration>``; ``bridgekit_ingest``
verifies ``X-Line-Signature`` over the raw body first, then normalises each event (see
:mod:`bridgekit_line.events`) and downloads media from the data API. ``bridgekit_identify_
customer`` names the sender through the profile API (cached, never fatal).

Outbound: ``bridgekit_deliver`` answers through the free reply API while the customer's
reply token is fresh and unused, and through the push API otherwise, with an
``X-Line-Retry-Key`` derived from the message's idempotency key so a retry is never a
second message. A reply call carries no retry key, so the token is recorded durably
(``save_progress``) before it is used: an attempt whose outcome is unknown (timeout, crash)
is retried with the *same* token, never as a push (see :meth:`LinePlugin._retry_reply`).
LINE sends are not billed in PU (``bridgekit_bill`` returns ``None``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import mimetypes
import time
from collections.abc import Callable, Iterable
from typing import Any

import bridgekit
from bridgekit import DemoProvider
from bridgekit.channelkit import (
    UTF16_UNITS,
    HttpChannelPlugin,
    MediaUnavailable,
    NotSent,
    TTLCache,
)
from bridgekit.exceptions import ConfigError, PermanentDeliveryError
from bridgekit.model import (
    Capabilities,
    ChannelSpec,
    Charge,
    Contact,
    CustomerProfile,
    DeliveryResult,
    DeliveryStatus,
    InboundAttachment,
    InboundMessage,
    InboxSlot,
    IngestResult,
    Integration,
    OutboundMessage,
    ProviderEvent,
    RawDelivery,
)
from bridgekit_line import events as ev
from bridgekit_line.client import InvalidReplyToken, LineClient, SendResult
from bridgekit_line.outbound import (
    IMAGE_TYPES,
    MAX_IMAGE_BYTES,
    MAX_TEXT_CHARS,
    MAX_TEXT_OBJECTS,
    batches,
    build_messages,
    retry_key,
)
from bridgekit_line.settings import REPLY_TOKEN_DOCUMENTED_VALIDITY, LineSettings, secret
from bridgekit_line.signature import SIGNATURE_HEADER, verify

log = logging.getLogger("bridgekit.line")

CHANNEL = ChannelSpec(
    name="line",
    title="LINE",
    inbox_slot=InboxSlot.LINE,
    # LINE's standard Messaging API does not tell a bot when its messages are read, so the
    # inbox shows "sent" rather than "read" (I19).
    # A manager can write first to a LINE user id (a push); LINE has no phone or email sends.
    # A long reply is split into text objects (outbound.py), JPEG/PNG become image messages
    # (10 MB each) and other files a download link.
    capabilities=Capabilities(
        reports_reads=False,
        supports_images=True,
        max_image_bytes=MAX_IMAGE_BYTES,
        image_types=tuple(sorted(IMAGE_TYPES)),
        text_unit=UTF16_UNITS,
        max_text_length=MAX_TEXT_OBJECTS * MAX_TEXT_CHARS,
        start_chat_with=(ev.CONTACT_KIND,),
    ),
    stored_headers=frozenset({SIGNATURE_HEADER.lower()}),
    closed_chat_policy="reopen",
    mark="LINE",
    # A webhook carries event JSON only (media is fetched by id; a text is at most 5,000
    # characters); LINE documents no maximum, and a few events fit in far less than this.
    max_body_bytes=1024 * 1024,
)

_PROFILE_CACHE_MAX = 10_000
#: A failed or empty profile look-up is retried after this long, not on every message.
_PROFILE_NEGATIVE_TTL = 60.0


def _filename(media: ev.MediaRef, content_type: str) -> str:
    if media.file_name:
        return media.file_name
    ext = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ""
    if ext == ".jpe":
        ext = ".jpg"
    return f"line-{media.kind}-{media.message_id}{ext}"


class LinePlugin(HttpChannelPlugin):
    """The ``line`` channel. One instance may serve many LINE integrations (bots).

    ``clock`` (seconds since the epoch) is injectable so tests can age reply tokens.
    """

    channel_specs = (CHANNEL,)
    settings_class = LineSettings

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(timeout=30)  # per-request timeouts come from each integration's settings
        self._clock = clock
        self.client = LineClient(self._http)
        self._profiles: TTLCache[tuple[str, str], CustomerProfile] = TTLCache(_PROFILE_CACHE_MAX, 3600.0)

    # --- declaration ---------------------------------------------------------------

    @bridgekit.hookimpl
    def bridgekit_demo_providers(self) -> Iterable[DemoProvider]:
        from bridgekit_line.demo import LineDemo  # sandbox code only for the demo

        return [LineDemo()]

    # --- inbound -------------------------------------------------------------------

    @bridgekit.hookimpl
    async def bridgekit_ingest(self, integration: Integration, delivery: RawDelivery) -> IngestResult:
        """Verify the signature, then normalise every event of one webhook delivery."""
        verify(secret(integration, "channel_secret"), delivery.body, delivery.headers.get(SIGNATURE_HEADER))
        parsed = ev.parse_body(delivery.body)
        if not parsed.events:
            # The console's "Verify" button sends an empty events list: answer 200.
            return IngestResult()
        # One loop, not three comprehensions: in Python 3.11 each comprehension is a function
        # call of its own, and this runs for every webhook (1.5 us on the LINE benchmark).
        messages: list[InboundMessage] = []
        events: list[ProviderEvent] = []
        with_media: list[tuple[int, ev.MediaRef]] = []
        for p in parsed.events:
            if p.message is not None:
                if p.media:
                    with_media.append((len(messages), p.media))
                messages.append(p.message)
            if p.event is not None:
                events.append(p.event)
        if with_media:
            fetched: list[tuple[bytes, str] | BaseException]
            try:
                settings = LineSettings.from_integration(integration)
                token = secret(integration, "channel_access_token")
            except ConfigError as exc:
                # Still store the messages: the content can be fetched once this is fixed.
                fetched = [MediaUnavailable(str(exc))] * len(with_media)
            else:
                fetched = await asyncio.gather(
                    *(self.client.content(settings, token, media.message_id) for _, media in with_media),
                    return_exceptions=True,
                )
            for (index, media), outcome in zip(with_media, fetched, strict=True):
                messages[index] = self._with_content(messages[index], media, outcome)
        return IngestResult(messages=messages, events=events)

    def _with_content(
        self, message: InboundMessage, media: ev.MediaRef, outcome: tuple[bytes, str] | BaseException
    ) -> InboundMessage:
        if isinstance(outcome, tuple):
            data, content_type = outcome
            attachment = InboundAttachment(_filename(media, content_type), content_type, data)
            return dataclasses.replace(message, attachments=(attachment,))
        if not isinstance(outcome, Exception):
            raise outcome  # CancelledError and friends must propagate
        # The message is stored anyway, so the manager sees the customer sent something;
        # meta keeps the message id to fetch the content again while LINE still has it.
        log.warning("LINE content of message %s not fetched: %s", media.message_id, outcome)
        meta = {**message.meta, "content_pending": True, "content_error": str(outcome)}
        return dataclasses.replace(
            message, text=f"{message.text} (content could not be loaded: {outcome})", meta=meta
        )

    @bridgekit.hookimpl
    async def bridgekit_identify_customer(
        self, integration: Integration, message: InboundMessage
    ) -> CustomerProfile | None:
        """The LINE userId as a verified, non-shared handle, named from the profile API."""
        if message.sender.kind != ev.CONTACT_KIND:
            return None
        user_id = message.sender.value
        meta = message.meta
        # Group and room members who are not friends of the bot have no /profile; LINE
        # offers member-profile endpoints for them instead.
        if meta.get("source_type") == "group" and meta.get("group_id"):
            path = f"group/{meta['group_id']}/member/{user_id}"
        elif meta.get("source_type") == "room" and meta.get("room_id"):
            path = f"room/{meta['room_id']}/member/{user_id}"
        else:
            path = f"profile/{user_id}"
        key = (integration.name, path)
        # The profile itself is cached, not only the name: it is asked for on every message.
        hit, cached = self._profiles.get(key)
        if hit and cached is not None:
            return cached
        name = await self._display_name(integration, user_id, path)
        contact = Contact(kind=ev.CONTACT_KIND, value=user_id, name=name, verified=True, shared=False)
        profile = CustomerProfile(name=name, contacts=(contact,))
        self._profiles.set(key, profile, self._profile_ttl(integration) if name else _PROFILE_NEGATIVE_TTL)
        return profile

    @staticmethod
    def _profile_ttl(integration: Integration) -> float:
        try:
            return LineSettings.from_integration(integration).profile_cache_ttl
        except ConfigError:
            return _PROFILE_NEGATIVE_TTL

    async def _display_name(self, integration: Integration, user_id: str, path: str) -> str | None:
        try:
            settings = LineSettings.from_integration(integration)
            profile = await self.client.profile(settings, secret(integration, "channel_access_token"), path)
        except Exception as exc:
            # A profile failure must never fail ingest: the customer simply has no name yet.
            log.warning("LINE profile look-up for %s failed: %s", user_id, exc)
            return None
        name = profile.get("displayName") if profile else None
        return name if isinstance(name, str) and name else None

    # --- outbound ------------------------------------------------------------------

    def _reply_token(self, settings: LineSettings, message: OutboundMessage, calls: int) -> str | None:
        """The reply token to use for this send, or ``None`` to push."""
        ctx = message.reply_context
        token = ctx.get("reply_token")
        timestamp = ctx.get("event_timestamp")
        if not settings.use_reply_api or not isinstance(token, str) or not token:
            return None
        if calls != 1 or message.attempt != 1 or ctx.get("is_redelivery"):
            # Reply calls carry no retry key: a retried or multi-call send pushes instead, so
            # every part of it is covered by X-Line-Retry-Key and can never go out twice (an
            # interrupted reply is retried by _retry_reply, with its recorded token).
            return None
        if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
            return None
        if self._clock() - timestamp / 1000 > settings.reply_token_max_age:
            return None
        if not message.first_answer:
            return None  # a reply token works once, and an earlier answer to that message has it
        return token

    async def _retry_reply(
        self, settings: LineSettings, token: str, message: OutboundMessage, calls: list[list[dict[str, Any]]]
    ) -> SendResult | None:
        """Retry a reply whose earlier attempt has an unknown outcome, with the same token.

        LINE answers "Invalid reply token" both for a used and for an expired token. While
        the token is surely unexpired (younger than LINE's documented minute, counted from
        the event's timestamp, which precedes its issue) that answer means the earlier
        attempt used it: delivered, ``None`` is returned. Later nobody can tell, and pushing
        could send the message twice, so the send fails with a reason saying so.
        """
        reply_token = str(message.progress["reply_token"])
        issued = message.progress.get("event_timestamp")
        try:
            return await self.client.reply(settings, token, reply_token, calls[0])
        except InvalidReplyToken:
            age = self._clock() - issued / 1000 if isinstance(issued, int | float) else None
            if age is not None and age < REPLY_TOKEN_DOCUMENTED_VALIDITY:
                return None
            raise PermanentDeliveryError(
                "LINE reply: an earlier attempt may have delivered this message with the reply "
                "token, which has expired since, so LINE cannot tell whether it did; not pushed "
                "to avoid a duplicate. Check the conversation in LINE and retry the message to "
                "push it."
            ) from None

    @bridgekit.hookimpl
    async def bridgekit_deliver(self, integration: Integration, message: OutboundMessage) -> DeliveryResult:
        """Reply while the reply token is fresh and unused, push otherwise (exactly once:
        see the module docstring)."""
        settings = LineSettings.from_integration(integration)
        token = secret(integration, "channel_access_token")
        calls = batches(build_messages(message))
        results: list[SendResult] = []
        if message.progress.get("via") == "reply" and len(calls) == 1:
            resent = await self._retry_reply(settings, token, message, calls)
            if resent is None:
                return DeliveryResult(
                    None, DeliveryStatus.SENT, meta={"via": "reply", "confirmed_by": "reply token used"}
                )
            results.append(resent)
        reply_token = None if results else self._reply_token(settings, message, len(calls))
        if reply_token is not None:
            timestamp = message.reply_context.get("event_timestamp")
            await message.save_progress(
                {"via": "reply", "reply_token": reply_token, "event_timestamp": timestamp}
            )
            try:
                results.append(await self.client.reply(settings, token, reply_token, calls[0]))
            except (InvalidReplyToken, NotSent) as exc:
                # Certainly not sent by this call: from now on this message is pushed, with a
                # retry key that makes every later attempt safe.
                await message.save_progress({"via": "push"})
                if isinstance(exc, NotSent):
                    raise
                log.info("LINE reply token for message %s was no longer valid; pushing", message.message_id)
        if not results:
            to = message.thread_key or (message.recipient.value if message.recipient.kind == "line" else "")
            if not to:
                raise PermanentDeliveryError("no LINE userId, groupId or roomId to push to")
            for index, objects in enumerate(calls):
                key = retry_key(message.idempotency_key, index)
                results.append(await self.client.push(settings, token, to, objects, key))
        ids = [mid for result in results for mid in result.message_ids]
        meta: dict[str, Any] = {
            "via": results[0].via,
            "sent_message_ids": ids,
            "request_ids": [r.request_id for r in results if r.request_id],
        }
        accepted = [r.accepted_request_id for r in results if r.accepted_request_id]
        if accepted:
            meta["accepted_request_ids"] = accepted
        quotes = [q for r in results for q in r.quote_tokens]
        if quotes:
            meta["quote_tokens"] = quotes
        return DeliveryResult(
            provider_message_id=",".join(ids) or None, status=DeliveryStatus.SENT, meta=meta
        )

    @bridgekit.hookimpl
    def bridgekit_bill(
        self, integration: Integration, message: OutboundMessage, result: DeliveryResult
    ) -> Charge | None:
        """LINE sends cost no PU: LINE bills the account owner directly (its own message
        plans), and bridgekit's PU ledger covers SMS/Kakao-style per-message sends only."""
        return None


plugin = LinePlugin()
"""The instance registered through the ``bridgekit`` entry point ``line``."""
