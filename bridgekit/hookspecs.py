"""The bridgekit hook contract.

A plugin is any object or module with functions decorated ``@bridgekit.hookimpl`` whose
names match the specifications below. It is installed as a distribution that registers it
in the ``bridgekit`` entry-point group::

    [project.entry-points.bridgekit]
    line = "bridgekit_line.plugin"

Every hook may be implemented as a plain function or as ``async def``; the core awaits
coroutines (pluggy itself is synchronous, see ``bridgekit.plugins.HookCaller``).

There are three families:

Channel hooks (``bridgekit_ingest``, ``bridgekit_identify_customer``, ``bridgekit_deliver``,
``bridgekit_bill``, ``bridgekit_check_reply``, ``bridgekit_check_integration``)
    Called only on the plugin that declared the integration's channel in
    ``bridgekit_channels``. A plugin never has to check whether a call is meant for it.

Flow hooks (``bridgekit_message_received``, ``bridgekit_message_sent``,
``bridgekit_chat_state_changed``, ``bridgekit_customer_event``)
    Called on every plugin, in pluggy's call order, for bots. They run after the triggering
    change was committed; actions they record are applied atomically afterwards.

Lifecycle hooks (``bridgekit_startup``, ``bridgekit_shutdown``, ``bridgekit_routes``)
    Start and stop background servers (the email plugin's SMTP server) and add HTTP routes.

``bridgekit_demo_providers``
    Optional: stand-ins for a channel's platform that ``bridgekit demo`` drives.

An exception escaping any implementation is logged with the plugin's name, counted in
``/metrics`` as ``bridgekit_plugin_errors_total`` and isolated: the server keeps serving and
no acknowledged message is lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

from bridgekit.flow import ChatStateEvent, ChatView, CustomerEventView, MessageEvent
from bridgekit.model import (
    ChannelSpec,
    Charge,
    CustomerProfile,
    DeliveryResult,
    InboundMessage,
    IngestResult,
    Integration,
    OutboundMessage,
    RawDelivery,
)

if TYPE_CHECKING:
    from aiohttp.web import AbstractRouteDef

    from bridgekit.bridge_api import BridgeAPI
    from bridgekit.demo_provider import DemoStandIn

hookspec = pluggy.HookspecMarker("bridgekit")


# --- declaration -------------------------------------------------------------------------


@hookspec
def bridgekit_channels() -> Iterable[ChannelSpec]:
    """Declare the channel kinds this plugin provides.

    Return one :class:`~bridgekit.model.ChannelSpec` per kind (Kakao declares three:
    consultation talk, Alimtalk and brand message). The spec's ``inbox_slot`` fixes where
    the channel appears in every list (SPEC P3); its ``capabilities`` are enforced by the
    core. A channel name may be declared by one plugin only.
    """
    raise NotImplementedError


# --- channel hooks -----------------------------------------------------------------------


@hookspec(firstresult=True)
def bridgekit_ingest(integration: Integration, delivery: RawDelivery) -> IngestResult:
    """Verify and parse one raw inbound delivery for ``integration``.

    Verify first (signature, secret token) and raise
    :class:`~bridgekit.exceptions.SignatureError` if it fails: the core answers 401 and keeps
    nothing. Raise :class:`~bridgekit.exceptions.MalformedDelivery` for an authentic delivery
    that cannot be parsed: it is kept raw and answered 400. Otherwise return the normalised
    messages (possibly none, for a verification ping), any delivery status updates and any
    events that are not messages (``IngestResult.events``: a
    :class:`~bridgekit.model.Retraction`, :class:`~bridgekit.model.Edit` or
    :class:`~bridgekit.model.CustomerEvent`); anything the plugin does not understand is best
    left out (the raw delivery is kept) rather than turned into a message.
    Handshake GET requests (Meta's ``hub.challenge``) arrive here too; answer them through
    ``IngestResult.response``. Do no slow I/O here: providers time out (LINE: 2 s).
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def bridgekit_identify_customer(integration: Integration, message: InboundMessage) -> CustomerProfile | None:
    """Tell who sent ``message``: a display name and further contact handles.

    Called before the message is stored; may call the provider (LINE's profile API).
    Return ``None`` to let the core use ``message.sender`` as it is. The core matches the
    profile's verified handles against known customers and otherwise creates a lead.
    Also called for the sender of a :class:`~bridgekit.model.CustomerEvent`, with a stand-in
    message (``automated``, ``meta`` = the event's ``data``): only the name is used then.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def bridgekit_deliver(integration: Integration, message: OutboundMessage) -> DeliveryResult:
    """Send one outbound message through the provider.

    Return a :class:`~bridgekit.model.DeliveryResult` on success. Raise
    :class:`~bridgekit.exceptions.TransientDeliveryError` when a retry may succeed (the
    outbox retries with exponential backoff and jitter) and
    :class:`~bridgekit.exceptions.PermanentDeliveryError` when it cannot. Pass
    ``message.idempotency_key`` to the provider where it supports one: after a crash the
    same message may be handed to this hook again. Providers that download media take each
    attachment's ``url`` (signed and served by the core; ``None`` without ``[server]
    public_url``): plugins never serve files themselves. Where a send is not idempotent by
    itself, ``await message.save_progress({...})`` before the network call; the next attempt
    gets it as ``message.progress``. Transient failures are retried for ``outbox.retry_for``
    seconds.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def bridgekit_bill(
    integration: Integration, message: OutboundMessage, result: DeliveryResult
) -> Charge | None:
    """Price one successful delivery in PU; ``None`` means free.

    Written to the ledger in the same transaction that marks the message sent, so a charge
    is recorded exactly once. Failed sends are never billed.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def bridgekit_check_reply(integration: Integration, chat: ChatView, reply_context: Mapping[str, Any]) -> None:
    """May a manager reply in ``chat`` now? Called before a manager's reply is stored
    (``POST /api/v1/chats/{id}/messages``), for channels whose provider lets a business
    answer only within a session or window (Kakao consultation talk: 30 days after the
    customer's last message, until the chat is ended), or not with free text at all (Kakao
    Alimtalk: approved templates only).

    ``reply_context`` is the ``meta`` of the customer's latest message in the chat (as
    ``OutboundMessage.reply_context``; ``{}`` when there is none). Raise
    :class:`~bridgekit.exceptions.RequestRefused` with a ``code`` (status 409 suits "not
    now") to refuse: nothing is stored and the API answers it with its status, code and
    reason. Return ``None`` to allow. Do no network I/O: a manager is waiting. Any other
    exception is the plugin's bug: logged, counted, and the reply goes ahead (the send
    itself decides then).
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def bridgekit_send_text(
    phone: str, text: str, idempotency_key: str, purpose: str, integration: str | None
) -> DeliveryResult | None:
    """Send ``text`` to the customer's ``phone`` outside any chat (a follow-up, F4; Alimtalk's
    fallback, K6), through a texting integration (``integration`` names one, else the plugin
    picks its first enabled one).

    Called through ``BridgeAPI.send_text`` on every plugin until one returns a result; return
    ``None`` when you have no integration that can send it. Apply the channel's rules exactly
    as for a chat message and raise :class:`~bridgekit.exceptions.PermanentDeliveryError`
    (refused: opted out, not encodable, too long...) or
    :class:`~bridgekit.exceptions.TransientDeliveryError`. The same ``idempotency_key`` never
    sends twice. The result's ``meta`` carries ``charge`` (``{"amount_pu", "category",
    "description"}``) for the caller to record: nothing is written to the ledger.
    """
    raise NotImplementedError


# --- flow hooks (bots) -------------------------------------------------------------------


@hookspec
def bridgekit_message_received(event: MessageEvent) -> None:
    """A customer's message was stored (not called for auto-replies and bounces).

    Record actions on ``event`` (``reply``, ``note``, ``tag``, ``assign``, ``close``); call
    ``event.stop()`` to keep later plugins from seeing the event. Filter on
    ``event.chat.channel`` or ``event.integration`` to act on some integrations only.
    """


@hookspec
def bridgekit_message_sent(event: MessageEvent) -> None:
    """A manager's or bot's message was delivered to the customer."""


@hookspec
def bridgekit_chat_state_changed(event: ChatStateEvent) -> None:
    """A chat was opened, closed, reopened or snoozed."""


@hookspec
def bridgekit_customer_event(event: CustomerEventView) -> None:
    """A customer with a chat did something that is not a message (a
    :class:`~bridgekit.model.CustomerEvent`): pressed a button (``"line.postback"``, with
    ``event.data["data"]``), followed or blocked the account... Filter on ``event.kind``.
    """


@hookspec(firstresult=True)
def bridgekit_inbound_address(integration: Integration, base_url: str) -> str | None:
    """Where the provider must send ``integration``'s messages, for the start banner.

    Return it as the self-hoster types it into the provider's console: a webhook URL with
    any required query token, an SMTP host and port. ``None`` means the default,
    ``POST {base_url}/hooks/{integration.name}``. Secrets in it are masked by the core
    unless a person is watching the terminal.
    """


@hookspec(firstresult=True)
def bridgekit_check_integration(integration: Integration, plugin_settings: Mapping[str, Any]) -> None:
    """Check ``integration``'s settings and secrets before the server starts.

    Raise :class:`~bridgekit.exceptions.ConfigError` naming the key and what was expected
    (never a secret's value): ``bridgekit serve`` prints it on one line and exits instead of
    failing at the first webhook. ``plugin_settings`` is the plugin's ``[plugins.settings.
    <plugin>]`` table. ``ChannelSettings.from_integration`` (``bridgekit.channelkit``) does
    all of it. Synchronous: it runs before the event loop does.
    """


# --- lifecycle ---------------------------------------------------------------------------


@hookspec
def bridgekit_startup(bridge: BridgeAPI) -> None:
    """The server is starting: the database is migrated and ``bridge`` accepts deliveries.

    Start background servers here (the email plugin's SMTP listener) on the running event
    loop; hand their deliveries to ``bridge.submit``. ``bridge.public_url`` is where
    providers reach this server (``None`` when not configured).
    """


@hookspec
def bridgekit_shutdown(bridge: BridgeAPI) -> None:
    """The server is stopping: stop what ``bridgekit_startup`` started."""


@hookspec
def bridgekit_routes(bridge: BridgeAPI) -> Iterable[AbstractRouteDef] | None:
    """Return extra aiohttp routes (``aiohttp.web.get(...)`` and friends) to mount."""


@hookspec
def bridgekit_demo_providers() -> Iterable[DemoStandIn] | None:
    """Return stand-ins (:class:`bridgekit.DemoProvider` for a messenger customers write in
    through, :class:`bridgekit.SendOnlyDemoProvider` for a send-only channel) for the
    platforms of this plugin's channels, for ``bridgekit demo``. Import sandbox code inside
    the hook, so serving never loads it."""
