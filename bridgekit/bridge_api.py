"""What a plugin may call on the running server: :class:`BridgeAPI`.

The lifecycle hooks (``bridgekit_startup``, ``bridgekit_shutdown``, ``bridgekit_routes``) hand
plugins the running server typed as this Protocol. The core's ``Bridge`` implements it (mypy
checks that in ``bridgekit/engine/bridge.py``); a plugin types against it and never imports the
core, so the contract stays small and the core can change behind it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from bridgekit.flow import ChatView
from bridgekit.model import Charge, DeliveryResult, IngestOutcome, Integration, RawDelivery, TranscriptEntry


class BridgeAPI(Protocol):
    """The running server, as a plugin sees it."""

    @property
    def data_dir(self) -> Path:
        """The server's data directory; a plugin keeps its own files under a folder named
        after itself there."""

    @property
    def public_url(self) -> str | None:
        """Where providers reach this server (``[server] public_url``), or None."""

    def media_url(self, attachment_id: int, filename: str) -> str | None:
        """A signed, expiring public URL serving one stored attachment (None without
        ``public_url``). Outbound attachments already carry theirs (``OutboundAttachment.url``)."""

    def plugin_settings(self, plugin_name: str) -> Mapping[str, Any]:
        """The ``[plugins.<plugin_name>]`` table of the configuration (empty if absent)."""

    def integrations_for(self, channel: str) -> list[Integration]:
        """The enabled integrations of ``channel``, in configuration order."""

    async def elected(self) -> bool:
        """Whether this process should run once-only background work now. Always True with
        SQLite; with several processes on one PostgreSQL, True on one of them, and on another
        within seconds after that one dies. ``BackgroundTask.start_elected`` asks it for you."""

    async def submit(self, delivery: RawDelivery) -> IngestOutcome:
        """Ingest a delivery that did not come over ``/hooks`` (mail over SMTP): verified by the
        owning plugin's ``bridgekit_ingest`` and stored like a webhook; acknowledge the
        sender only after this returns an accepted or duplicate outcome."""

    async def chat(self, chat_id: int) -> ChatView | None:
        """The chat, or None when there is none."""

    async def chat_transcript(self, chat_id: int) -> list[TranscriptEntry]:
        """Every message of a chat in order, inbound ones with their raw delivery."""

    async def raw_delivery_for_message(self, message_id: int, *, channel: str | None = None) -> bytes | None:
        """The bytes an inbound message arrived as; None when there is no such message or, with
        ``channel``, when it came through another channel."""

    async def send_text(
        self,
        phone: str,
        text: str,
        *,
        idempotency_key: str,
        purpose: str = "notice",
        integration: str | None = None,
    ) -> DeliveryResult:
        """Text a customer's phone outside any chat through the plugin that sends texts
        (``bridgekit_send_text``); raises ``PermanentDeliveryError`` when it is refused or no
        plugin can send it, ``TransientDeliveryError`` when a later try may succeed."""

    async def add_note(self, chat_id: int, text: str, *, author_name: str | None = None) -> int:
        """Add an internal note to a chat (never delivered out); returns its message id. Open
        inboxes show it at once (``message.created``)."""

    async def close_chats(self, integration: str, note: str, *, author_name: str | None = None) -> list[int]:
        """Close every chat of ``integration`` that is not closed yet, each with ``note`` as an
        internal note saying why (a provider link switched off, say); returns their ids.
        Raises ``UnknownIntegration``."""

    def seal_secrets(self, values: Mapping[str, str]) -> str:
        """``values`` encrypted with the server's key for integration secrets (Fernet, the key
        kept outside the database): what a plugin stores of a secret it was handed at run time
        (a linked provider account's key), so it is never at rest in plain text."""

    def open_secrets(self, sealed: str) -> dict[str, str]:
        """The values :meth:`seal_secrets` sealed; ``ConfigError`` when no configured key opens
        them."""

    async def send_to_customer(
        self,
        customer_id: int,
        integration: str,
        text: str,
        *,
        idempotency_key: str,
        meta: Mapping[str, Any] | None = None,
        manager_id: int | None = None,
        author_name: str | None = None,
    ) -> int:
        """Queue one outbound message for a customer through ``integration``; returns its id.

        It is written and delivered like a manager's reply: through the outbox (retried,
        exactly once, billed by ``bridgekit_bill``, listed among the customer's sent
        messages), to the customer's handle of the channel's ``contact_kind``. ``meta`` (JSON;
        use a key named after your plugin) is stored with the message and reaches
        ``bridgekit_deliver`` as ``OutboundMessage.meta``. It joins the customer's latest chat
        on the integration, left in its state; without one, a chat is started closed.
        ``idempotency_key`` (up to 200 characters): a second call with it returns the first
        call's message and queues nothing. ``manager_id``: sent by that manager (a plugin
        route acting for the caller), else by the plugin as ``author_name``. Raises
        ``RequestRefused`` (no such customer, no reachable handle, a text over the channel's
        limit; the API answers it with its status) or ``UnknownIntegration``."""

    async def record_charge(self, integration: str, charge: Charge, *, message_id: int | None = None) -> bool:
        """Record a charge that is not an outbound send (those are priced by ``bridgekit_bill``):
        an inbound service billed per customer and window (a Kakao consultation, K7).

        Written to the ledger once per integration and ``charge.description``: the
        description must name what is charged (who, which window), and a second call with the
        same one records nothing and returns False (True when written now). ``message_id``
        links the row to the message that caused it. Raises ``UnknownIntegration``."""

    async def customer_for_handle(
        self, kind: str, value: str, *, integration: str | None = None
    ) -> int | None:
        """The customer owning the *verified* handle ``kind``/``value`` (of ``integration`` for a
        handle that means something only there, a Kakao ``user_key``; else a shared one), or
        None. Raises ``UnknownIntegration``."""

    async def add_handle(
        self,
        kind: str,
        value: str,
        *,
        customer_id: int | None = None,
        integration: str | None = None,
        name: str | None = None,
        member: bool = False,
    ) -> int:
        """Give ``customer_id`` (a new customer named ``name`` when None) the verified handle
        ``kind``/``value`` (scoped as for :meth:`customer_for_handle`); returns the handle's
        owner. When another customer owns it already, that one is returned and nothing moves
        (merging is :meth:`merge_customers`). ``member``: the owner is a site's member, not a
        lead. Raises ``RequestRefused`` (no such customer) or ``UnknownIntegration``."""

    async def merge_customers(self, keep_id: int, merge_id: int) -> None:
        """Merge customer ``merge_id`` into ``keep_id`` in one transaction (a lead turning out
        to be a site's member, K5): its contacts, chats, customer events and messages move to
        ``keep_id``, which keeps its name and profile fields and takes the merged one's where it
        has none, and stays a lead only if both were; ``merge_id`` is deleted. A plugin moves
        what its own stores keep by customer id itself. Raises ``RequestRefused`` (404 no such
        customer, 409 the same customer twice)."""
