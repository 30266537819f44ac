"""Plain data that crosses the hook boundary.

Plugins receive and return only these types (and builtins), never database rows or aiohttp
objects, so a plugin can be unit-tested without a running bridgekit. Everything here is an
immutable dataclass; JSON-able ``meta`` mappings carry provider-specific extras.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from bridgekit.frozen_init import faster_init, is_frozen_slotted_dataclass
from bridgekit.text_units import CHARACTERS, TextUnit


class InboxSlot(enum.IntEnum):
    """The fixed inbox order of integration types (SPEC P3).

    A channel declares its slot; lists of channels and integrations are sorted by slot, then
    by name. Users cannot change it, and neither can install or registration order.
    """

    PHONE = 10
    EMAIL = 20
    KAKAO = 30
    INSTAGRAM = 40
    NAVER_TALKTALK = 50
    LINE = 60
    OTHER = 1000


class DeliveryStatus(enum.StrEnum):
    """Where an outbound message stands. ``READ`` only for channels that report reads (I19)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


ClosedChatPolicy = Literal["new_chat", "reopen"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can send; the core refuses a manager's reply or started chat beyond
    these limits with a 4xx before anything is stored or queued (notes are not limited).

    ``max_attachments``, ``max_attachment_bytes`` (each file), ``max_image_bytes`` (each file
    the channel sends as an image, of ``image_types``; None: ``max_attachment_bytes``),
    ``attachment_types`` (content types
    the channel can send, ``"image/*"`` patterns allowed; empty: any) and ``supports_images``
    limit the files of one reply. ``max_text_length`` is the longest reply text the plugin
    delivers, counted in ``text_unit`` (a :class:`bridgekit.text_units.TextUnit`:
    ``UTF16_UNITS`` for LINE and Naver, ``UTF8_BYTES`` for Meta, ``bytes_in("cp949")`` for
    Korean SMS, ``CHARACTERS``); when the plugin splits long texts into several
    provider messages it is the total it sends, None: no channel limit (the core's own
    applies). ``max_text_bytes`` is the provider's limit for *one* provider message, for
    the plugin's splitter; the core does not read it.
    """

    reports_reads: bool = False
    max_attachments: int = 10
    max_attachment_bytes: int = 1024**3
    max_image_bytes: int | None = None
    image_types: tuple[str, ...] = ("image/*",)
    attachment_types: tuple[str, ...] = ()
    max_text_bytes: int | None = None
    max_text_length: int | None = None
    text_unit: TextUnit = CHARACTERS
    supports_images: bool = True
    manager_can_reopen: bool = True
    start_chat_with: tuple[str, ...] = ()
    """Contact kinds a manager can start a chat with (E10), e.g. ``("email",)`` or LINE's
    ``("line",)``; empty: only customers open chats. Others are refused with 422."""


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel kind a plugin provides, returned from ``bridgekit_channels``.

    ``name`` is what integrations refer to in the configuration (``channel = "line"``).
    ``closed_chat_policy`` says what a customer's message does to a closed chat: open a
    ``"new_chat"`` (email, E6) or ``"reopen"`` it. ``contact_kind`` is the kind of shared
    handle the channel reaches people by (``"email"``, ``"phone"``): a chat a manager starts
    for a known customer (E10) goes to their handle of that kind. Channels keyed by their own
    ids leave it None. Which contacts a manager may start a chat with at all is
    ``capabilities.start_chat_with``.
    ``max_body_bytes`` caps a webhook body (refused with 413 before the plugin sees it); set
    it near the largest request the provider sends. None: ``[limits] webhook_body_bytes``.
    ``stored_headers`` names (lower-case) the request headers kept in the raw delivery row
    besides the core's few (content type): signature and provider delivery-id headers.
    """

    name: str
    title: str
    inbox_slot: InboxSlot = InboxSlot.OTHER
    capabilities: Capabilities = field(default_factory=Capabilities)
    closed_chat_policy: ClosedChatPolicy = "reopen"
    mark: str = ""
    contact_kind: str | None = None
    max_body_bytes: int | None = None
    stored_headers: frozenset[str] = frozenset()

    @property
    def sort_key(self) -> tuple[int, str]:
        return (int(self.inbox_slot), self.name)


@dataclass(frozen=True, slots=True)
class Integration:
    """One linked messenger account (a LINE bot, a forwarding address...)."""

    id: int
    name: str
    channel: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class RawDelivery:
    """One inbound delivery exactly as received: the webhook request or the SMTP envelope.

    ``headers`` keys are lower-case. ``body`` is the raw bytes, unchanged, because signatures
    are computed over them.
    """

    integration: str
    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    remote: str | None = None
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    """A handle that reaches a person: an email address, a phone number, a messenger id.

    ``shared`` handles (email addresses, phone numbers) identify the same person across
    integrations; non-shared ones (a LINE userId) are only meaningful within one integration.
    ``verified`` means the provider vouches for the handle; a customer is joined to an
    existing record only through a verified handle (E7).
    """

    kind: str
    value: str
    name: str | None = None
    verified: bool = True
    shared: bool = False


@dataclass(frozen=True, slots=True)
class InboundAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One normalised customer message (or customer event) produced by ``bridgekit_ingest``.

    ``event_id`` is the provider's id for the event; a second delivery with the same id on
    the same integration is acknowledged and adds nothing. ``thread_key`` names the
    conversation on the provider's side (a LINE userId, an email Message-ID); ``thread_refs``
    are keys of earlier messages this one answers (email References). ``automated`` marks
    auto-replies and bounces: stored, but bots are not run for them. ``provider_message_id``
    is the provider's own id of the message (a LINE message id, an Instagram ``mid``): a later
    :class:`Retraction` or :class:`Edit` names the message by it.
    """

    event_id: str
    sender: Contact
    thread_key: str
    text: str = ""
    title: str | None = None
    thread_refs: Sequence[str] = ()
    attachments: Sequence[InboundAttachment] = ()
    sent_at: datetime | None = None
    automated: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)
    provider_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Retraction:
    """The customer took back a message they sent (LINE ``unsend``, an Instagram deletion).

    ``message_ref`` is the retracted message's ``provider_message_id``. The core removes its
    text, attachments and provider details from managers' view and marks it retracted; a
    reference to no stored message is ignored.
    """

    event_id: str
    message_ref: str
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Edit:
    """The customer changed the text of a message they sent (LINE ``messageEdited``).

    The core replaces the stored text of the message whose ``provider_message_id`` is
    ``message_ref`` and marks it edited; an edit older than the last one applied is ignored.
    """

    event_id: str
    message_ref: str
    text: str
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CustomerEvent:
    """Something a customer did, or the provider reports about them, that is not a message:
    a follow or block, a button press (postback), joining or leaving a group, a beacon...

    Recorded on the customer's profile timeline (I17) as ``kind`` with ``data`` (plain JSON)
    and handed to bots (``bridgekit_customer_event``) when the customer already has a chat on
    ``thread_key``. It never opens a chat nor adds a message. ``sender`` finds (or creates) the
    customer the same way a message's sender does. ``event_id`` deduplicates redeliveries.
    """

    event_id: str
    sender: Contact
    thread_key: str
    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)
    sent_at: datetime | None = None


#: What a plugin's ingest may return besides messages and status updates.
ProviderEvent = Retraction | Edit | CustomerEvent


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A provider's report about an earlier outbound message (delivered, read, failed)."""

    provider_message_id: str
    status: DeliveryStatus
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class HookResponse:
    """What to answer the provider with, when the default ``200 OK`` is not right
    (Meta's ``hub.challenge`` handshake, for example)."""

    status: int = 200
    body: bytes | str = b"OK"
    content_type: str = "text/plain"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What ``bridgekit_ingest`` makes of one delivery. Empty is fine (a verify ping).

    ``events`` are applied after the delivery's messages, in the same transaction and in
    order, so an unsend right after its message in one delivery finds it.
    """

    messages: Sequence[InboundMessage] = ()
    status_updates: Sequence[StatusUpdate] = ()
    response: HookResponse | None = None
    events: Sequence[ProviderEvent] = ()


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    """Who sent a message, as the plugin knows them (``bridgekit_identify_customer``)."""

    name: str | None = None
    contacts: Sequence[Contact] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutboundAttachment:
    """A file of an outbound message. ``path`` is for plugins that upload the bytes.

    ``url`` is for providers that download media themselves (LINE, Instagram, Naver): a public
    URL bridgekit serves this one attachment at, signed and expiring after ``[server]
    media_url_ttl`` seconds. It is ``None`` when ``[server] public_url`` is not set. Plugins
    never serve files or build media URLs themselves. ``id`` is the attachment's row id.
    """

    filename: str
    content_type: str
    size: int
    path: Path
    id: int = 0
    url: str | None = None


async def _progress_not_kept(progress: Mapping[str, Any]) -> None:
    """``save_progress`` outside the outbox (a plugin's own tests): nothing is kept."""


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to deliver through ``bridgekit_deliver``.

    ``idempotency_key`` is stable across retries and restarts: pass it to providers that
    support one (LINE ``X-Line-Retry-Key``) so a retry after a crash is never a second send.
    ``reply_context`` is the ``meta`` of the customer's latest inbound message in the chat
    (a LINE reply token, an email Message-ID...); ``first_answer`` is true when no earlier
    outbound message answers that message, so a single-use reply token in it is this
    message's to use. ``attempt`` starts at 1. ``author_kind``
    is ``"manager"`` or ``"bot"``: automatic sends may need marking (email ``Auto-Submitted``).

    ``progress`` is what an earlier attempt recorded with ``save_progress`` (``{}`` at first):
    a plugin whose send is not idempotent by itself (a LINE reply token) awaits
    ``save_progress(...)`` *before* the network call, so the attempt after a crash or a
    timeout knows what may already have gone out. It is durable (the outbox row) and raises
    if this attempt lost its lease, so two workers never send the same message. A manual
    retry of a failed message starts with ``{}`` again.

    ``meta`` is the message's own stored meta: what its sender attached, e.g. the ``meta`` a
    plugin passed to ``BridgeAPI.send_to_customer`` (an Alimtalk's template and parameters),
    or a manager reply's ``buttons``. ``{}`` when there is none.
    """

    message_id: int
    chat_id: int
    idempotency_key: str
    recipient: Contact
    thread_key: str
    text: str
    title: str | None = None
    author_name: str | None = None
    attachments: Sequence[OutboundAttachment] = ()
    reply_context: Mapping[str, Any] = field(default_factory=dict)
    attempt: int = 1
    author_kind: str = "manager"
    first_answer: bool = True
    progress: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    save_progress: Callable[[Mapping[str, Any]], Awaitable[None]] = field(
        default=_progress_not_kept, repr=False, compare=False
    )


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """A successful send. Failures are raised as ``DeliveryError`` subclasses instead.

    ``thread_key`` (optional) is registered as another key of the chat, so a customer's
    reply that refers to it threads into the same chat (an email's Message-ID).
    """

    provider_message_id: str | None = None
    status: DeliveryStatus = DeliveryStatus.SENT
    thread_key: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Charge:
    """The price of one successful external send in PU (1 PU = 1 KRW), for the ledger."""

    amount_pu: int
    category: str
    description: str = ""


IngestStatus = Literal["accepted", "duplicate", "rejected", "malformed", "error", "busy"]


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What the core did with one delivery handed to ``Bridge.submit``.

    ``accepted`` and ``duplicate`` are durable (committed) before this is returned, so the
    caller may acknowledge the provider. ``rejected`` (bad signature) kept nothing;
    ``malformed`` and ``error`` kept the raw delivery for inspection and replay. ``busy``
    stored nothing: another process held the database's write lock too long; the provider
    should deliver again (HTTP 503 with ``Retry-After``).
    """

    status: IngestStatus
    http_status: int
    message_ids: Sequence[int] = ()
    response: HookResponse | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One message of a chat as plugins see it (``Bridge.chat_transcript``): for forwarding a
    conversation (E9). ``raw`` is the inbound delivery exactly as received, when there is one.
    """

    message_id: int
    direction: Literal["inbound", "outbound", "note"]
    author_kind: str
    author_name: str | None
    text: str
    created_at: datetime
    raw: bytes | None = None


# Every webhook builds several of these; see bridgekit.frozen_init for why and what stays.
for _model in list(globals().values()):
    if isinstance(_model, type) and _model.__module__ == __name__ and is_frozen_slotted_dataclass(_model):
        faster_init(_model)
del _model
