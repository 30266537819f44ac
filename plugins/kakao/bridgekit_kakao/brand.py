"""Kakao brand messages (브랜드 메시지): advertising messages of the wide-image type, as a
send-only channel ``kakao_brand`` in the Kakao slot, sent through NHN Cloud's brand message
API v1.0 (:mod:`bridgekit_kakao.brand_api`).

The same path as an Alimtalk: ``POST /api/v1/kakao_brand/messages`` checks the rules
(:mod:`bridgekit_kakao.brand_rules`) and queues the message with
``BridgeAPI.send_to_customer`` (outbox, retries, billing, the customer's sent messages); a
reply typed in a brand chat, or a bot's ``send_to_customer``, is queued by the core and the
same rules are checked again at delivery, before NHN is called. The ``KakaoPlugin`` hands
this service what concerns ``kakao_brand`` integrations. See README.md, "Brand messages".
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from bridgekit.channelkit import ProviderSession, marked_ad
from bridgekit.channelkit.routes import (
    integration_named,
    json_error,
    json_object,
    json_response,
    operator_only,
    request_manager_id,
)
from bridgekit.exceptions import PermanentDeliveryError, RequestRefused, TransientDeliveryError
from bridgekit.model import (
    Capabilities,
    ChannelSpec,
    Charge,
    DeliveryResult,
    InboxSlot,
    Integration,
    OutboundMessage,
)

from bridgekit_kakao.brand_api import BrandClient
from bridgekit_kakao.brand_rules import (
    WIDE_MAX_CHARS,
    BrandRefused,
    BrandSettings,
    check_content,
    check_friend,
    check_hours,
    check_verified,
)
from bridgekit_kakao.brand_store import BrandStore, FriendState
from bridgekit_kakao.nhn import Refused
from bridgekit_kakao.sending import customer_body, customer_send_body, note_request, settings_and_phone

if TYPE_CHECKING:
    from aiohttp.web import AbstractRouteDef
    from bridgekit import BridgeAPI
    from bridgekit.flow import CustomerEventView

log = logging.getLogger(__name__)

BRAND_CHANNEL = "kakao_brand"
#: Where a brand message's image travels in the message's meta.
BRAND_META_KEY = "kakao_brand"
#: How ledger rows of Kakao sends are grouped on the invoice (K7: "social media").
CATEGORY = "social_media"

#: Customer events that tell whether the customer is a friend of a Kakao channel (the
#: consultation-talk channel's names; ``follow``/``unfollow`` when a Kakao channel says them).
FRIEND_EVENTS = {
    "kakao_channel_added": True,
    "kakao_channel_blocked": False,
    "follow": True,
    "unfollow": False,
}

BRAND_SPEC = ChannelSpec(
    name=BRAND_CHANNEL,
    title="Kakao brand message",
    inbox_slot=InboxSlot.KAKAO,
    capabilities=Capabilities(
        reports_reads=False,
        max_attachments=0,
        supports_images=False,  # the wide image is NHN's (uploaded there), not an attachment
        max_text_length=WIDE_MAX_CHARS,
        start_chat_with=("phone",),
    ),
    mark="kakao",
    contact_kind="phone",
    max_body_bytes=1024,  # nothing posts to it: brand messages have no inbound webhook
)

_IMAGE = {"type": "string", "pattern": "^https?://", "maxLength": 1000}
SEND_BODY = customer_send_body(
    ("text",),
    {
        "text": {"type": "string", "minLength": 1, "maxLength": 1000},
        "image_url": _IMAGE,
        "image_link": _IMAGE,
    },
)
FRIEND_BODY = customer_body(("friend",), {"friend": {"type": "boolean"}})


class BrandService:
    """Everything about ``kakao_brand`` integrations; one per ``KakaoPlugin``."""

    def __init__(
        self,
        http: ProviderSession,
        link_refusal: Callable[[str, str], RequestRefused | None] = lambda sender_key, service: None,
    ) -> None:
        self._http = http
        #: Why the linked Kakao channel may not send (K8: unlinked, brand messages off).
        self._link_refusal = link_refusal
        self._bridge: BridgeAPI | None = None
        self._store: BrandStore | None = None
        #: What "now" is, for the 20:50 to 08:00 rule (tests set a fixed moment).
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @property
    def store(self) -> BrandStore:
        if self._store is None:  # without a running bridge (unit tests): in memory
            self._store = BrandStore()
        return self._store

    @staticmethod
    def settings(integration: Integration) -> BrandSettings:
        return BrandSettings.from_integration(integration)

    def startup(self, bridge: BridgeAPI) -> None:
        self._bridge = bridge
        if self._store is None:
            self._store = BrandStore(bridge.data_dir / "kakao" / "brand.sqlite3")

    def routes(self) -> list[AbstractRouteDef]:
        return [
            web.post("/api/v1/kakao_brand/messages", operator_only(self._send)),
            web.get("/api/v1/kakao_brand/friends", self._get_friend),
            web.put("/api/v1/kakao_brand/friends", operator_only(self._put_friend)),
        ]

    # --- deliver -------------------------------------------------------------------------

    def _checked(
        self, integration: Integration, settings: BrandSettings, text: str, customer_id: int
    ) -> None:
        """Every rule, in the order a manager fixes them; :class:`BrandRefused` otherwise."""
        refusal = self._link_refusal(settings.sender_key, "brand")
        if refusal is not None:
            raise refusal
        check_verified(settings, integration.name)
        check_content(text)
        check_hours(self.clock())
        state = self.store.friend(integration.name, customer_id)
        check_friend(state.friend if state else None, customer_id, integration.name)

    @staticmethod
    def _image(settings: BrandSettings, meta: Mapping[str, Any]) -> tuple[str, str]:
        own = meta.get(BRAND_META_KEY)
        own = own if isinstance(own, Mapping) else {}
        url = str(own.get("image_url") or settings.image_url)
        link = str(own.get("image_link") or (settings.image_link if not own.get("image_url") else ""))
        if not url:
            raise BrandRefused(
                "a brand message is of the wide-image type and needs an image: give image_url, "
                "or set the integration's image_url",
                code="kakao_brand_image",
                status=422,
            )
        return url, link

    async def deliver(self, integration: Integration, message: OutboundMessage) -> DeliveryResult:
        settings, phone = settings_and_phone(self.settings, integration, message)  # Alimtalk's number rule
        customer_id = await self._customer_of(message.chat_id)
        client = BrandClient(settings, self._http.get())
        progress = dict(message.progress)
        request_id, seq = progress.get("request_id"), progress.get("recipient_seq")
        if not isinstance(request_id, str) or not isinstance(seq, int):
            try:
                self._checked(integration, settings, message.text, customer_id)
                image_url, image_link = self._image(settings, message.meta)
            except RequestRefused as exc:  # a BrandRefused, or the link's (K8)
                raise PermanentDeliveryError(str(exc)) from None
            maybe_sent = bool(progress.get("sending"))
            progress = {"sending": True}
            await message.save_progress(progress)  # before the call: a retry knows it may have gone
            try:
                accepted = await client.send_wide(
                    message.text, image_url, image_link, phone.national, message.idempotency_key
                )
            except Refused as exc:
                again = "; an earlier attempt may have sent it, so it is not sent again" if maybe_sent else ""
                raise PermanentDeliveryError(f"{exc}{again}") from None
            if accepted.result_code != 0:
                raise PermanentDeliveryError(
                    f"NHN did not take the brand message: {accepted.result_message} ({accepted.result_code})"
                )
            request_id, seq = accepted.request_id, accepted.recipient_seq
            progress = await note_request(message, progress, request_id, seq)
        try:
            outcome = await client.outcome(request_id, seq)
        except Refused as exc:
            raise TransientDeliveryError(f"the brand message's result could not be read: {exc}") from None
        if outcome.friend is not None and outcome.final:
            self.store.set_friend(integration.name, customer_id, outcome.friend, "nhn")
        if outcome.delivered:
            return DeliveryResult(
                provider_message_id=f"{request_id}/{seq}",
                meta={"kind": "brand_message", "result_code": outcome.result_code},
            )
        if outcome.final:
            raise PermanentDeliveryError(
                f"Kakao did not deliver the brand message: {outcome.result_name} ({outcome.result_code})"
            )
        raise TransientDeliveryError(
            "NHN has not decided the brand message's result yet", retry_after=settings.result_poll_seconds
        )

    async def _customer_of(self, chat_id: int) -> int:
        chat = await self._bridge.chat(chat_id) if self._bridge is not None else None
        if chat is None:
            raise PermanentDeliveryError(f"the brand message's chat {chat_id} is gone")
        return chat.customer_id

    def customer_event(self, event: CustomerEventView) -> None:
        """A Kakao channel's "friend added" or "blocked" event of a customer (from the
        consultation-talk channel, or any plugin), naming the channel's ``sender_key`` in its
        data: their friend state for every brand integration of that sender key."""
        friend = FRIEND_EVENTS.get(event.kind)
        source = event.integration
        if friend is None or event.customer_id is None:
            return
        if not (
            event.kind.startswith("kakao_") or (source is not None and source.channel.startswith("kakao"))
        ):
            return  # a follow of another messenger says nothing about the Kakao channel
        sender_key = event.data.get("sender_key")  # which Kakao channel the customer added
        if self._bridge is None or not sender_key:
            return
        for integration in self._bridge.integrations_for(BRAND_CHANNEL):
            if self.settings(integration).sender_key == sender_key:
                self.store.set_friend(integration.name, event.customer_id, friend, "event")

    def bill(self, integration: Integration, result: DeliveryResult) -> Charge | None:
        """K7: a delivered brand message costs ``price_pu`` (17 PU); a failed one nothing."""
        if result.meta.get("kind") == "brand_message":
            return Charge(self.settings(integration).price_pu, CATEGORY, "Kakao brand message (delivered)")
        return None

    # --- routes --------------------------------------------------------------------------

    def _integration(self, name: object) -> Integration:
        return integration_named(self._bridge, BRAND_CHANNEL, name, "Kakao brand message")

    async def _send(self, request: web.Request) -> web.Response:
        """Check every rule, then queue the brand message for the customer (the outbox,
        billing, their sent messages, their one brand chat); refused with a ``code``."""
        body = await json_object(request, SEND_BODY)
        integration = self._integration(body.get("integration"))
        settings = self.settings(integration)
        customer_id = int(body["customer_id"])
        text = marked_ad(str(body["text"]))
        self._checked(integration, settings, text, customer_id)
        image: dict[str, str] = {k: str(body[k]) for k in ("image_url", "image_link") if k in body}
        self._image(settings, {BRAND_META_KEY: image})
        assert self._bridge is not None  # _integration answered 503 otherwise
        # A customer without a phone number is refused here by the core (customer_unreachable).
        message_id = await self._bridge.send_to_customer(
            customer_id,
            integration.name,
            text,
            idempotency_key=str(body.get("idempotency_key") or uuid.uuid4().hex),
            meta={BRAND_META_KEY: image},
            manager_id=request_manager_id(request),
        )
        return json_response(
            {"message_id": message_id, "integration": integration.name, "text": text}, status=201
        )

    async def _put_friend(self, request: web.Request) -> web.Response:
        """A customer event: the customer added the channel as a friend, or blocked it."""
        body = await json_object(request, FRIEND_BODY)
        integration = self._integration(body.get("integration"))
        customer_id, friend = int(body["customer_id"]), bool(body["friend"])
        state = self.store.set_friend(integration.name, customer_id, friend, "event")
        return _friend_answer(integration, customer_id, state)

    async def _get_friend(self, request: web.Request) -> web.Response:
        integration = self._integration(request.query.get("integration"))
        try:
            customer_id = int(request.query["customer_id"])
        except (KeyError, ValueError):
            raise json_error(400, "give customer_id (a number)") from None
        return _friend_answer(integration, customer_id, self.store.friend(integration.name, customer_id))


def _friend_answer(integration: Integration, customer_id: int, state: FriendState | None) -> web.Response:
    return json_response(
        {
            "integration": integration.name,
            "customer_id": customer_id,
            "friend": state.friend if state else None,
            "source": state.source if state else None,
            "updated_at": state.updated_at if state else None,
        }
    )
