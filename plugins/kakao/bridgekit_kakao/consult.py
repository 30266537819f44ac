"""Kakao consultation talk (상담톡): KakaoTalk users chat with the brand in the inbox (K1).

A messenger channel, ``kakao_consult``, in the Kakao slot. The reseller relays each customer
message to ``/hooks/<integration>?token=…``; the core stores it (acknowledged after commit,
redeliveries dropped by Kakao's ``serial_number``) and managers reply. Kakao's session rule
is kept here: a manager may send only while the customer's consultation session is alive —
it starts with the customer's message and lasts ``session_days`` (30) after their last one;
closing the chat ends it (the reseller's end-session call). A reply after that is refused
before it is stored (``bridgekit_check_reply``: 409 ``kakao_session_expired`` /
``kakao_session_ended``) and, for bots' replies, at delivery. Billing (K7): 80 PU once per
customer per 04:00 to 03:59 KST window, through ``BridgeAPI.record_charge``.

The reseller's wire format is behind :class:`~bridgekit_kakao.consult_wire.ConsultWire`
(one profile today: :mod:`bridgekit_kakao.consult_happytalk`).
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from bridgekit.channelkit import MediaUnavailable, ProviderSession, TTLCache, fetch_media, send_parts
from bridgekit.exceptions import (
    ConfigError,
    DeliveryError,
    PermanentDeliveryError,
    RequestRefused,
    SignatureError,
)
from bridgekit.flow import ChatStateEvent, ChatView, MessageEvent
from bridgekit.model import (
    Capabilities,
    ChannelSpec,
    Charge,
    Contact,
    DeliveryResult,
    InboundAttachment,
    InboundMessage,
    InboxSlot,
    IngestResult,
    Integration,
    OutboundMessage,
    RawDelivery,
)

from bridgekit_kakao.consult_profiles import wire_for
from bridgekit_kakao.consult_store import SessionStore
from bridgekit_kakao.consult_wire import (
    ConsultSettings,
    ConsultWire,
    InboundChat,
    OutboundChat,
    OutboundKind,
    SessionGone,
)

if TYPE_CHECKING:
    from bridgekit import BridgeAPI

log = logging.getLogger(__name__)

CHANNEL = "kakao_consult"
#: A customer's handle: Kakao's ``user_key``, valid for this Kakao channel only.
CONTACT_KIND = "kakao_user_key"
#: Where an inbound message's session travels in its meta (and so in ``reply_context``).
META_KEY = "kakao_consult"
CATEGORY = "social_media"
#: Kakao's limit on one consultation message's text.
MAX_TEXT = 1000
#: K7's billing day runs 04:00 to 03:59 in Korea (KST, UTC+9, no daylight saving).
KST = timedelta(hours=9)
DAY_STARTS = timedelta(hours=4)
#: A customer's photo or file is stored with the message when it downloads within these
#: limits (the provider waits for the answer); otherwise the message keeps its Kakao link.
MAX_INBOUND_BYTES = 20 * 1024 * 1024
INBOUND_FETCH_SECONDS = 5.0

CHANNEL_SPEC = ChannelSpec(
    name=CHANNEL,
    title="Kakao consultation talk",
    inbox_slot=InboxSlot.KAKAO,
    capabilities=Capabilities(
        reports_reads=False,  # I19: the relay reports no reads; "sent" it stays
        max_attachments=5,
        max_attachment_bytes=50 * 1024 * 1024,
        max_image_bytes=5 * 1024 * 1024,
        max_text_length=MAX_TEXT,
        start_chat_with=(),  # only the customer opens a consultation
    ),
    closed_chat_policy="reopen",
    mark="kakao",
    max_body_bytes=64 * 1024,
)


def billing_day(sent_at: datetime) -> date:
    """The K7 window a (naive UTC) time falls in, named by the KST date it starts on."""
    return (sent_at + KST - DAY_STARTS).date()


def charge_for(customer_id: int, sent_at: datetime, price_pu: int) -> Charge:
    """One consultation's charge; its description names the customer and the window, so the
    ledger records it once per customer and window (``BridgeAPI.record_charge``)."""
    day = billing_day(sent_at)
    window = f"{day.isoformat()} 04:00 to {(day + timedelta(days=1)).isoformat()} 03:59 KST"
    return Charge(price_pu, CATEGORY, f"Kakao consultation talk: customer {customer_id}, {window}")


def serial_number(idempotency_key: str, part: int) -> str:
    """Kakao's ``serial_number`` (≤30 characters): unique per provider message, the same on
    every retry of it, so a repeat is recognised as one."""
    return f"bk{hashlib.sha256(idempotency_key.encode('utf-8')).hexdigest()[:24]}{part:02d}"


class ConsultTalk:
    """The ``kakao_consult`` channel; :class:`~bridgekit_kakao.plugin.KakaoPlugin` hands it the
    hooks of its integrations."""

    def __init__(self, http: ProviderSession) -> None:
        self._http = http
        self._bridge: BridgeAPI | None = None
        self._store: SessionStore | None = None
        #: Charges this process already saw recorded: the ledger is asked once per customer
        #: and window, not at every message (the ledger itself is what keeps it once).
        self._charged: TTLCache[tuple[str, str], bool] = TTLCache(maxsize=10_000, ttl=26 * 3600)

    @property
    def store(self) -> SessionStore:
        if self._store is None:  # without a running bridge (unit tests): in memory
            self._store = SessionStore()
        return self._store

    @staticmethod
    def settings(integration: Integration) -> ConsultSettings:
        return ConsultSettings.from_integration(integration)

    def wire(self, integration: Integration) -> ConsultWire:
        return wire_for(self.settings(integration), self._http.get())

    def startup(self, bridge: BridgeAPI, data_dir: Path) -> None:
        self._bridge = bridge
        if self._store is None:
            self._store = SessionStore(data_dir / "kakao" / "consult.sqlite3")

    # --- inbound ------------------------------------------------------------------------

    def inbound_address(self, integration: Integration, base_url: str) -> str:
        """The URL to give the reseller, with its token (the core masks it unless a person
        is watching the terminal)."""
        try:
            token = self.settings(integration).webhook_token
        except ConfigError:
            token = "<secrets.webhook_token>"
        return f"POST {base_url}/hooks/{quote(integration.name)}?token={quote(token)}"

    async def ingest(self, integration: Integration, delivery: RawDelivery) -> IngestResult:
        try:
            wire = self.wire(integration)
        except ConfigError as exc:  # fail closed: nobody may post to a misconfigured channel
            raise SignatureError(str(exc)) from None
        wire.verify(delivery)
        messages = []
        for chat in wire.parse(delivery):
            if chat.kind == "leave":  # the customer ended the session
                self.store.end(integration.name, chat.session_id, chat.user_key)
                continue
            text, attachments = await self._media(chat)
            messages.append(
                InboundMessage(
                    event_id=chat.serial_number,
                    sender=Contact(CONTACT_KIND, chat.user_key, None, verified=True, shared=False),
                    thread_key=chat.user_key,
                    text=text,
                    attachments=attachments,
                    sent_at=chat.sent_at,
                    provider_message_id=chat.serial_number,
                    meta={
                        META_KEY: {
                            "user_key": chat.user_key,
                            "session_id": chat.session_id,
                            "kind": chat.kind,
                            "time": chat.sent_at.isoformat(),
                            **({"url": chat.url} if chat.url else {}),
                        }
                    },
                )
            )
        return IngestResult(messages=messages)

    async def _media(self, chat: InboundChat) -> tuple[str, tuple[InboundAttachment, ...]]:
        """The message's text and its photo or file, downloaded from Kakao; when it cannot be
        (too large, gone, slow), the text names its link instead."""
        if chat.kind not in ("image", "file") or not chat.url:
            return chat.text, ()
        try:
            media = await fetch_media(
                self._http.get(), chat.url, max_bytes=MAX_INBOUND_BYTES, timeout=INBOUND_FETCH_SECONDS
            )
        except MediaUnavailable as exc:
            label = "Photo" if chat.kind == "image" else f"File {chat.filename or ''}".rstrip()
            return f"{chat.text}\n{label} (not downloaded: {exc}): {chat.url}".strip(), ()
        name = chat.filename or posixpath.basename(urlsplit(chat.url).path) or chat.kind
        content_type = media.content_type or "application/octet-stream"
        return chat.text, (InboundAttachment(name, content_type, media.data),)

    # --- the session rule ---------------------------------------------------------------

    def refusal(
        self, integration: Integration, chat_state: str | None, context: Mapping[str, Any], now: datetime
    ) -> RequestRefused | None:
        """Why a manager may not send in this chat now (None: the session is alive)."""
        session = context.get(META_KEY)
        if not isinstance(session, Mapping):
            return RequestRefused(
                "the customer has not started a KakaoTalk consultation in this chat",
                status=409,
                code="kakao_session_ended",
            )
        if chat_state == "closed" or self.store.ended(integration.name, str(session.get("session_id"))):
            return RequestRefused(
                "this KakaoTalk consultation has ended (the chat was closed or the customer left): "
                "you can answer once the customer writes again",
                status=409,
                code="kakao_session_ended",
            )
        days = self.settings(integration).session_days
        try:
            last = datetime.fromisoformat(str(session.get("time")))
        except ValueError:
            return None  # not ours to judge: the reseller decides at the send
        if now - last > timedelta(days=days):
            return RequestRefused(
                f"the customer's KakaoTalk consultation session expired {days} days after their last "
                "message: you can answer once they write again",
                status=409,
                code="kakao_session_expired",
                details={"days": days},
            )
        return None

    def check_reply(self, integration: Integration, chat: ChatView, reply_context: Mapping[str, Any]) -> None:
        refused = self.refusal(integration, chat.state, reply_context, _utcnow())
        if refused is not None:
            raise refused

    # --- outbound -----------------------------------------------------------------------

    async def deliver(self, integration: Integration, message: OutboundMessage) -> DeliveryResult:
        try:
            wire = self.wire(integration)
        except ConfigError as exc:
            raise PermanentDeliveryError(str(exc)) from None
        # A bot's reply comes here without the API's check; a retry may come after expiry.
        # (The chat's state is not known here: an ended session is in the store.)
        refused = self.refusal(integration, None, message.reply_context, _utcnow())
        if refused is not None:
            raise PermanentDeliveryError(str(refused))
        session = message.reply_context[META_KEY]
        user_key = str(session["user_key"])
        parts = self._parts(message, user_key)
        try:
            ids = await send_parts(message, parts, wire.send)
        except SessionGone as exc:
            self.store.end(integration.name, str(session.get("session_id")), user_key)
            raise PermanentDeliveryError(f"{exc}: the customer's consultation session is over") from None
        return DeliveryResult(
            provider_message_id=ids[0] if ids else None,
            meta={"kind": "consultation", "serial_numbers": ids},
        )

    def _parts(self, message: OutboundMessage, user_key: str) -> list[OutboundChat]:
        parts: list[OutboundChat] = []
        buttons = message.meta.get("buttons")
        if message.text.strip():
            links = [
                {
                    "name": str(b.get("text", "")),
                    "type": "WL",
                    "url_mobile": str(b.get("url", "")),
                    "url_pc": str(b.get("url", "")),
                }
                for b in buttons or []
                if isinstance(b, Mapping)
            ]
            kind: OutboundKind = "link" if links else "text"
            parts.append(
                OutboundChat(
                    kind, user_key, serial_number(message.idempotency_key, 0), message.text, links=links
                )
            )
        for attachment in message.attachments:
            if attachment.url is None:
                raise PermanentDeliveryError(
                    "Kakao fetches files from a URL: set [server] public_url so bridgekit can serve them"
                )
            is_image = attachment.content_type.startswith("image/")
            parts.append(
                OutboundChat(
                    "image" if is_image else "file",
                    user_key,
                    serial_number(message.idempotency_key, len(parts)),
                    url=attachment.url,
                    filename=attachment.filename,
                    size=attachment.size,
                )
            )
        return parts

    # --- after commit: sessions, closing, billing ---------------------------------------

    async def message_received(self, event: MessageEvent) -> None:
        """A customer's message is stored: remember its chat's session and bill the
        consultation, once per customer per window (K7)."""
        integration, message = event.integration, event.message
        if integration is None or message is None or self._bridge is None:
            return
        session = message.meta.get(META_KEY)
        if not isinstance(session, Mapping):
            return
        self.store.seen(
            integration.name, str(session.get("session_id")), str(session.get("user_key")), event.chat.id
        )
        try:
            sent_at = datetime.fromisoformat(str(session.get("time")))
        except ValueError:
            sent_at = message.created_at
        customer_id = event.chat.customer_id
        charge = charge_for(customer_id, sent_at, self.settings(integration).price_pu)
        key = (integration.name, charge.description)
        day = billing_day(sent_at).isoformat()
        if not self._charged.get(key)[0] and not self.store.billed(integration.name, customer_id, day):
            await self._bridge.record_charge(integration.name, charge, message_id=message.id)
            self.store.mark_billed(integration.name, customer_id, day)
            self._charged.set(key, True)

    async def chat_state_changed(self, event: ChatStateEvent) -> None:
        """Closing the chat ends the customer's consultation session at Kakao (K1)."""
        integration = event.integration
        if integration is None or event.new_state != "closed" or event.old_state == "closed":
            return
        found = self.store.latest_for_chat(integration.name, event.chat.id)
        if found is None:
            return
        session_id, user_key, ended = found
        if ended:
            return
        self.store.end(integration.name, session_id, user_key)  # no reply slips in meanwhile
        try:
            await self.wire(integration).end_session(user_key)
        except (DeliveryError, ConfigError) as exc:
            log.warning("ending the Kakao consultation of chat %s failed: %s", event.chat.id, exc)
            event.note(f"Kakao did not confirm the end of the consultation session: {exc}")


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
