"""Parse a verified Instagram messaging webhook body into plain events (no I/O here).

Shapes handled (Meta: "Webhooks for Instagram Messaging" and "Instagram Platform Webhook
Notification Examples"): ``{"object": "instagram", "entry": [{"id", "time", "messaging":
[...]}]}`` where each messaging event carries one of ``message`` (text, ``attachments``,
``reply_to.story``, ``is_echo``, ``is_deleted``, ``is_unsupported``, ``quick_reply``),
``reaction`` (``mid``, ``action`` react/unreact, ``emoji``), ``read`` (``mid`` of the message
read), ``postback`` or ``referral``. ``standby`` (another app controls the thread) has the
same events, and the App Dashboard's test button sends one event as ``changes[{"field":
"messages", "value": {...}}]``. Comment/mention ``changes`` are not direct messages and
are skipped.

Field types are checked first (:mod:`bridgekit_instagram.schema`). Only ``message`` events
become messages. The others are not: ``is_deleted`` is a
:class:`~bridgekit.model.Retraction` of the message, ``message_edit`` an
:class:`~bridgekit.model.Edit`, ``read`` a read receipt for our send, echoes of our own sends
are dropped, and ``reaction``, ``postback`` and ``referral`` are customer events
(:class:`~bridgekit.model.CustomerEvent` kinds ``reaction``, ``postback``, ``referral``) for
the customer's timeline and bots.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bridgekit.exceptions import MalformedDelivery
from bridgekit.model import Contact, CustomerEvent, Edit, ProviderEvent, Retraction
from bridgekit.payloads import check_types
from bridgekit_instagram.schema import Body, MessagingEvent

log = logging.getLogger("bridgekit_instagram")

#: Contact kind of an Instagram user (an IGSID, meaningful only within one account).
CONTACT_KIND = "instagram"

FETCHED_KINDS = frozenset({"image", "video", "audio", "file"})
"""Attachment types whose content is downloaded into the chat."""

_LINK_LABELS = {
    "share": "Shared a post",
    "ig_reel": "Shared a reel",
    "reel": "Shared a reel",
    "ig_post": "Shared a post",
    "template": "Shared a post",
    "fallback": "Shared a link",
}


@dataclass(frozen=True, slots=True)
class MediaRef:
    """An attachment to download: Meta's CDN URL and its declared type."""

    kind: str
    url: str


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """One customer event that becomes a chat message."""

    event_id: str
    igsid: str
    timestamp_ms: int | None
    text: str
    media: tuple[MediaRef, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ParsedWebhook:
    """Everything one delivery contains that bridgekit cares about."""

    messages: list[ParsedMessage] = field(default_factory=list)
    read_mids: list[str] = field(default_factory=list)
    events: list[ProviderEvent] = field(default_factory=list)
    ignored: int = 0


def _ms(value: Any) -> int | None:
    """Meta sends epoch milliseconds; the dashboard's test events send seconds as a string."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    # a 10-digit number is seconds, not milliseconds
    return number * 1000 if number < 10**11 else number


def _stable_id(prefix: str, *parts: Any) -> str:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f"{prefix}:{digest}"


def sent_at(timestamp_ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC) if timestamp_ms is not None else None


def _customer_event(
    event_id: str, igsid: str, timestamp: int | None, kind: str, data: dict[str, Any]
) -> CustomerEvent:
    sender = Contact(kind=CONTACT_KIND, value=igsid, verified=True, shared=False)
    return CustomerEvent(event_id, sender, igsid, kind, data, sent_at(timestamp))


def parse(payload: Any, *, own_ids: Sequence[str] = ()) -> ParsedWebhook:
    """Turn a decoded webhook body into :class:`ParsedWebhook`.

    ``own_ids`` are ids of the business account itself: events *from* them are the
    business's own sends (echoes) and never become customer messages, even if Meta left
    ``is_echo`` out.
    """
    if not isinstance(payload, Mapping):
        raise MalformedDelivery("webhook body is not a JSON object")
    check_types(payload, Body, "Instagram")
    result = ParsedWebhook()
    if payload.get("object") != "instagram":
        # authentic (signed) but for another object type, e.g. a Page subscription pointed
        # at this URL; acknowledge so Meta does not retry it forever.
        log.warning("ignoring webhook for object %r", payload.get("object"))
        return result
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise MalformedDelivery("instagram webhook without an 'entry' list")
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise MalformedDelivery("instagram webhook entry is not an object")
        account_id = str(entry.get("id", ""))
        mine = {account_id, *own_ids} - {""}
        events: list[tuple[Any, bool]] = []
        for key, standby in (("messaging", False), ("standby", True)):
            for event in entry.get(key) or ():
                events.append((event, standby))
        for change in entry.get("changes") or ():
            if isinstance(change, Mapping) and change.get("field") == "messages":
                check_types(change.get("value"), MessagingEvent, "Instagram")
                events.append((change.get("value"), False))
            else:
                result.ignored += 1
        for event, standby in events:
            if not isinstance(event, Mapping):
                raise MalformedDelivery("instagram messaging event is not an object")
            _parse_event(event, account_id, mine, standby, result)
    return result


def _parse_event(
    event: Mapping[str, Any], account_id: str, mine: set[str], standby: bool, out: ParsedWebhook
) -> None:
    sender = event.get("sender") if isinstance(event.get("sender"), Mapping) else {}
    igsid = str(sender.get("id", "")) if sender else ""
    timestamp = _ms(event.get("timestamp"))
    meta: dict[str, Any] = {"timestamp": timestamp, "ig_account_id": account_id}
    if standby:
        meta["standby"] = True

    if isinstance(event.get("read"), Mapping):
        mid = event["read"].get("mid")
        if mid:
            out.read_mids.append(str(mid))
        else:  # Messenger-style watermark reads cannot be mapped to one message
            out.ignored += 1
        return

    if not igsid:
        raise MalformedDelivery("instagram messaging event without sender.id")
    message = event.get("message")
    if igsid in mine or (isinstance(message, Mapping) and message.get("is_echo")):
        out.ignored += 1  # the business's own send coming back: never a customer message
        return

    if isinstance(message, Mapping) and message.get("is_deleted"):
        mid = message.get("mid")
        if not mid:
            raise MalformedDelivery("instagram message without mid")
        # Meta reuses the deleted message's mid: the event id must differ from it.
        out.events.append(Retraction(f"{mid}:deleted", str(mid), sent_at(timestamp)))
    elif isinstance(message, Mapping):
        out.messages.append(_parse_message(message, igsid, timestamp, meta))
    elif isinstance(event.get("message_edit"), Mapping):
        edit = event["message_edit"]
        if not edit.get("mid"):
            raise MalformedDelivery("instagram message_edit without mid")
        event_id = f"{edit['mid']}:edit:{edit.get('num_edit', timestamp)}"
        out.events.append(Edit(event_id, str(edit["mid"]), str(edit.get("text") or ""), sent_at(timestamp)))
    elif isinstance(event.get("reaction"), Mapping):
        out.events.append(_parse_reaction(event["reaction"], igsid, timestamp, meta))
    elif isinstance(event.get("postback"), Mapping):
        out.events.append(_parse_postback(event["postback"], igsid, timestamp, meta))
    elif isinstance(event.get("referral"), Mapping):
        out.events.append(_parse_referral(event["referral"], igsid, timestamp, meta))
    else:
        log.debug("ignoring instagram event with keys %s", sorted(event))
        out.ignored += 1


def _parse_message(
    message: Mapping[str, Any], igsid: str, timestamp: int | None, meta: dict[str, Any]
) -> ParsedMessage:
    mid = message.get("mid")
    if not mid:
        raise MalformedDelivery("instagram message without mid")
    mid = str(mid)
    meta["mid"] = mid
    text = str(message.get("text") or "")
    lines: list[str] = []
    media: list[MediaRef] = []

    if message.get("is_unsupported"):
        meta["unsupported"] = True
        lines.append("(The customer sent a message type Instagram does not pass on to apps.)")

    reply_to = message.get("reply_to")
    if isinstance(reply_to, Mapping):
        story = reply_to.get("story")
        if isinstance(story, Mapping):
            meta["story"] = {"kind": "reply", "id": story.get("id"), "url": story.get("url")}
            text = f"Replied to your story: {text}" if text else "Replied to your story."
        elif reply_to.get("mid"):
            meta["reply_to_mid"] = str(reply_to["mid"])

    quick_reply = message.get("quick_reply")
    if isinstance(quick_reply, Mapping) and quick_reply.get("payload") is not None:
        meta["quick_reply_payload"] = quick_reply.get("payload")
    if isinstance(message.get("referral"), Mapping):
        meta["referral"] = dict(message["referral"])

    links: list[dict[str, Any]] = []
    for attachment in message.get("attachments") or ():
        if not isinstance(attachment, Mapping):
            continue
        kind = str(attachment.get("type", "")).lower()
        payload = attachment.get("payload") if isinstance(attachment.get("payload"), Mapping) else {}
        url = str(payload.get("url") or "") if payload else ""
        if kind in FETCHED_KINDS and url:
            media.append(MediaRef(kind, url))
        elif kind == "story_mention":
            # Meta: the story mention's media must not be stored; keep the CDN URL only
            meta["story"] = {"kind": "mention", "url": url or None}
            lines.append(f"Mentioned you in their story: {url}" if url else "Mentioned you in their story.")
        else:
            title = payload.get("title") if payload else None
            label = _LINK_LABELS.get(kind, f"Sent a {kind or 'unknown'} attachment")
            links.append({"type": kind, "url": url or None, "title": title})
            shown = f"{label}: {title} {url}" if title else f"{label}: {url}"
            lines.append(shown.strip().rstrip(":"))
    if links:
        meta["links"] = links

    body = "\n".join([text, *lines]) if text else "\n".join(lines)
    return ParsedMessage(mid, igsid, timestamp, body, tuple(media), meta)


def _parse_reaction(
    reaction: Mapping[str, Any], igsid: str, timestamp: int | None, meta: dict[str, Any]
) -> CustomerEvent:
    action = str(reaction.get("action") or "react")
    emoji = str(reaction.get("emoji") or "")
    name = reaction.get("reaction")
    target = str(reaction.get("mid") or "")
    meta["reaction"] = {"action": action, "emoji": emoji or None, "reaction": name, "mid": target or None}
    # reactions have no id of their own; the same webhook redelivered yields the same id
    event_id = _stable_id("reaction", igsid, target, action, emoji, name, timestamp)
    return _customer_event(event_id, igsid, timestamp, "reaction", meta)


def _parse_postback(
    postback: Mapping[str, Any], igsid: str, timestamp: int | None, meta: dict[str, Any]
) -> CustomerEvent:
    title = str(postback.get("title") or "")
    meta["postback"] = {"title": title or None, "payload": postback.get("payload")}
    mid = postback.get("mid")
    event_id = str(mid) if mid else _stable_id("postback", igsid, title, postback.get("payload"), timestamp)
    return _customer_event(event_id, igsid, timestamp, "postback", meta)


def _parse_referral(
    referral: Mapping[str, Any], igsid: str, timestamp: int | None, meta: dict[str, Any]
) -> CustomerEvent:
    meta["referral"] = dict(referral)
    event_id = _stable_id("referral", igsid, referral.get("ref"), referral.get("source"), timestamp)
    return _customer_event(event_id, igsid, timestamp, "referral", meta)
