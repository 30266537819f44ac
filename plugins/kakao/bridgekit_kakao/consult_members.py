"""A consultation-talk lead meets the site's member record (K5).

A KakaoTalk user who chats through consultation talk is known only by Kakao's ``user_key``,
so bridgekit keeps them as a lead. The seed's flow: the customer signs in on the site, opens
the site's messenger and signs in with Kakao there; the site then knows "member M is Kakao
user K" and tells bridgekit:

``POST /api/v1/kakao_consult/members`` ``{"member_id": "M", "user_key": "K",
"integration"?, "name"?}`` (operator seat, like every call that changes who a customer is).

A site's member is the customer holding the verified shared handle ``member`` = M (created
here, as a member, when there is none yet). bridgekit then merges the lead holding the Kakao
handle into the member's customer with the core's one merge (``BridgeAPI.merge_customers``):
chats, messages, contacts, customer events and profile fields follow; when no lead exists
(the member never chatted), the member's customer is given the Kakao handle, so the first
consultation message lands on it; when the lead is the only record, it becomes the member.
Answer ``200`` ``{"customer_id", "merged_customer_id"}`` (``null`` when nothing was merged).
Calling it again changes nothing. What the plugin keeps by customer id follows too: the brand
integrations' friendships, and the consultation windows already billed (K7: the member is not
charged again in a window the lead paid).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from bridgekit.bridge_api import BridgeAPI
from bridgekit.channelkit.routes import (
    integration_named,
    json_error,
    json_object,
    json_response,
    operator_only,
)
from bridgekit.model import Integration

from bridgekit_kakao.consult import CHANNEL, CONTACT_KIND

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp.web import AbstractRouteDef

    from bridgekit_kakao.brand_store import BrandStore
    from bridgekit_kakao.consult_store import SessionStore

#: The site's member id, a shared handle (scope 0): the same person on every channel.
MEMBER_KIND = "member"
ROUTE = f"/api/v1/{CHANNEL}/members"
MAX_ID_LENGTH = 200
BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["member_id", "user_key"],
    "properties": {
        "integration": {"type": "string"},
        "member_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
        "user_key": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
        "name": {"type": "string", "maxLength": 300},
    },
}


class MemberRoutes:
    """The route above; ``bridge`` and the brand store are read when a request comes."""

    def __init__(
        self,
        bridge: Callable[[], BridgeAPI | None],
        brand_store: Callable[[], BrandStore],
        consult_store: Callable[[], SessionStore],
    ) -> None:
        self._bridge = bridge
        self._brand_store = brand_store
        self._consult_store = consult_store

    def routes(self) -> list[AbstractRouteDef]:
        return [web.post(ROUTE, operator_only(self._member_signed_in))]

    def _integration(self, bridge: BridgeAPI, name: object) -> Integration:
        return integration_named(bridge, CHANNEL, name, "Kakao consultation-talk")

    async def _member_signed_in(self, request: web.Request) -> web.Response:
        bridge = self._bridge()
        if bridge is None:
            raise json_error(503, "the Kakao plugin is not started")
        body = await json_object(request, BODY)
        integration = self._integration(bridge, body.get("integration"))
        member_id, user_key = _handle(body, "member_id"), _handle(body, "user_key")
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 300 or not name.isprintable()):
            raise json_error(400, "name must be a string of at most 300 characters")
        name = (name or "").strip() or None
        merged = await merge_lead_into_member(bridge, integration.name, member_id, user_key, name=name)
        if merged.merged_id is not None:
            self._brand_store().move_customer(merged.merged_id, merged.customer_id)
            self._consult_store().move_customer(merged.merged_id, merged.customer_id)
        return json_response({"customer_id": merged.customer_id, "merged_customer_id": merged.merged_id})


def _handle(body: dict[str, object], key: str) -> str:
    """A member id or Kakao user key: 1 to 200 printable characters without spaces."""
    value = body.get(key)
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= MAX_ID_LENGTH
        or not value.isprintable()
        or any(c.isspace() for c in value)
    ):
        raise json_error(400, f"{key} must be 1 to {MAX_ID_LENGTH} characters without spaces")
    return value


class Merged:
    """Where the member ended up, and the lead merged into it (None: nothing merged)."""

    __slots__ = ("customer_id", "merged_id")

    def __init__(self, customer_id: int, merged_id: int | None) -> None:
        self.customer_id = customer_id
        self.merged_id = merged_id


async def merge_lead_into_member(
    bridge: BridgeAPI, integration: str, member_id: str, user_key: str, *, name: str | None = None
) -> Merged:
    """Member ``member_id`` signed in with Kakao ``user_key`` on ``integration`` (module
    docstring)."""
    lead = await bridge.customer_for_handle(CONTACT_KIND, user_key, integration=integration)
    member = await bridge.customer_for_handle(MEMBER_KIND, member_id)
    if member is None:  # the lead (or a new customer) becomes the member
        member = await bridge.add_handle(MEMBER_KIND, member_id, customer_id=lead, name=name, member=True)
    if lead is None:
        owner = await bridge.add_handle(CONTACT_KIND, user_key, customer_id=member, integration=integration)
        if owner == member:
            return Merged(member, None)
        lead = owner  # a consultation message came in meanwhile: its lead is merged below
    if lead == member:
        return Merged(member, None)
    await bridge.merge_customers(member, lead)
    return Merged(member, lead)
