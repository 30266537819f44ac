"""The adapter boundary of Kakao consultation talk (상담톡): what bridgekit needs from a
reseller that relays Kakao's hub-partner API, as a Protocol, and the registry of wire profiles.

Kakao gives the consultation-talk API only to hub partners; resellers relay it with Kakao's
own fields (``user_key`` per channel, ``sender_key`` of the sender profile, ``session_id``,
a unique ``serial_number`` per outbound message, text/image/file/link message types, an
end-session call) but each on its own URLs, headers and envelope. Everything
reseller-specific lives behind :class:`ConsultWire`; :mod:`bridgekit_kakao.consult` (sessions,
ingest, deliver, billing) only speaks the types below. A second reseller is one more module
with a class implementing :class:`ConsultWire`, its name added to :data:`ProfileName` and the
class to :data:`bridgekit_kakao.consult_profiles.PROFILES`; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal, Protocol

from bridgekit.channelkit import ChannelSettings, HttpUrl, InvalidSetting, Secret
from bridgekit.model import RawDelivery
from msgspec import Meta

#: K7: 80 PU per consultation, once per customer per 04:00 to 03:59 (KST) window.
CONSULT_PRICE_PU = 80
#: Kakao keeps a consultation session for 30 days after the customer's last message.
SESSION_DAYS = 30
#: Kakao's sender key (발신 프로필 키) is 40 characters.
SENDER_KEY_LENGTH = 40

#: The resellers' wire formats, by the name an integration's ``profile`` setting gives
#: (:data:`bridgekit_kakao.consult_profiles.PROFILES` maps each to its class).
ProfileName = Literal["happytalk_v1"]

InboundKind = Literal["text", "image", "file", "link", "leave"]
OutboundKind = Literal["text", "image", "file", "link"]


class ConsultSettings(ChannelSettings, frozen=True, kw_only=True):
    """``[integrations.<name>.settings]`` and ``.secrets`` of a ``kakao_consult`` integration:
    one Kakao channel's sender profile, relayed by one reseller (``profile``)."""

    channel_title = "Kakao consultation talk"

    #: Which reseller's wire format.
    profile: ProfileName = "happytalk_v1"
    api_base: HttpUrl = "https://kakao-api.happytalk.io"
    client_id: str
    client_secret: Secret
    sender_key: str
    #: The secret the reseller's calls to ``/hooks/<integration>?token=`` must carry.
    webhook_token: Secret
    price_pu: Annotated[int, Meta(ge=0)] = CONSULT_PRICE_PU
    session_days: Annotated[int, Meta(ge=1)] = SESSION_DAYS
    timeout_seconds: Annotated[float, Meta(gt=0)] = 15.0

    def checked(self) -> ConsultSettings:
        if not self.client_id:
            raise InvalidSetting("client_id", "is required: the reseller's client id")
        if len(self.sender_key) != SENDER_KEY_LENGTH:
            raise InvalidSetting(
                "sender_key", f"must be the {SENDER_KEY_LENGTH}-character sender key of the Kakao channel"
            )
        if len(self.webhook_token) < 16:
            raise InvalidSetting("webhook_token", "must be a random string of at least 16 characters")
        return self


@dataclass(frozen=True, slots=True)
class InboundChat:
    """One thing the reseller relayed from a customer: a message, or ``leave`` (the customer
    ended the session: end command, deleted the chat room, blocked the channel)."""

    kind: InboundKind
    user_key: str
    session_id: str
    #: Kakao's id of this customer message; redeliveries carry the same one.
    serial_number: str
    sent_at: datetime  # naive UTC
    text: str = ""
    url: str | None = None
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class OutboundChat:
    """One provider message to a customer; ``serial_number`` is unique per message and the
    same on every retry of it."""

    kind: OutboundKind
    user_key: str
    serial_number: str
    text: str = ""
    url: str | None = None
    filename: str | None = None
    size: int | None = None
    links: Sequence[Mapping[str, str]] = field(default_factory=tuple)


class SessionGone(Exception):
    """The reseller refused a send because the customer's session is over (expired, ended)."""


class ConsultWire(Protocol):
    """One reseller's wire format. Raise ``SignatureError`` / ``MalformedDelivery`` from
    :meth:`verify` / :meth:`parse`, and ``TransientDeliveryError`` /
    ``PermanentDeliveryError`` / :class:`SessionGone` from the calls."""

    #: Reseller and API version, for reasons a manager reads.
    title: str

    def verify(self, delivery: RawDelivery) -> None:
        """Authenticate an inbound call before anything of it is parsed."""

    def parse(self, delivery: RawDelivery) -> list[InboundChat]:
        """The customer messages and session events of an authenticated call."""

    async def send(self, message: OutboundChat) -> str:
        """Send one message; the reseller's id for it (the serial number when it has none)."""

    async def end_session(self, user_key: str) -> str | None:
        """End the customer's consultation session; the ended session's id, if one was open."""
