"""Kakao Alimtalk (알림톡) as a send-only channel in the Kakao slot of the inbox.

An Alimtalk is an outbound message on a ``kakao_alimtalk`` integration. A manager sends one in
one call, ``POST /api/v1/kakao_alimtalk/messages`` (customer, template, parameters): the plugin
checks the template and queues the message with ``BridgeAPI.send_to_customer``, the template
code and parameters in its meta, which ``bridgekit_deliver`` gets back as
``OutboundMessage.meta``. A reply typed in an Alimtalk chat (a manager's or a bot's) carries
text only; its template is found from the text. The core stores it, queues it in the outbox,
retries it, bills it through ``bridgekit_bill`` and lists it among the customer's sent
messages (I17). When Kakao cannot deliver it, the plugin texts the same words once through
``BridgeAPI.send_text`` (K6). See README.md for why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import bridgekit
from aiohttp import web
from bridgekit.channelkit import BackgroundTask, ProviderSession
from bridgekit.channelkit.routes import (
    integration_named,
    json_error,
    json_object,
    json_response,
    operator_only,
    request_manager_id,
)
from bridgekit.exceptions import (
    ConfigError,
    DeliveryError,
    PermanentDeliveryError,
    RequestRefused,
    SignatureError,
    TransientDeliveryError,
)
from bridgekit.flow import ChatStateEvent, ChatView, MessageEvent
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

from bridgekit_kakao import consult
from bridgekit_kakao.brand import BRAND_CHANNEL, BRAND_SPEC, BrandService
from bridgekit_kakao.consult import ConsultTalk
from bridgekit_kakao.consult_members import MemberRoutes
from bridgekit_kakao.links import LinkStore
from bridgekit_kakao.links_api import LinkRoutes
from bridgekit_kakao.nhn import AlimtalkClient, Refused
from bridgekit_kakao.sending import customer_send_body, note_request, settings_and_phone
from bridgekit_kakao.sending import korean_mobile as korean_mobile  # others import it from here
from bridgekit_kakao.settings import CHANNEL, AlimtalkSettings
from bridgekit_kakao.store import Store
from bridgekit_kakao.templates import AlimtalkRefused, Template, TemplateState, resolve

if TYPE_CHECKING:
    from aiohttp.web import AbstractRouteDef
    from bridgekit import BridgeAPI, DemoStandIn
    from bridgekit.flow import CustomerEventView

log = logging.getLogger(__name__)

CONTACT_KIND = "phone"
#: Kakao's limit on an Alimtalk's text.
MAX_TEXT = 1000
#: How ledger rows of Kakao sends are grouped on the invoice (K7: "social media").
CATEGORY = "social_media"

CHANNEL_SPEC = ChannelSpec(
    name=CHANNEL,
    title="Kakao Alimtalk",
    inbox_slot=InboxSlot.KAKAO,
    capabilities=Capabilities(
        reports_reads=False,  # I19: Kakao reports no reads; "sent" it stays
        max_attachments=0,
        supports_images=False,
        max_text_length=MAX_TEXT,
        start_chat_with=(CONTACT_KIND,),
    ),
    mark="kakao",
    contact_kind=CONTACT_KIND,
    max_body_bytes=1024,  # no provider posts to it: Alimtalk has no inbound webhook
)

RENDER_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["template_code"],
    "properties": {
        "integration": {"type": "string"},
        "template_code": {"type": "string"},
        "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
#: A template not (yet) approved is asked of NHN again at most this often per integration:
#: any manager may render or send, and made-up codes must not each cost an NHN call.
RENDER_SYNC_SECONDS = 10.0

SEND_BODY = customer_send_body(
    ("template_code",),
    {
        "template_code": {"type": "string", "minLength": 1},
        "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
    },
)
#: Where an Alimtalk's template and parameters travel in the message's meta.
META_KEY = "alimtalk"
SYNC_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"integration": {"type": "string"}},
}


class KakaoPlugin:
    """One instance serves every ``kakao_alimtalk`` integration."""

    def __init__(self) -> None:
        self._http = ProviderSession(timeout=30)
        self._bridge: BridgeAPI | None = None
        self._store: Store | None = None
        self._syncer = BackgroundTask()  # re-reads the templates from NHN
        self._render_synced: dict[str, float] = {}  # integration -> monotonic time of that sync
        self._links: LinkStore | None = None
        #: Linking and unlinking Kakao channels (K2, K4, K8): ``links_api``.
        self.link_routes = LinkRoutes(
            lambda: self._bridge, self._http, lambda: self.store, lambda: self.links
        )
        # The kakao_brand integrations (brand.py), refused by their link's state (K8).
        self.brand = BrandService(self._http, self.link_routes.sender_refusal)
        #: The consultation-talk channel (``kakao_consult``): its hooks are handed to it.
        self.consult = ConsultTalk(self._http)
        #: A consultation lead merged with the site's member record (K5): ``consult_members``.
        self.members = MemberRoutes(
            lambda: self._bridge, lambda: self.brand.store, lambda: self.consult.store
        )

    @property
    def store(self) -> Store:
        if self._store is None:  # without a running bridge (unit tests): in memory
            self._store = Store()
        return self._store

    @property
    def links(self) -> LinkStore:
        if self._links is None:
            self._links = LinkStore()
        return self._links

    @staticmethod
    def settings(integration: Integration) -> AlimtalkSettings:
        return AlimtalkSettings.from_integration(integration)

    # --- declaration and lifecycle -------------------------------------------------------

    @bridgekit.hookimpl
    def bridgekit_channels(self) -> Iterable[ChannelSpec]:
        return [CHANNEL_SPEC, BRAND_SPEC, consult.CHANNEL_SPEC]

    @bridgekit.hookimpl
    def bridgekit_check_integration(
        self, integration: Integration, plugin_settings: Mapping[str, Any]
    ) -> None:
        if integration.channel == CHANNEL:
            self.settings(integration)
        elif integration.channel == BRAND_CHANNEL:
            self.brand.settings(integration)
        elif integration.channel == consult.CHANNEL:
            self.consult.settings(integration)

    @bridgekit.hookimpl
    def bridgekit_startup(self, bridge: BridgeAPI) -> None:
        self._bridge = bridge
        self.brand.startup(bridge)
        self.consult.startup(bridge, bridge.data_dir)
        if self._store is None:
            self._store = Store(bridge.data_dir / "kakao" / "state.sqlite3")
        if self._links is None:
            self._links = LinkStore(bridge.data_dir / "kakao" / "links.sqlite3")
        # Sealed again with the first key at every start: after `bridgekit secrets rotate` with
        # BRIDGEKIT_SECRET_KEY, the old key (BRIDGEKIT_SECRET_KEY_OLD) is needed for one start only.
        self.links.reseal(lambda sealed: bridge.seal_secrets(bridge.open_secrets(sealed)))
        if bridge.integrations_for(CHANNEL):
            self._syncer.start_elected(bridge, lambda: self._sync_forever(bridge))

    @bridgekit.hookimpl
    async def bridgekit_shutdown(self, bridge: BridgeAPI) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._syncer.stop()
        await self._http.aclose()

    @bridgekit.hookimpl
    def bridgekit_routes(self, bridge: BridgeAPI) -> Iterable[AbstractRouteDef]:
        return [
            web.get("/api/v1/kakao_alimtalk/templates", self._list_templates),
            web.post("/api/v1/kakao_alimtalk/templates/sync", operator_only(self._sync_templates)),
            web.post("/api/v1/kakao_alimtalk/render", self._render),
            web.post("/api/v1/kakao_alimtalk/messages", operator_only(self._send)),
            *self.link_routes.routes(),
            *self.brand.routes(),
            *self.members.routes(),
        ]

    @bridgekit.hookimpl
    def bridgekit_customer_event(self, event: CustomerEventView) -> None:
        self.brand.customer_event(event)  # a Kakao channel's friend added / blocked

    @bridgekit.hookimpl
    def bridgekit_inbound_address(self, integration: Integration, base_url: str) -> str | None:
        if integration.channel == BRAND_CHANNEL:
            return "nothing to set up: brand messages only send (their results are asked from NHN)"
        if integration.channel == consult.CHANNEL:
            return self.consult.inbound_address(integration, base_url)
        if integration.channel != CHANNEL:
            return None
        return "nothing to set up: Alimtalk only sends (its results are asked from NHN)"

    @bridgekit.hookimpl
    async def bridgekit_ingest(self, integration: Integration, delivery: RawDelivery) -> IngestResult:
        if integration.channel == consult.CHANNEL:
            return await self.consult.ingest(integration, delivery)
        raise SignatureError("Kakao Alimtalk has no inbound webhook: nothing is accepted here")

    # --- templates -----------------------------------------------------------------------

    async def sync(self, integration: Integration) -> list[Template]:
        """Read the templates' review states from NHN; one NHN no longer lists is deleted."""
        client = AlimtalkClient(self.link_routes.sender_settings(integration), self._http.get())
        listed = await client.templates()
        self.store.replace_templates(integration.name, listed)
        return self.store.templates(integration.name)

    async def _sync_forever(self, bridge: BridgeAPI) -> None:
        while True:
            interval = 0.0
            for integration in bridge.integrations_for(CHANNEL):
                try:
                    seconds = self.settings(integration).template_sync_seconds
                    interval = min(interval, seconds) if interval else seconds
                    await self.sync(integration)
                except asyncio.CancelledError:
                    raise
                except (DeliveryError, Refused, ConfigError, RequestRefused) as exc:
                    log.warning("reading %s's Alimtalk templates from NHN failed: %s", integration.name, exc)
            if not interval:
                return
            await asyncio.sleep(interval)

    async def _template(self, integration: Integration, code: str) -> Template | None:
        """The template ``code``, read from NHN again unless it is known approved (it may have
        been approved, or added, since the last sync)."""
        template = self.store.template(integration.name, code)
        if template is None or template.state is not TemplateState.APPROVED:
            now = time.monotonic()
            if now - self._render_synced.get(integration.name, -RENDER_SYNC_SECONDS) >= RENDER_SYNC_SECONDS:
                self._render_synced[integration.name] = now
                with contextlib.suppress(DeliveryError, Refused):
                    await self.sync(integration)
                template = self.store.template(integration.name, code)
        return template

    async def _from_meta(self, integration: Integration, meta: object) -> tuple[Template, dict[str, str]]:
        """The template and parameters a send through ``POST …/messages`` carries in its meta,
        checked again at delivery (the template may have left the approved state since)."""
        if not isinstance(meta, Mapping):
            raise AlimtalkRefused("the message's Alimtalk meta is not an object")
        code, parameters = meta.get("template_code"), meta.get("parameters")
        if not isinstance(code, str) or not isinstance(parameters, Mapping):
            raise AlimtalkRefused("the message's Alimtalk meta needs template_code and parameters")
        template = await self._template(integration, code)
        if template is None:
            raise AlimtalkRefused(f"{integration.name} has no Alimtalk template {code!r}")
        values = {str(k): str(v) for k, v in parameters.items()}
        template.render(values)  # approved, every variable filled, no unknown one
        return template, values

    async def _resolve(self, integration: Integration, text: str) -> tuple[Template, dict[str, str]]:
        try:
            return resolve(self.store.templates(integration.name), text)
        except AlimtalkRefused:
            # A template approved (or added) since the last sync sends at once.
            try:
                fresh = await self.sync(integration)
            except Refused as exc:
                raise AlimtalkRefused(f"the templates could not be read from NHN: {exc}") from None
            return resolve(fresh, text)

    # --- deliver -------------------------------------------------------------------------

    @bridgekit.hookimpl
    async def bridgekit_deliver(self, integration: Integration, message: OutboundMessage) -> DeliveryResult:
        if integration.channel == BRAND_CHANNEL:
            return await self.brand.deliver(integration, message)
        if integration.channel == consult.CHANNEL:
            return await self.consult.deliver(integration, message)
        settings, phone = settings_and_phone(self.settings, integration, message)
        progress = dict(message.progress)
        if not progress and (unusable := self.link_routes.alimtalk_refusal(integration)) is not None:
            raise PermanentDeliveryError(str(unusable))  # K8: queued before the switch-off
        if isinstance(progress.get("fallback"), str):  # the Alimtalk failed; the text is due
            return await self._fallback(settings, message, progress, str(progress["fallback"]))
        try:
            client = AlimtalkClient(self.link_routes.sender_settings(integration), self._http.get())
        except RequestRefused as exc:
            raise PermanentDeliveryError(str(exc)) from None
        request_id, seq = progress.get("request_id"), progress.get("recipient_seq")
        if not isinstance(request_id, str) or not isinstance(seq, int):
            try:
                if META_KEY in message.meta:  # sent through POST /api/v1/kakao_alimtalk/messages
                    template, parameters = await self._from_meta(integration, message.meta[META_KEY])
                else:  # typed in an Alimtalk chat (a manager's or a bot's reply)
                    template, parameters = await self._resolve(integration, message.text)
            except AlimtalkRefused as exc:
                raise PermanentDeliveryError(str(exc)) from None
            maybe_sent = bool(progress.get("sending"))
            progress = {"sending": True, "template": template.code}
            await message.save_progress(progress)  # before the call: a retry knows it may have gone
            try:
                accepted = await client.send(
                    template.code, phone.national, parameters, message.idempotency_key
                )
            except Refused as exc:
                if maybe_sent:
                    raise PermanentDeliveryError(
                        f"{exc}; an earlier attempt may have sent this Alimtalk, so it is not sent "
                        "again and no fallback text goes out"
                    ) from None
                return await self._fallback(settings, message, progress, str(exc))
            if accepted.result_code != 0:
                reason = f"NHN did not take the Alimtalk: {accepted.result_message} ({accepted.result_code})"
                return await self._fallback(settings, message, progress, reason)
            request_id, seq = accepted.request_id, accepted.recipient_seq
            progress = await note_request(message, progress, request_id, seq)
        try:
            outcome = await client.outcome(request_id, seq)
        except Refused as exc:
            raise TransientDeliveryError(f"the Alimtalk's result could not be read: {exc}") from None
        if outcome.delivered:
            return DeliveryResult(
                provider_message_id=f"{request_id}/{seq}",
                meta={
                    "kind": "alimtalk",
                    "template": progress.get("template"),
                    "result_code": outcome.result_code,
                },
            )
        if outcome.final:
            reason = f"Kakao did not deliver the Alimtalk: {outcome.result_name} ({outcome.result_code})"
            return await self._fallback(settings, message, progress, reason)
        raise TransientDeliveryError(
            "NHN has not decided the Alimtalk's result yet", retry_after=settings.result_poll_seconds
        )

    async def _fallback(
        self, settings: AlimtalkSettings, message: OutboundMessage, progress: dict[str, Any], reason: str
    ) -> DeliveryResult:
        """K6: the same words as one SMS/LMS, exactly once: the key is the Alimtalk's own, and
        it is recorded before the text is asked for, so a retry asks with the same key."""
        if not settings.sms_fallback:
            raise PermanentDeliveryError(f"{reason}; no fallback text (sms_fallback is off)")
        if self._bridge is None:
            raise PermanentDeliveryError(f"{reason}; no fallback text (the plugin is not started)")
        if progress.get("fallback") != reason:
            progress = progress | {"fallback": reason}
            await message.save_progress(progress)
        try:
            text = await self._bridge.send_text(
                korean_mobile(message.recipient.value).e164,
                message.text,
                idempotency_key=fallback_key(message.idempotency_key),
                purpose="alimtalk_fallback",
                integration=settings.sms_integration or None,
            )
        except PermanentDeliveryError as exc:
            raise PermanentDeliveryError(
                f"{reason}; the fallback text was refused too: {exc.reason}"
            ) from None
        if not progress.get("noted"):
            # The message reads "sent" either way; the note tells managers what went out.
            log.info("Alimtalk %s fell back to a text: %s", message.idempotency_key, reason)
            await self._bridge.add_note(
                message.chat_id,
                f"{reason}. The same words went to the customer's phone as a text instead.",
                author_name="Kakao Alimtalk",
            )
            await message.save_progress(progress | {"noted": True})
        return DeliveryResult(
            provider_message_id=text.provider_message_id,
            meta={
                "kind": "sms_fallback",
                "template": progress.get("template"),
                "alimtalk_error": reason,
                "text": {k: v for k, v in text.meta.items() if k != "charge"},
                "charge": text.meta.get("charge"),
            },
        )

    @bridgekit.hookimpl
    def bridgekit_bill(
        self, integration: Integration, message: OutboundMessage, result: DeliveryResult
    ) -> Charge | None:
        if integration.channel == BRAND_CHANNEL:
            return self.brand.bill(integration, result)
        # A consultation's replies are free: it is billed per customer and day (K7,
        # ConsultTalk.message_received).
        kind = result.meta.get("kind")
        if kind == "alimtalk":
            return Charge(self.settings(integration).price_pu, CATEGORY, "Kakao Alimtalk (delivered)")
        charge = result.meta.get("charge")
        if kind == "sms_fallback" and isinstance(charge, Mapping):
            # The fallback text is billed as the text it is (K7: the Alimtalk failed, it is free).
            return Charge(
                int(charge["amount_pu"]),
                str(charge["category"]),
                f"{charge.get('description', 'text')}, in place of a failed Alimtalk",
            )
        return None

    @bridgekit.hookimpl
    def bridgekit_demo_providers(self) -> Iterable[DemoStandIn]:
        # Consultation talk, which a customer chats in through, and the two send-only
        # channels. Imported here, so serving never loads the sandboxes.
        from bridgekit_kakao.consult_demo import ConsultDemo
        from bridgekit_kakao.send_only_demo import AlimtalkDemo, BrandDemo

        return [ConsultDemo(), AlimtalkDemo(), BrandDemo()]

    # --- consultation talk: the session rule and the hooks after commit ------------------

    @bridgekit.hookimpl
    def bridgekit_check_reply(
        self, integration: Integration, chat: ChatView, reply_context: Mapping[str, Any]
    ) -> None:
        if integration.channel == consult.CHANNEL:
            self.consult.check_reply(integration, chat, reply_context)
        elif integration.channel == CHANNEL:
            # Alimtalk sends only Kakao-approved templates: a manager's free text is not one,
            # and guessing the template it might fill in sends what nobody chose (README,
            # "Sending").
            raise RequestRefused(
                "an Alimtalk chat takes only Kakao-approved templates: send one from the Alimtalk "
                "form in the customer panel (POST /api/v1/kakao_alimtalk/messages)",
                status=422,
                code="kakao_alimtalk_template_only",
            )

    @bridgekit.hookimpl
    async def bridgekit_message_received(self, event: MessageEvent) -> None:
        if event.integration is not None and event.integration.channel == consult.CHANNEL:
            await self.consult.message_received(event)

    @bridgekit.hookimpl
    async def bridgekit_chat_state_changed(self, event: ChatStateEvent) -> None:
        if event.integration is not None and event.integration.channel == consult.CHANNEL:
            await self.consult.chat_state_changed(event)

    # --- routes --------------------------------------------------------------------------

    def _integration(self, name: object) -> Integration:
        return integration_named(self._bridge, CHANNEL, name, "Kakao Alimtalk")

    async def _list_templates(self, request: web.Request) -> web.Response:
        integration = self._integration(request.query.get("integration"))
        usable = self.link_routes.alimtalk_refusal(integration) is None
        return _templates_answer(integration, self.store.templates(integration.name), usable)

    async def _sync_templates(self, request: web.Request) -> web.Response:
        body = await json_object(request, SYNC_BODY) if request.can_read_body else {}
        integration = self._integration(body.get("integration"))
        try:
            templates = await self.sync(integration)
        except (DeliveryError, Refused) as exc:
            raise json_error(502, f"the templates could not be read from NHN: {exc}") from None
        return _templates_answer(
            integration, templates, self.link_routes.alimtalk_refusal(integration) is None
        )

    async def _rendered(self, body: Mapping[str, Any]) -> tuple[Integration, Template, dict[str, str], str]:
        """The integration, template and parameters a request names, and the text they make;
        404 for an unknown template, 422 with the reason when it may not be sent."""
        integration = self._integration(body.get("integration"))
        if (unusable := self.link_routes.alimtalk_refusal(integration)) is not None:
            raise unusable  # K8: its Kakao channel was unlinked or has Alimtalk off
        code, parameters = body.get("template_code"), body.get("parameters", {})
        if not isinstance(code, str) or not isinstance(parameters, dict):
            raise json_error(400, "give 'template_code' (a string) and 'parameters' (an object)")
        if not all(isinstance(v, str) for v in parameters.values()):
            raise json_error(400, "every parameter's value must be a string")
        template = await self._template(integration, code)
        if template is None:
            raise json_error(404, f"{integration.name} has no Alimtalk template {code!r}")
        try:
            text = template.render(parameters)
        except AlimtalkRefused as exc:
            raise json_error(422, str(exc), code=exc.code, details=exc.details) from None
        return integration, template, parameters, text

    async def _render(self, request: web.Request) -> web.Response:
        integration, template, _, text = await self._rendered(await json_object(request, RENDER_BODY))
        return json_response({"integration": integration.name, "template_code": template.code, "text": text})

    async def _send(self, request: web.Request) -> web.Response:
        """One call: check the template and its variables, then queue the Alimtalk for the
        customer with the template and parameters in its meta (``BridgeAPI.send_to_customer``:
        the outbox, billing, the customer's sent messages; their one Alimtalk chat)."""
        body = await json_object(request, SEND_BODY)
        integration, template, parameters, text = await self._rendered(body)
        assert self._bridge is not None  # _integration answered 503 otherwise
        key = body.get("idempotency_key") or uuid.uuid4().hex
        # A customer without a phone number is refused here (the core's RequestRefused: 400);
        # one whose number is not a Korean mobile one fails at delivery, before NHN is called.
        message_id = await self._bridge.send_to_customer(
            int(body["customer_id"]),
            integration.name,
            text,
            idempotency_key=str(key),
            meta={META_KEY: {"template_code": template.code, "parameters": parameters}},
            manager_id=request_manager_id(request),
        )
        return json_response(
            {
                "message_id": message_id,
                "integration": integration.name,
                "template_code": template.code,
                "text": text,
            },
            status=201,
        )


def fallback_key(alimtalk_key: str) -> str:
    """The fallback text's idempotency key: derived from the Alimtalk's, so one per Alimtalk."""
    return f"alimtalk-fallback:{alimtalk_key}"


def _templates_answer(integration: Integration, templates: list[Template], usable: bool) -> web.Response:
    return json_response(
        {
            "integration": integration.name,
            "templates": [
                {
                    "code": t.code,
                    "name": t.name,
                    "content": t.content,
                    "state": t.state.value,
                    "variables": t.variables,
                    "sendable": usable and t.state is TemplateState.APPROVED,
                }
                for t in templates
            ],
        }
    )


plugin = KakaoPlugin()
"""The instance registered through the ``bridgekit`` entry point."""

__all__ = ["CHANNEL", "CHANNEL_SPEC", "KakaoPlugin", "plugin"]
