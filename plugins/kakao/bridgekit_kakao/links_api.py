"""Linking and unlinking Kakao channels, as an admin does it (K2, K4, K8), under
``/api/v1/kakao/``: every route needs the admin permission (403 ``permission`` otherwise).

| route | what |
|---|---|
| ``GET /api/v1/kakao/categories[?integration=]`` | the business categories a channel is linked with |
| ``GET /api/v1/kakao/links`` | every link with its state, services, defaults and history |
| ``POST /api/v1/kakao/links`` | start linking: NHN registers the sender, Kakao sends a code |
| ``POST /api/v1/kakao/links/{id}/token`` ``{"token"}`` | the code from the admin phone: linked |
| ``PATCH /api/v1/kakao/links/{id}`` | switch services on or off; move the defaults |
| ``DELETE /api/v1/kakao/links/{id}`` | delete the link (NHN deletes the sender and its templates) |

Refusals carry a ``code`` (``docs/api.md``); a provider refusal the seed explains carries its
explanation and fix (:func:`bridgekit_kakao.senders.explain`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import msgspec
from aiohttp import web
from bridgekit.channelkit.routes import (
    admin_only,
    integration_named,
    json_object,
    json_response,
    path_id,
    request_manager_id,
)
from bridgekit.exceptions import DeliveryError, RequestRefused, UnknownIntegration
from bridgekit.model import Integration

from bridgekit_kakao.links import (
    DEFAULTS,
    SERVICES,
    Link,
    LinkState,
    LinkStore,
    check_not_default,
    check_services,
    fingerprint,
    normal_search_id,
    refused,
)
from bridgekit_kakao.nhn import Refused
from bridgekit_kakao.senders import SenderClient, explain
from bridgekit_kakao.sending import korean_mobile
from bridgekit_kakao.settings import CHANNEL, AlimtalkSettings

if TYPE_CHECKING:
    from aiohttp.web import AbstractRouteDef
    from bridgekit import BridgeAPI
    from bridgekit.channelkit import ProviderSession

    from bridgekit_kakao.store import Store

log = logging.getLogger(__name__)

SERVICES_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {name: {"type": "boolean"} for name in SERVICES},
}
START_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["search_id", "category_code", "services", "admin_phone"],
    "properties": {
        "integration": {"type": "string"},
        "search_id": {"type": "string", "minLength": 1, "maxLength": 30},
        "category_code": {"type": "string", "pattern": "^[0-9]{11}$"},
        "services": SERVICES_SCHEMA,
        "admin_phone": {"type": "string", "minLength": 1, "maxLength": 20},
        "consultation_integration": {"type": "string"},
    },
}
TOKEN_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["token"],
    "properties": {"token": {"type": "string", "pattern": "^[0-9]{1,10}$"}},
}
CHANGE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "services": SERVICES_SCHEMA,
        "front_home": {"type": "boolean"},
        "follow_up": {"type": "boolean"},
    },
}
#: What each default needs on: the front home offers consultation talk; follow-ups are Alimtalks.
DEFAULT_NEEDS = {"front_home": "consultation", "follow_up": "alimtalk"}
AUTHOR = "Kakao"


class LinkRoutes:
    """The routes of linked Kakao channels (K2, K8) and the refusals that follow from them.

    ``bridge``: the running bridge, once started; ``templates``: the Alimtalk plugin's store
    (a channel's templates go with its sender); ``store``: the links' own."""

    def __init__(
        self,
        bridge: Callable[[], BridgeAPI | None],
        http: ProviderSession,
        templates: Callable[[], Store],
        store: Callable[[], LinkStore],
    ) -> None:
        self._bridge = bridge
        self._http = http
        self._templates = templates
        self._store = store

    @property
    def store(self) -> LinkStore:
        return self._store()

    def _integration(self, name: object) -> Integration:
        return integration_named(self._bridge(), CHANNEL, name, "Kakao Alimtalk")

    def routes(self) -> Iterable[AbstractRouteDef]:
        return [
            web.get("/api/v1/kakao/categories", admin_only(self._categories)),
            web.get("/api/v1/kakao/links", admin_only(self._list)),
            web.post("/api/v1/kakao/links", admin_only(self._start)),
            web.post("/api/v1/kakao/links/{link_id}/token", admin_only(self._token)),
            web.patch("/api/v1/kakao/links/{link_id}", admin_only(self._change)),
            web.delete("/api/v1/kakao/links/{link_id}", admin_only(self._delete)),
        ]

    # --- the sends' side: K8 --------------------------------------------------------------

    def _default_link(self, integration: Integration) -> Link | None:
        """The integration's linked channel for follow-up Alimtalk (K4), if one is."""
        return next(
            (
                link
                for link in self.store.links(with_deleted=False)
                if link.integration == integration.name and link.follow_up and link.state is LinkState.LINKED
            ),
            None,
        )

    def sender_settings(self, integration: Integration) -> AlimtalkSettings:
        """The integration's settings with the sender key its Alimtalks go out with: its own
        ``sender_key``, or else the default linked channel's (opened from its sealed secrets)."""
        settings = AlimtalkSettings.from_integration(integration)
        if settings.sender_key:
            return settings
        link = self._default_link(integration)
        bridge = self._bridge()
        if link is None or bridge is None or not link.sealed_secrets:
            raise no_linked_channel(integration)
        sender_key = bridge.open_secrets(link.sealed_secrets)["sender_key"]
        return msgspec.structs.replace(settings, sender_key=sender_key)

    def alimtalk_refusal(self, integration: Integration) -> RequestRefused | None:
        """Why the integration's sender (a linked Kakao channel's) may not send Alimtalk now:
        no channel is linked for it, or its link was deleted or has Alimtalk switched off (K8);
        None when it may."""
        sender_key = AlimtalkSettings.from_integration(integration).sender_key
        if not sender_key:  # the default linked channel's, which keeps Alimtalk on (K8)
            return None if self._default_link(integration) is not None else no_linked_channel(integration)
        return self.sender_refusal(sender_key, "alimtalk")

    def sender_refusal(self, sender_key: str, service: str) -> RequestRefused | None:
        """Why a send of ``service`` (``alimtalk``, ``brand``) from the Kakao channel with this
        sender key is refused (K8): its link was deleted, or has that service off; None when it
        may go (a sender key no link knows was configured by hand: not refused). For every
        sender of the plugin (Alimtalk now; brand messages and their campaigns too)."""
        link = self.store.latest_with_sender(fingerprint(sender_key))
        if link is None or (link.state is LinkState.LINKED and link.services[service]):
            return None
        if link.state is LinkState.DELETED:
            return refused(
                f"the Kakao channel {link.search_id} was unlinked: its Alimtalk templates cannot be "
                "used and nothing is sent from it; link it again (its templates then need Kakao's "
                "review again)",
                "kakao_link_deleted",
                422,
                search_id=link.search_id,
            )
        if service == "brand":
            return refused(
                f"brand messages are switched off for the Kakao channel {link.search_id}: none is "
                "sent from it until an admin switches them on again",
                "kakao_brand_off",
                422,
                search_id=link.search_id,
            )
        return refused(
            f"Alimtalk is switched off for the Kakao channel {link.search_id}: its templates cannot "
            "be used until an admin switches Alimtalk on again",
            "kakao_alimtalk_off",
            422,
            search_id=link.search_id,
        )

    # --- helpers ---------------------------------------------------------------------------

    def _client(self, integration: Integration) -> SenderClient:
        """Sender registration needs the app key and secret only, not a sender key."""
        return SenderClient(AlimtalkSettings.from_integration(integration), self._http.get())

    def _link(self, request: web.Request) -> Link:
        link_id = path_id(request, "link_id")
        if link_id is None:
            raise refused("a link id is a number", "kakao_link_not_found", 404)
        return self.store.link(link_id)

    async def _close_consultations(self, link: Link, why: str) -> list[int]:
        """K8: the channel's ongoing consultation chats end, each saying why."""
        bridge = self._bridge()
        if not link.consultation_integration or bridge is None:
            return []
        try:
            return await bridge.close_chats(
                link.consultation_integration,
                f"{why}: this Kakao consultation chat was ended. The customer's next message on "
                "KakaoTalk no longer reaches this inbox.",
                author_name=AUTHOR,
            )
        except UnknownIntegration:
            log.warning(
                "%s: consultation integration %r is not enabled",
                link.search_id,
                link.consultation_integration,
            )
            return []

    # --- routes ----------------------------------------------------------------------------

    async def _categories(self, request: web.Request) -> web.Response:
        integration = self._integration(request.query.get("integration"))
        try:
            found = await self._client(integration).categories()
        except Refused as exc:
            raise explain(exc) from None
        except DeliveryError as exc:
            raise refused(f"NHN could not be reached: {exc}", "kakao_provider_unreachable", 502) from None
        return json_response({"categories": [{"code": c.code, "name": c.name} for c in found]})

    async def _list(self, request: web.Request) -> web.Response:
        return json_response({"links": [link.answer() for link in self.store.links()]})

    async def _start(self, request: web.Request) -> web.Response:
        """K2: search ID, category, services, admin phone; NHN registers the sender and Kakao
        sends the verification code to the admin phone's KakaoTalk."""
        from bridgekit_kakao.templates import AlimtalkRefused

        body = await json_object(request, START_BODY)
        integration = self._integration(body.get("integration"))
        services = {name: bool(body["services"].get(name)) for name in SERVICES}
        check_services(services)
        try:
            phone = korean_mobile(str(body["admin_phone"])).national
        except AlimtalkRefused as exc:
            raise refused(f"admin_phone: {exc}", "kakao_admin_phone_invalid", 400) from None
        consultation_integration = str(body.get("consultation_integration", ""))
        client = self._client(integration)
        try:
            codes = {c.code for c in await client.categories()}
        except Refused as exc:
            raise explain(exc) from None
        except DeliveryError as exc:
            raise refused(f"NHN could not be reached: {exc}", "kakao_provider_unreachable", 502) from None
        category = str(body["category_code"])
        if category not in codes:
            raise refused(
                f"{category} is not one of Kakao's business categories (GET /api/v1/kakao/categories)",
                "kakao_unknown_category",
                400,
                category_code=category,
            )
        search_id = normal_search_id(str(body["search_id"]))
        link = self.store.start(
            integration=integration.name,
            search_id=search_id,
            category_code=category,
            admin_phone=phone,
            services=services,
            consultation_integration=consultation_integration,
            manager_id=request_manager_id(request),
        )
        try:
            await client.register(search_id, phone, category)
        except Refused as exc:
            self.store.drop_unverified(link.id)
            raise explain(exc) from None
        except DeliveryError as exc:
            self.store.drop_unverified(link.id)
            raise refused(f"NHN could not be reached: {exc}", "kakao_provider_unreachable", 502) from None
        return json_response(link.answer(), status=201)

    async def _token(self, request: web.Request) -> web.Response:
        """The code Kakao sent: the channel is linked; the first becomes the default (K4)."""
        link = self._link(request)
        body = await json_object(request, TOKEN_BODY)
        if link.state is not LinkState.WAITING_FOR_TOKEN:
            raise refused(
                f"the link of {link.search_id} is {link.state.value}, not waiting for token verification",
                "kakao_link_not_waiting",
                409,
            )
        integration = self._integration(link.integration)
        try:
            sender_key = await self._client(integration).verify(link.search_id, str(body["token"]))
        except Refused as exc:
            raise explain(exc) from None
        except DeliveryError as exc:
            raise refused(f"NHN could not be reached: {exc}", "kakao_provider_unreachable", 502) from None
        bridge = self._bridge()
        assert bridge is not None  # _integration answered 503 otherwise
        relinked = self.store.was_deleted(link.search_id)
        linked = self.store.verified(
            link.id,
            bridge.seal_secrets({"sender_key": sender_key}),
            fingerprint(sender_key),
            request_manager_id(request),
            relinked,
        )
        if relinked and sender_key == AlimtalkSettings.from_integration(integration).sender_key:
            # K8: NHN deleted the templates with the sender; they stay deleted and need review.
            self._templates().replace_templates(integration.name, [])
        return json_response(linked.answer())

    async def _change(self, request: web.Request) -> web.Response:
        link = self._link(request)
        body = await json_object(request, CHANGE_BODY)
        manager_id = request_manager_id(request)
        if link.state is not LinkState.LINKED:
            raise refused(f"the link of {link.search_id} is {link.state.value}", "kakao_link_not_linked", 409)
        services = link.services | {k: bool(v) for k, v in body.get("services", {}).items()}
        for role in DEFAULTS:
            if body.get(role) is True and not services[DEFAULT_NEEDS[role]]:
                raise refused(
                    f"{link.search_id} needs {DEFAULT_NEEDS[role]} on to be the default for {role}",
                    "kakao_default_needs_service",
                    409,
                    service=DEFAULT_NEEDS[role],
                )
        for role in DEFAULTS:  # defaults first: moving one away is what allows a switch-off
            if role in body and bool(body[role]) != getattr(link, role):
                link = self.store.make_default(link, role, bool(body[role]), manager_id)
        switched_off = [name for name in SERVICES if link.services[name] and not services[name]]
        if services != link.services:
            check_services(services)
            if switched_off:
                check_not_default(link, f"have {' and '.join(switched_off)} switched off")
            link = self.store.set_services(link, services, manager_id)
        if "consultation" in switched_off:
            await self._close_consultations(link, f"Consultation talk was switched off for {link.search_id}")
        return json_response(link.answer())

    async def _delete(self, request: web.Request) -> web.Response:
        link = self._link(request)
        if link.state is LinkState.DELETED:
            raise refused(f"the link of {link.search_id} is already deleted", "kakao_link_not_linked", 409)
        check_not_default(link, "be deleted")
        integration = self._integration(link.integration)
        if link.state is LinkState.LINKED and link.sealed_secrets:
            bridge = self._bridge()
            assert bridge is not None  # _integration answered 503 otherwise
            sender_key = bridge.open_secrets(link.sealed_secrets)["sender_key"]
            try:
                await self._client(integration).delete(sender_key)
            except Refused as exc:
                raise explain(exc) from None
            except DeliveryError as exc:
                raise refused(f"NHN could not be reached: {exc}", "kakao_provider_unreachable", 502) from None
            if sender_key == AlimtalkSettings.from_integration(integration).sender_key:
                self._templates().replace_templates(integration.name, [])  # gone with the sender
        deleted = self.store.deleted(link, request_manager_id(request))
        if link.services["consultation"]:
            await self._close_consultations(link, f"The Kakao channel {link.search_id} was unlinked")
        return json_response(deleted.answer())


def no_linked_channel(integration: Integration) -> RequestRefused:
    return refused(
        f"no Kakao channel is linked for Alimtalk on {integration.name}: an admin links one "
        "(POST /api/v1/kakao/links), or the integration names its sender_key",
        "kakao_no_linked_channel",
        422,
    )
