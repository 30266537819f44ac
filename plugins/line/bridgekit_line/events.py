"""Turn a verified LINE webhook body into normalised inbound messages (no I/O here).

Wire format: the request body is ``{"destination": <bot userId>, "events": [...]}``; every
event carries ``type``, ``timestamp`` (ms), ``mode``, ``webhookEventId`` (a ULID, stable
across redeliveries), ``deliveryContext.isRedelivery`` and usually ``source`` and
``replyToken`` (https://developers.line.biz/en/reference/messaging-api/#webhook-event-objects,
and ``webhook.yml`` in github.com/line/line-openapi).

Fields are checked against their documented types first (:mod:`bridgekit_line.schema`).
A ``message`` event becomes an :class:`~bridgekit.model.InboundMessage`: text as it is;
media as a placeholder text plus a :class:`MediaRef` the plugin resolves through the data
API; stickers and locations as readable text with details in ``meta``. The other events
are not messages: ``unsend`` is a :class:`~bridgekit.model.Retraction`, ``messageEdited`` an
:class:`~bridgekit.model.Edit`, and the documented customer and group events (follow,
unfollow, postback, join, leave, memberJoined, memberLeft, beacon, accountLink,
videoPlayComplete) are customer events (:class:`~bridgekit.model.CustomerEvent`) for
the customer's profile timeline.
Any other event type is left out: the raw delivery the core keeps is its record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson

from bridgekit.exceptions import MalformedDelivery
from bridgekit.model import Contact, CustomerEvent, Edit, InboundMessage, ProviderEvent, Retraction
from bridgekit_line.schema import check_body

#: Contact kind of a LINE user (a userId, meaningful only within one LINE channel).
CONTACT_KIND = "line"
#: Contact kinds used when a group or room event names no user (join, leave...).
GROUP_CONTACT_KIND = "line_group"
ROOM_CONTACT_KIND = "line_room"

_EPOCH = datetime(1970, 1, 1)  # naive UTC
MEDIA_TYPES = frozenset({"image", "video", "audio", "file"})
_MEDIA_LABELS = {"image": "Image", "video": "Video", "audio": "Audio", "file": "File"}


@dataclass(frozen=True, slots=True)
class MediaRef:
    """Content the plugin must fetch from the data API for one message event."""

    message_id: str
    kind: str
    file_name: str | None = None


# NamedTuples, not dataclasses: built for every webhook, and a tuple costs a quarter as much.
class ParsedEvent(NamedTuple):
    message: InboundMessage | None  # None for an event that is not a message
    media: MediaRef | None = None
    event: ProviderEvent | None = None


class ParsedBody(NamedTuple):
    destination: str | None
    events: Sequence[ParsedEvent]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _event_id(event: Mapping[str, Any]) -> str:
    event_id = _str(event.get("webhookEventId"))
    if event_id:
        return event_id
    # Very old payloads lack webhookEventId. A digest of the canonical event is stable
    # across LINE's redeliveries of the same event, so the core's dedupe still works.
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _sent_at(timestamp: Any) -> datetime | None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        return None
    try:
        # Naive UTC, like every timestamp the core stores (bridgekit.runtime.clock).
        return _EPOCH + timedelta(0, 0, 0, timestamp)  # positional milliseconds: faster than by name
    except (OverflowError, OSError, ValueError):
        return None


def _who(source: Mapping[str, Any], destination: str | None) -> tuple[str, Contact, dict[str, Any]]:
    """Thread key, sender and source meta for an event's ``source`` object."""
    source_type = _str(source.get("type")) or "unknown"
    user_id = _str(source.get("userId"))
    meta: dict[str, Any] = {"source_type": source_type}
    if user_id:
        meta["user_id"] = user_id
    container_id = None
    container_kind = None
    if source_type == "group":
        container_id, container_kind = _str(source.get("groupId")), GROUP_CONTACT_KIND
        meta["group_id"] = container_id
    elif source_type == "room":
        container_id, container_kind = _str(source.get("roomId")), ROOM_CONTACT_KIND
        meta["room_id"] = container_id
    if container_id and container_kind:
        # A group or multi-person chat is one conversation; its members are the senders.
        sender = (
            Contact(kind=CONTACT_KIND, value=user_id)
            if user_id
            else Contact(kind=container_kind, value=container_id)
        )
        return container_id, sender, meta
    if user_id:
        return user_id, Contact(kind=CONTACT_KIND, value=user_id), meta
    # No source at all (module/bot-level events): keep it, on a thread of the bot itself.
    bot = destination or "unknown"
    return f"bot:{bot}", Contact(kind="line_bot", value=bot, verified=False), meta


def _media_text(kind: str, message: Mapping[str, Any]) -> str:
    label = _MEDIA_LABELS[kind]
    if kind == "file":
        name = _str(message.get("fileName")) or "file"
        size = message.get("fileSize")
        return f"[File] {name}" + (f" ({size} bytes)" if isinstance(size, int) else "")
    image_set = message.get("imageSet")
    if kind == "image" and isinstance(image_set, dict):
        index, total = image_set.get("index"), image_set.get("total")
        if isinstance(index, int) and isinstance(total, int):
            return f"[Image {index}/{total}]"
    return f"[{label}]"


def _location_text(message: Mapping[str, Any]) -> str:
    parts = [p for p in (_str(message.get("title")), _str(message.get("address"))) if p]
    lat, lon = message.get("latitude"), message.get("longitude")
    text = "[Location]"
    if parts:
        text += " " + ", ".join(parts)
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        text += f" ({lat}, {lon})"
    return text


def _message_event(message: Mapping[str, Any], meta: dict[str, Any]) -> tuple[str, MediaRef | None, bool]:
    """Text, media reference and "automated" flag of a ``message`` event."""
    mtype = _str(message.get("type")) or "unknown"
    message_id = _str(message.get("id"))
    meta["message_type"] = mtype
    if message_id:
        meta["message_id"] = message_id
    for key, meta_key in (("quoteToken", "quote_token"), ("quotedMessageId", "quoted_message_id")):
        if _str(message.get(key)):
            meta[meta_key] = message[key]

    if mtype == "text":
        text = message.get("text")
        return (text if isinstance(text, str) else ""), None, False
    if mtype in MEDIA_TYPES:
        text = _media_text(mtype, message)
        if isinstance(message.get("duration"), int):
            meta["duration_ms"] = message["duration"]
        if mtype == "file":
            meta["file"] = {"name": message.get("fileName"), "size": message.get("fileSize")}
        if isinstance(message.get("imageSet"), dict):
            meta["image_set"] = dict(message["imageSet"])
        provider = message.get("contentProvider")
        provider = provider if isinstance(provider, dict) else {"type": "line"}
        meta["content_provider"] = dict(provider)
        if provider.get("type") == "external":
            # The content lives on the sender's own server, not in LINE's data API: keep
            # the URLs (shown to the manager) and fetch nothing we were not asked to trust.
            url = _str(provider.get("originalContentUrl"))
            return (f"{text} {url}" if url else text), None, False
        if not message_id:
            return text, None, False
        return text, MediaRef(message_id, mtype, _str(message.get("fileName"))), False
    if mtype == "sticker":
        meta["sticker"] = {
            key: message[key]
            for key in ("packageId", "stickerId", "stickerResourceType", "keywords", "text")
            if key in message
        }
        extra = _str(message.get("text"))
        return ("[Sticker] " + extra if extra else "[Sticker]"), None, False
    if mtype == "location":
        meta["location"] = {key: message.get(key) for key in ("title", "address", "latitude", "longitude")}
        return _location_text(message), None, False
    meta["raw_message"] = dict(message)
    return f"[unsupported message type {mtype}]", None, True


# Customer and group events (not messages) -> CustomerEvent kind, shared across channels.
CUSTOMER_EVENT_KINDS = {
    "follow": "follow",
    "unfollow": "unfollow",
    "postback": "postback",
    "join": "join",
    "leave": "leave",
    "memberJoined": "member_joined",
    "memberLeft": "member_left",
    "beacon": "beacon",
    "accountLink": "account_link",
    "videoPlayComplete": "video_play_complete",
}
# Where each of those events keeps its details; copied into the CustomerEvent's data.
_EVENT_DETAILS = {
    "follow": "follow",
    "postback": "postback",
    "memberJoined": "joined",
    "memberLeft": "left",
    "beacon": "beacon",
    "accountLink": "link",
    "videoPlayComplete": "videoPlayComplete",
}


def _not_a_message(
    event: Mapping[str, Any],
    etype: str,
    event_id: str,
    sender: Contact,
    thread_key: str,
    meta: dict[str, Any],
) -> ProviderEvent | None:
    sent_at = _sent_at(event.get("timestamp"))
    if etype == "unsend":
        unsend = event.get("unsend")
        ref = _str(unsend.get("messageId")) if isinstance(unsend, dict) else None
        return Retraction(event_id, ref, sent_at) if ref else None
    if etype == "messageEdited":
        message = event.get("message")
        if not isinstance(message, dict) or not _str(message.get("id")):
            return None
        text = message.get("text")
        return Edit(event_id, message["id"], text if isinstance(text, str) else "", sent_at)
    kind = CUSTOMER_EVENT_KINDS.get(etype)
    if kind is None:
        return None  # kept raw by the core, shown nowhere
    data: dict[str, Any] = {"line_event_type": etype, **meta}
    details = event.get(_EVENT_DETAILS.get(etype, ""))
    if isinstance(details, dict):
        data[_EVENT_DETAILS[etype]] = dict(details)
    return CustomerEvent(event_id, sender, thread_key, kind, data, sent_at)


def parse_event(event: Mapping[str, Any], destination: str | None) -> ParsedEvent:
    """Normalise one webhook event object. Never raises for an unknown or odd event."""
    get = event.get  # called for every webhook: look-ups bound once
    etype = _str(get("type")) or "unknown"
    source = get("source")
    thread_key, sender, meta = _who(source if isinstance(source, dict) else {}, destination)
    webhook_event_id = _str(get("webhookEventId"))
    message = get("message")
    if etype != "message" or not isinstance(message, dict):
        return ParsedEvent(
            None,
            None,
            _not_a_message(event, etype, webhook_event_id or _event_id(event), sender, thread_key, meta),
        )
    delivery_context = get("deliveryContext")
    timestamp = get("timestamp")
    meta["line_event_type"] = etype
    meta["webhook_event_id"] = webhook_event_id
    meta["event_timestamp"] = timestamp
    redelivered = isinstance(delivery_context, dict) and delivery_context.get("isRedelivery") is True
    meta["is_redelivery"] = redelivered
    meta["mode"] = get("mode")
    meta["destination"] = destination
    reply_token = _str(get("replyToken"))
    if reply_token:
        meta["reply_token"] = reply_token
    text, media, automated = _message_event(message, meta)
    return ParsedEvent(
        InboundMessage(
            event_id=webhook_event_id or _event_id(event),
            sender=sender,
            thread_key=thread_key,
            text=text,
            sent_at=_sent_at(timestamp),
            automated=automated,
            meta=meta,
            provider_message_id=_str(message.get("id")),
        ),
        media,
    )


def _checked_text_message(event: dict[str, Any], destination: str | None) -> ParsedEvent | None:
    """:func:`parse_event` of the commonest event, a text message from a user, in a body
    :func:`~bridgekit_line.schema.check_body` passed (so every field present has its
    documented type): the same result with a third of the calls and look-ups, for the event
    nearly every webhook carries. ``None`` for any other event."""
    get = event.get
    message = get("message")
    source = get("source")
    if get("type") != "message" or message is None or source is None:
        return None
    user_id = source.get("userId")
    event_id = get("webhookEventId")
    if not user_id or not event_id or source.get("type") != "user" or message.get("type") != "text":
        return None
    timestamp = get("timestamp")
    delivery_context = get("deliveryContext")
    # The keys in parse_event's order: the stored JSON comes out the same.
    meta: dict[str, Any] = {
        "source_type": "user",
        "user_id": user_id,
        "line_event_type": "message",
        "webhook_event_id": event_id,
        "event_timestamp": timestamp,
        "is_redelivery": delivery_context is not None and delivery_context.get("isRedelivery") is True,
        "mode": get("mode"),
        "destination": destination,
    }
    reply_token = get("replyToken")
    if reply_token:
        meta["reply_token"] = reply_token
    meta["message_type"] = "text"
    message_id = message.get("id") or None
    if message_id:
        meta["message_id"] = message_id
    quote_token = message.get("quoteToken")
    if quote_token:
        meta["quote_token"] = quote_token
    quoted = message.get("quotedMessageId")
    if quoted:
        meta["quoted_message_id"] = quoted
    text = message.get("text")
    # Positional arguments (a quarter cheaper than by name): event_id, sender, thread_key,
    # text, title, thread_refs, attachments, sent_at, automated, meta, provider_message_id.
    sender = Contact(CONTACT_KIND, user_id)
    text = "" if text is None else text
    sent_at = _sent_at(timestamp)
    return ParsedEvent(
        InboundMessage(event_id, sender, user_id, text, None, (), (), sent_at, False, meta, message_id)
    )


def parse_body(body: bytes) -> ParsedBody:
    """Parse a verified webhook body; raise :class:`MalformedDelivery` if it is not one."""
    try:
        data = orjson.loads(body)  # 3x faster than json.loads; raises a json.JSONDecodeError too
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedDelivery(f"LINE webhook body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedDelivery("LINE webhook body is not a JSON object")
    events = data.get("events")
    if not isinstance(events, list):
        raise MalformedDelivery("LINE webhook body has no 'events' array")
    check_body(data)  # every event an object, every field read of its documented type
    destination = _str(data.get("destination"))
    # A loop, not a comprehension (a function call of its own in Python 3.11): most bodies
    # carry one event.
    parsed = []
    for event in events:
        parsed.append(_checked_text_message(event, destination) or parse_event(event, destination))
    return ParsedBody(destination, parsed)
