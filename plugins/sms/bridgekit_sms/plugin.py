"""The SMS channel: texts to and from customers' phones, in the phone/SMS slot of the inbox.

Korean numbers go through NHN Cloud SMS (SMS up to 90 CP949 bytes, else LMS up to 2,000),
other numbers — and Korean ones when NHN is not configured — through Twilio (GSM-7 or UCS-2
segments). The rules are in :mod:`bridgekit_sms.rules`, the wire formats in
:mod:`bridgekit_sms.providers` and :mod:`bridgekit_sms.inbound`, the plugin's own state
(opt-outs, night-time consents, sends) in :mod:`bridgekit_sms.store`. See README.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import bridgekit
from aiohttp import web
from bridgekit import DemoProvider
from bridgekit.channelkit import BackgroundTask, ProviderSession, bytes_in
from bridgekit.channelkit.routes import json_object, json_response, operator_only
from bridgekit.exceptions import ConfigError, MalformedDelivery, PermanentDeliveryError, SignatureError
from bridgekit.model import (
    Capabilities,
    ChannelSpec,
    Charge,
    Contact,
    CustomerEvent,
    DeliveryResult,
    DeliveryStatus,
    InboundMessage,
    InboxSlot,
    IngestResult,
    Integration,
    OutboundMessage,
    RawDelivery,
    StatusUpdate,
)

from bridgekit_sms import inbound, rules
from bridgekit_sms.providers import (
    Accepted,
    NhnProvider,
    OptedOutAtProvider,
    Outgoing,
    Provider,
    TwilioProvider,
)
from bridgekit_sms.settings import SmsSettings
from bridgekit_sms.store import Send, Store

if TYPE_CHECKING:
    from aiohttp.web import AbstractRouteDef
    from bridgekit import BridgeAPI

log = logging.getLogger(__name__)

CHANNEL = "sms"
CONTACT_KIND = "phone"

CHANNEL_SPEC = ChannelSpec(
    name=CHANNEL,
    title="SMS",
    inbox_slot=InboxSlot.PHONE,
    capabilities=Capabilities(
        reports_reads=False,
        max_attachments=0,
        supports_images=False,
        # One LMS at most; the core refuses longer replies before storing them. Characters
        # outside CP949 count 1 here and are refused by the plugin for Korean numbers.
        text_unit=bytes_in(rules.KOREAN_CHARSET),
        max_text_length=rules.LMS_MAX_BYTES,
        max_text_bytes=rules.LMS_MAX_BYTES,
        start_chat_with=(CONTACT_KIND,),
    ),
    closed_chat_policy="reopen",
    mark="☎",
    contact_kind=CONTACT_KIND,
    max_body_bytes=64 * 1024,
    stored_headers=frozenset({inbound.TWILIO_SIGNATURE, inbound.REPORT_SIGNATURE}),
)

NIGHT_CONSENT_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["phone"],
    "properties": {"phone": {"type": "string"}, "consent": {"type": "boolean"}},
}


P = TypeVar("P", NhnProvider, TwilioProvider)


class SmsPlugin:
    """One instance serves every ``sms`` integration."""

    def __init__(self) -> None:
        self._http = ProviderSession(timeout=30)
        self._defaults: Mapping[str, Any] | None = None
        self._bridge: BridgeAPI | None = None
        self._store: Store | None = None
        self._providers: dict[tuple[int, type], tuple[SmsSettings, Any]] = {}
        self._poller = BackgroundTask()  # polls NHN for delivery results
        #: What "now" is, for the night-time rule (tests set a fixed moment).
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # --- state ---------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:  # without a running bridge (unit tests): in memory
            self._store = Store()
        return self._store

    def settings(self, integration: Integration) -> SmsSettings:
        return SmsSettings.from_integration(integration, self._defaults)

    # --- declaration and lifecycle -------------------------------------------------------

    @bridgekit.hookimpl
    def bridgekit_channels(self) -> Iterable[ChannelSpec]:
        return [CHANNEL_SPEC]

    @bridgekit.hookimpl
    def bridgekit_check_integration(
        self, integration: Integration, plugin_settings: Mapping[str, Any]
    ) -> None:
        self._defaults = dict(plugin_settings) or None
        self.settings(integration)

    @bridgekit.hookimpl
    def bridgekit_startup(self, bridge: BridgeAPI) -> None:
        self._bridge = bridge
        if self._store is None:
            self._store = Store(bridge.data_dir / "sms" / "state.sqlite3")
        self._poller.start_elected(bridge, lambda: self._poll_forever(bridge))

    @bridgekit.hookimpl
    async def bridgekit_shutdown(self, bridge: BridgeAPI) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._poller.stop()
        await self._http.aclose()

    @bridgekit.hookimpl
    def bridgekit_demo_providers(self) -> Iterable[DemoProvider]:
        from bridgekit_sms.demo import SmsDemo

        return [SmsDemo()]

    @bridgekit.hookimpl
    def bridgekit_routes(self, bridge: BridgeAPI) -> Iterable[AbstractRouteDef]:
        return [
            # Consent lets ads reach the customer's phone at night: the operator seat's call.
            web.post("/api/sms/night-consents", operator_only(self._night_consent)),
            web.get("/api/sms/messages/{message_id}", self._message_sends),
        ]

    @bridgekit.hookimpl
    def bridgekit_inbound_address(self, integration: Integration, base_url: str) -> str | None:
        """Twilio's and NHN's webhooks go to the default hook URL; NHN MO forwarding adds the
        token."""
        try:
            token = self.settings(integration).nhn_inbound_token
        except ConfigError:
            return None
        url = f"{base_url}/hooks/{integration.name}"
        return f"POST {url} (Twilio, NHN webhooks); NHN MO: POST {url}?token={token}" if token else None

    # --- deliver -------------------------------------------------------------------------

    def _provider(self, settings: SmsSettings, to: rules.Phone) -> Provider:
        if to.korean and settings.nhn:
            return self._provider_of(settings, NhnProvider)
        if settings.twilio:
            return self._provider_of(settings, TwilioProvider)
        raise rules.TextRefused(f"no provider sends to {to.e164}: NHN Cloud SMS reaches Korean numbers only")

    def _provider_of(self, settings: SmsSettings, kind: type[P]) -> P:
        """One provider of ``kind`` per settings (they are kept per integration and never
        change: a changed integration gets new ones), not one a text."""
        key = (id(settings), kind)
        kept = self._providers.get(key)
        if kept is not None and kept[0] is settings:
            found: P = kept[1]
            return found
        made = kind(settings)
        if len(self._providers) >= 64:
            self._providers.clear()
        self._providers[key] = (settings, made)
        return made

    def _callback_url(self, integration: Integration, settings: SmsSettings) -> str | None:
        base = settings.twilio_webhook_url or (
            f"{self._bridge.public_url}/hooks/{integration.name}"
            if self._bridge and self._bridge.public_url
            else ""
        )
        return f"{base}?event=status" if base else None

    def prepare(
        self,
        integration: Integration,
        settings: SmsSettings,
        to_value: str,
        text: str,
        subject: str | None,
        key: str,
        *,
        send_key: str | None = None,
    ) -> tuple[Provider, Outgoing, rules.Segments | None, Send | None]:
        """Everything decided before the provider is called; :class:`rules.TextRefused` when
        the text may not go out. With ``send_key``, also the send an earlier attempt recorded
        under it (read with the opt-out, in one statement)."""
        to = rules.phone(to_value, settings.default_region)
        if send_key is None:
            opted, earlier = self.store.opted_out(to.e164), None
        else:
            opted, earlier = self.store.before_send(to.e164, send_key)
        if opted is not None:
            raise rules.TextRefused(
                f"{to.e164} opted out of texts (replied {opted[0]!r} on {opted[1][:10]}): "
                "texts to it are refused"
            )
        provider = self._provider(settings, to)
        sender = settings.sender(provider.name)
        ad = rules.is_ad(text)
        if ad:
            text = rules.ad_text(text, settings.ad_sender_name, settings.ad_opt_out_number)
            if rules.at_night(self.clock()) and not self.store.night_consent(to.e164):
                raise rules.TextRefused(
                    "advertising texts may not be sent between 21:00 and 08:00 KST without the "
                    f"customer's night-time consent, which {to.e164} has not given"
                )
        if isinstance(provider, NhnProvider):
            korean = rules.korean_text(text, subject)
            out = Outgoing(to, sender, text, korean.subject, korean.kind, ad, key)
            return provider, out, None, earlier
        if len(text) > rules.INTERNATIONAL_MAX_CHARS:
            raise rules.TextRefused(
                f"the text is {len(text)} characters; an international SMS holds at most "
                f"{rules.INTERNATIONAL_MAX_CHARS}: shorten it (it is never cut)"
            )
        segments = rules.segments(text)
        out = Outgoing(to, sender, text, None, "INTL", ad, key, self._callback_url(integration, settings))
        return provider, out, segments, earlier

    @bridgekit.hookimpl
    async def bridgekit_deliver(self, integration: Integration, message: OutboundMessage) -> DeliveryResult:
        key = f"{integration.name}:{message.idempotency_key}"
        try:
            settings = self.settings(integration)
            provider, out, segs, earlier = self.prepare(
                integration,
                settings,
                message.recipient.value,
                message.text,
                message.title,
                message.idempotency_key,
                send_key=key,
            )
        except ConfigError as exc:
            raise PermanentDeliveryError(str(exc)) from None
        except rules.TextRefused as exc:
            raise PermanentDeliveryError(str(exc)) from None
        if earlier is not None:  # accepted by an earlier attempt whose success was not recorded
            accepted = Accepted(earlier.provider_id, "", earlier.segments)
        else:
            try:
                accepted = await provider.send(self._http.get(), out)
            except OptedOutAtProvider:
                self.store.opt_out(out.to.e164, "STOP (reported by Twilio)")
                raise
        meta = self._meta(provider, out, segs)
        if earlier is None:
            send = Send(
                accepted.provider_id, integration.name, message.message_id, provider.name, out.kind,
                str(meta["encoding"]), int(meta["segments"]), "sent", None,
            )  # fmt: skip
            await self.store.record_send(send, key)
        return DeliveryResult(
            provider_message_id=accepted.provider_id,
            status=DeliveryStatus.SENT,
            thread_key=out.to.e164,  # the customer's answer threads into this chat
            meta=meta,
        )

    @bridgekit.hookimpl
    async def bridgekit_send_text(
        self, phone: str, text: str, idempotency_key: str, purpose: str, integration: str | None
    ) -> DeliveryResult | None:
        """A text outside any chat (a follow-up, Alimtalk's fallback): the same rules as a
        chat message; sent once per ``idempotency_key``; its price in ``meta["charge"]``."""
        if self._bridge is None:
            return None
        chosen = [i for i in self._bridge.integrations_for(CHANNEL) if integration in (None, i.name)]
        if not chosen:
            return None
        target = chosen[0]
        key = f"{target.name}:{idempotency_key}"
        done = self.store.text_result(key)
        if done is not None:
            return DeliveryResult(
                provider_message_id=str(done["id"]), thread_key=done.get("to"), meta=done["meta"]
            )
        try:
            settings = self.settings(target)
            provider, out, segs, _ = self.prepare(target, settings, phone, text, None, idempotency_key)
        except (ConfigError, rules.TextRefused) as exc:
            raise PermanentDeliveryError(str(exc)) from None
        try:
            accepted = await provider.send(self._http.get(), out)
        except OptedOutAtProvider:
            self.store.opt_out(out.to.e164, "STOP (reported by Twilio)")
            raise
        meta = self._meta(provider, out, segs) | {"purpose": purpose}
        result = DeliveryResult(provider_message_id=accepted.provider_id, thread_key=out.to.e164, meta=meta)
        charge = self.bridgekit_bill(target, _NO_MESSAGE, result)
        meta["charge"] = {
            "amount_pu": charge.amount_pu,
            "category": charge.category,
            "description": charge.description,
        }
        await self.store.record_send(
            Send(accepted.provider_id, target.name, 0, provider.name, out.kind,
                 str(meta["encoding"]), int(meta["segments"]), "sent", None)
        )  # fmt: skip
        self.store.record_text(key, {"id": accepted.provider_id, "to": out.to.e164, "meta": meta})
        return DeliveryResult(provider_message_id=accepted.provider_id, thread_key=out.to.e164, meta=meta)

    @staticmethod
    def _meta(provider: Provider, out: Outgoing, segs: rules.Segments | None) -> dict[str, Any]:
        if segs is None:
            return {
                "provider": provider.name,
                "kind": out.kind,
                "encoding": "EUC-KR",
                "segments": 1,
                "ad": out.ad,
            }
        return {
            "provider": provider.name,
            "kind": out.kind,
            "encoding": segs.encoding,
            "segments": segs.count,
            "ad": out.ad,
        }

    @bridgekit.hookimpl
    def bridgekit_bill(
        self, integration: Integration, message: OutboundMessage, result: DeliveryResult
    ) -> Charge:
        settings = self.settings(integration)
        kind = result.meta.get("kind")
        if kind == "SMS":
            return Charge(settings.sms_price_pu, "sms", "SMS (up to 90 bytes)")
        if kind == "LMS":
            return Charge(settings.lms_price_pu, "lms", "LMS (up to 2,000 bytes)")
        count = int(result.meta.get("segments", 1))
        encoding = result.meta.get("encoding", "GSM-7")
        return Charge(
            count * settings.international_segment_price_pu,
            "sms_international",
            f"international SMS, {count} segment{'s' if count != 1 else ''} ({encoding})",
        )

    # --- ingest --------------------------------------------------------------------------

    @bridgekit.hookimpl
    def bridgekit_ingest(self, integration: Integration, delivery: RawDelivery) -> IngestResult:
        try:
            settings = self.settings(integration)
        except ConfigError as exc:
            raise SignatureError(str(exc)) from None
        headers = delivery.headers
        if inbound.TWILIO_SIGNATURE in headers:
            return self._twilio(integration, settings, delivery)
        if inbound.NHN_WEBHOOK_SIGNATURE in headers:
            if not settings.nhn_webhook_signature or not _equal(
                headers[inbound.NHN_WEBHOOK_SIGNATURE], settings.nhn_webhook_signature
            ):
                raise SignatureError("X-Toast-Webhook-Signature does not match nhn_webhook_signature")
            return self._nhn_webhook(settings, delivery)
        if inbound.REPORT_SIGNATURE in headers:
            if not settings.nhn:
                raise SignatureError("a result report for an integration without NHN Cloud")
            key = inbound.report_key(settings.nhn_secret_key)
            if not _equal(headers[inbound.REPORT_SIGNATURE], inbound.sign_report(key, delivery.body)):
                raise SignatureError("the result report's signature does not match")
            return IngestResult(status_updates=inbound.parse_report(delivery.body))
        token = delivery.query.get("token", "")
        if settings.nhn_inbound_token and token:
            if not _equal(token, settings.nhn_inbound_token):
                raise SignatureError("NHN MO callback: the token does not match")
            return self._nhn_mo(settings, delivery)
        raise SignatureError("unsigned: neither X-Twilio-Signature nor the NHN callback token")

    def _twilio(self, integration: Integration, settings: SmsSettings, delivery: RawDelivery) -> IngestResult:
        if not settings.twilio:
            raise SignatureError("a Twilio webhook for an integration without Twilio")
        url = settings.twilio_webhook_url
        if not url:
            if self._bridge is None or not self._bridge.public_url:
                raise SignatureError(
                    "cannot check X-Twilio-Signature: set [server] public_url or twilio_webhook_url"
                )
            url = f"{self._bridge.public_url}{delivery.path}"
        params = inbound.verify_twilio(
            settings.twilio_auth_token,
            url,
            delivery.query,
            delivery.body,
            delivery.headers[inbound.TWILIO_SIGNATURE],
        )
        fields = dict(params)
        # Status callbacks come to the StatusCallback we set (?event=status) and carry no Body.
        if delivery.query.get("event") == "status" or ("MessageStatus" in fields and "Body" not in fields):
            update = inbound.twilio_status(fields)
            if update is not None:
                self.store.update_send(update.provider_message_id, update.status.value, update.reason)
            return IngestResult(status_updates=[update] if update else [])
        sid, sender, text = (
            fields.get("MessageSid") or fields.get("SmsSid"),
            fields.get("From"),
            fields.get("Body"),
        )
        if not sid or not sender or text is None:
            raise MalformedDelivery("Twilio webhook without MessageSid, From or Body")
        return self._customer_text(
            settings, sid, sender, text, {"provider": "twilio", "to": fields.get("To")}
        )

    def _nhn_webhook(self, settings: SmsSettings, delivery: RawDelivery) -> IngestResult:
        event, hooks = inbound.nhn_webhook(delivery.body)
        updates: list[StatusUpdate] = []
        if event == "MESSAGE_RESULT_UPDATE":
            for hook in hooks:
                update = inbound.nhn_result_update(hook)
                if update is not None:
                    self.store.update_send(update.provider_message_id, update.status.value, update.reason)
                    updates.append(update)
        elif event == "UNSUBSCRIBE":  # the customer called the 080 opt-out number
            for hook in hooks:
                try:
                    number = rules.phone(str(hook.get("recipientNo", "")), settings.default_region)
                except rules.TextRefused:
                    continue
                self.store.opt_out(number.e164, f"080 {hook.get('unsubscribeNo', '')}".strip())
        return IngestResult(status_updates=updates)

    def _nhn_mo(self, settings: SmsSettings, delivery: RawDelivery) -> IngestResult:
        """A customer's text to a Korean number, forwarded by NHN Cloud.

        ASSUMED FORMAT. NHN Cloud documents no MO (inbound text) callback: neither the SMS API
        v3.0 guide (https://docs.nhncloud.com/ko/Notification/SMS/ko/api-guide/) nor the
        webhook guide (https://docs.nhncloud.com/ko/Notification/SMS/ko/webhook/, events
        UNSUBSCRIBE, MESSAGE_RESULT_UPDATE, CONVERSION_BLOCK, INTERNATIONAL_DELIVERY_RECEIPT)
        defines one, nor does any earlier version of them (TOAST-DOCS/SMS, whole history). We
        accept JSON ``{"moKey", "sender", "receiver", "message"}`` or ``{"moList": [...]}`` of
        those, authenticated by ``?token=<nhn_inbound_token>``: check it against the MO
        forwarding NHN sets up for you before relying on it (plugins/sms/README.md).
        """
        try:
            data = json.loads(delivery.body)
        except ValueError:
            raise MalformedDelivery("NHN MO callback: not JSON") from None
        items = data.get("moList", [data]) if isinstance(data, dict) else []
        messages: list[InboundMessage] = []
        events: list[CustomerEvent] = []
        for item in items:
            if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) for k in ("moKey", "sender", "message")
            ):
                raise MalformedDelivery("NHN MO callback: expected moKey, sender and message strings")
            result = self._customer_text(
                settings,
                item["moKey"],
                item["sender"],
                item["message"],
                {"provider": "nhn", "to": item.get("receiver")},
            )
            messages.extend(result.messages)
            events.extend(e for e in result.events if isinstance(e, CustomerEvent))
        return IngestResult(messages=messages, events=events)

    def _customer_text(
        self, settings: SmsSettings, event_id: str, sender: str, text: str, meta: dict[str, Any]
    ) -> IngestResult:
        try:
            number = rules.phone(sender, settings.default_region).e164
        except rules.TextRefused:
            number = sender  # a short code or an alphanumeric sender: kept as the provider gave it
        contact = Contact(CONTACT_KIND, number, verified=True, shared=True)
        word = rules.keyword(text)
        events: list[CustomerEvent] = []
        notices: list[str] = []
        if word in rules.OPT_OUT_KEYWORDS:
            self.store.opt_out(number, word)
            notices.append(f"The customer texted {word!r}: texts to {number} are refused from now on")
            events.append(
                CustomerEvent(f"{event_id}:opt_out", contact, number, "sms_opt_out", {"keyword": word})
            )
        elif word in rules.OPT_IN_KEYWORDS and self.store.opted_out(number):
            self.store.opt_in(number)
            notices.append(f"The customer texted {word!r}: texts to {number} are allowed again")
            events.append(
                CustomerEvent(f"{event_id}:opt_in", contact, number, "sms_opt_in", {"keyword": word})
            )
        if notices:
            meta = {**meta, "notices": notices}
        message = InboundMessage(
            event_id=event_id,
            sender=contact,
            thread_key=number,
            text=text,
            meta=meta,
            provider_message_id=event_id,
        )
        return IngestResult(messages=[message], events=events)

    # --- NHN result polling --------------------------------------------------------------

    async def _poll_forever(self, bridge: BridgeAPI) -> None:
        while True:
            interval = 10.0
            for integration in bridge.integrations_for(CHANNEL):
                try:
                    settings = self.settings(integration)
                    if settings.nhn:
                        interval = min(interval, settings.nhn_poll_seconds)
                        await self.poll_once(bridge, integration, settings)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning(
                        "polling NHN Cloud SMS results for %s failed", integration.name, exc_info=True
                    )
            await asyncio.sleep(interval)

    async def poll_once(self, bridge: BridgeAPI, integration: Integration, settings: SmsSettings) -> int:
        """Look up every NHN send still "sent"; hand final results to the bridge as a signed
        report (a delivery of this integration). Returns how many were final."""
        provider = NhnProvider(settings)
        reports = []
        for send in self.store.pending("nhn", integration.name):
            record = await provider.result(self._http.get(), send.provider_id, send.kind)
            if record is None:
                continue
            update = inbound.nhn_update(send.provider_id, record)
            if update is not None:
                reports.append({"id": send.provider_id, "data": record})
        if not reports:
            return 0
        body = json.dumps({"reports": reports}, ensure_ascii=False).encode()
        signature = inbound.sign_report(inbound.report_key(settings.nhn_secret_key), body)
        outcome = await bridge.submit(
            RawDelivery(
                integration=integration.name,
                method="POST",
                path=f"/hooks/{integration.name}",
                headers={"content-type": "application/json", inbound.REPORT_SIGNATURE: signature},
                query={},
                body=body,
            )
        )
        if outcome.status in ("accepted", "duplicate"):
            for update in inbound.parse_report(body):
                self.store.update_send(update.provider_message_id, update.status.value, update.reason)
        return len(reports)

    # --- routes --------------------------------------------------------------------------

    async def _night_consent(self, request: web.Request) -> web.Response:
        body = await json_object(request, NIGHT_CONSENT_BODY)
        phone, consent = body.get("phone"), body.get("consent", True)
        if not isinstance(phone, str) or not isinstance(consent, bool):
            return json_response(
                {"error": "give 'phone' (a string) and optionally 'consent' (true or false)"}, status=400
            )
        try:
            number = rules.phone(phone)
        except rules.TextRefused as exc:
            return json_response({"error": str(exc)}, status=400)
        self.store.set_night_consent(number.e164, consent)
        return json_response({"phone": number.e164, "night_consent": consent})

    async def _message_sends(self, request: web.Request) -> web.Response:
        raw = request.match_info["message_id"]
        if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 2**63:
            return json_response({"error": "message_id must be a message's id"}, status=404)
        message_id = int(raw)
        sends = [
            {
                "provider": s.provider,
                "provider_message_id": s.provider_id,
                "kind": s.kind,
                "encoding": s.encoding,
                "segments": s.segments,
                "status": s.status,
                "reason": s.reason,
            }
            for s in self.store.sends_of(message_id)
        ]
        return json_response({"message_id": message_id, "sends": sends})


#: ``bridgekit_bill`` prices by the result alone; texts outside chats have no message.
_NO_MESSAGE = OutboundMessage(0, 0, "", Contact(CONTACT_KIND, ""), "", "")


def _equal(given: str, expected: str) -> bool:
    import hmac

    return hmac.compare_digest(given.encode(), expected.encode())


plugin = SmsPlugin()
"""The instance registered through the ``bridgekit`` entry point."""

__all__ = ["CHANNEL", "CHANNEL_SPEC", "SmsPlugin", "StatusUpdate", "plugin"]
