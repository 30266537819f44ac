"""TalkTalk webhook events: parsing and normalising into bridgekit messages.

Every webhook body is one JSON event (Chat Bot API README, "이벤트 기본 구조")::

    {"event": "send", "user": "al-2eGuGr5WQOnco1_V-FQ", "textContent": {...}, "options": {...}}

What each event becomes (the choices are documented in the plugin README too):

``send``
    A customer message. ``textContent.text`` is the text; ``imageContent.imageUrl`` is
    fetched into an attachment by the plugin; ``compositeContent`` is rendered as readable
    text. ``inputType``, button ``code`` and the handover ``standby`` flag go into ``meta``.
``friend``, ``open``, ``leave``
    Not messages: customer events (:class:`~bridgekit.model.CustomerEvent`) on the
    customer's profile timeline. ``friend`` is ``follow`` / ``unfollow`` (it changes who can
    receive the account's group messages; Naver advises against replying to it). ``open``
    fires whenever the customer merely looks at the chat window (also from the chat list, to
    read history), with where they came from (``inflow``, ``referer``) in its data; ``leave``
    is not a wish to end the conversation (README). Neither opens nor reopens a chat.
``echo``
    Never a message. TalkTalk echoes every message the partner sent — including the ones
    bridgekit itself delivered — and re-sending or storing them as customer messages would
    loop (README, "echo 이벤트", 주의).
``action``, ``handover``, ``persistentMenu``, ``profile``, unknown
    Ignored (the core keeps the raw delivery). ``action`` is a typing indicator,
    ``handover`` is Naver's own bot/partner-center routing, the rest are settings or answers
    to requests bridgekit never makes.

Field types are checked first (:mod:`bridgekit_naver.schema`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridgekit.exceptions import MalformedDelivery
from bridgekit.model import Contact, CustomerEvent, InboundAttachment, InboundMessage
from bridgekit.payloads import check_types, parse_json
from bridgekit_naver.schema import Event

#: The contact kind of a TalkTalk user id. The id is scoped to one partner account, so it
#: is not ``shared`` across integrations; TalkTalk vouches for it, so it is ``verified``.
CONTACT_KIND = "naver"


@dataclass(frozen=True, slots=True)
class TalkTalkEvent:
    """One parsed webhook event; ``raw`` is the whole decoded JSON object."""

    name: str
    user: str | None
    options: Mapping[str, Any] = field(default_factory=dict)
    text_content: Mapping[str, Any] | None = None
    image_content: Mapping[str, Any] | None = None
    composite_content: Mapping[str, Any] | None = None
    standby: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def image_url(self) -> str | None:
        """The ``imageContent.imageUrl`` of a customer's image, if any."""
        if self.image_content is None:
            return None
        url = self.image_content.get("imageUrl")
        return url if isinstance(url, str) and url else None


def parse_event(body: bytes) -> TalkTalkEvent:
    """Decode one webhook body. Raise :class:`MalformedDelivery` if it is no TalkTalk event."""
    try:
        data = parse_json(body)
    except ValueError as exc:
        raise MalformedDelivery(f"TalkTalk webhook body is {exc}") from None
    if not isinstance(data, dict):
        raise MalformedDelivery("TalkTalk webhook body is not a JSON object")
    check_types(data, Event, "TalkTalk")
    name = data.get("event")
    if not isinstance(name, str) or not name:
        raise MalformedDelivery('TalkTalk webhook body has no "event" name')
    user = data.get("user")
    if user is not None and not isinstance(user, str):
        raise MalformedDelivery('TalkTalk webhook "user" is not a string')
    options = data.get("options")
    return TalkTalkEvent(
        name=name,
        user=user or None,
        options=options if isinstance(options, dict) else {},
        text_content=_object(data, "textContent"),
        image_content=_object(data, "imageContent"),
        composite_content=_object(data, "compositeContent"),
        # Handover API: "standby" sits at the top level of a send event.
        standby=bool(data.get("standby") or (isinstance(options, dict) and options.get("standby"))),
        raw=data,
    )


def _object(data: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedDelivery(f"TalkTalk webhook {key!r} is not an object")
    return value


def event_id_for(body: bytes, received_at: datetime | None, window_seconds: float) -> str:
    """A stable dedupe id for an event that carries none.

    TalkTalk events have no id and no timestamp, so the id is a hash of the raw body: a
    redelivery of the same bytes dedupes. Two *genuine* messages can have identical bytes
    too (a customer typing "네" today and again next week), so the hash is combined with
    the window of ``window_seconds`` the delivery arrived in: identical bytes within one
    window are one event, identical bytes later are a new one. A replay of a stored raw
    delivery keeps its original ``received_at`` and therefore its id. ``window_seconds``
    of 0 (or no ``received_at``) means the body alone.
    """
    digest = hashlib.sha256(body).hexdigest()[:48]
    if received_at is None or window_seconds <= 0:
        return f"naver:{digest}"
    bucket = int(received_at.timestamp() // window_seconds)
    return f"naver:{digest}:{bucket}"


def sender_of(event: TalkTalkEvent) -> Contact:
    """The customer behind ``event`` as a bridgekit contact."""
    if not event.user:
        raise MalformedDelivery(f'TalkTalk {event.name!r} event has no "user"')
    return Contact(kind=CONTACT_KIND, value=event.user, verified=True, shared=False)


def normalise(
    event: TalkTalkEvent,
    event_id: str,
    *,
    sent_at: datetime | None = None,
    attachments: Sequence[InboundAttachment] = (),
    image_error: str | None = None,
) -> list[InboundMessage]:
    """Turn ``event`` into bridgekit messages (none for the ignored kinds).

    For an image the plugin fetches ``event.image_url`` first and passes the result as
    ``attachments`` or, when that failed, ``image_error``: the message then says so and
    keeps the URL, so a manager still sees that an image was sent.
    """
    if event.name == "send":
        return [_customer_message(event, event_id, sent_at, attachments, image_error)]
    # Everything else is not a message (see the module docstring and customer_event).
    return []


def customer_event(
    event: TalkTalkEvent, event_id: str, sent_at: datetime | None = None
) -> CustomerEvent | None:
    """The customer event ``event`` is (``friend``, ``open``, ``leave``), else None."""
    if not event.user:
        return None
    kind: str | None = None
    data: dict[str, Any] = {"naver_event": event.name}
    if event.name == "friend":
        state = str(event.options.get("set", "")).lower()
        kind = {"on": "follow", "off": "unfollow"}.get(state)
        data["set"] = state
    elif event.name == "open":
        kind = "open"
        data["options"] = dict(event.options)  # inflow, referer: where the customer came from
    elif event.name == "leave":
        kind = "leave"
    if kind is None:
        return None
    sender = sender_of(event)
    return CustomerEvent(event_id, sender, sender.value, kind, data, sent_at)


def _customer_message(
    event: TalkTalkEvent,
    event_id: str,
    sent_at: datetime | None,
    attachments: Sequence[InboundAttachment],
    image_error: str | None,
) -> InboundMessage:
    sender = sender_of(event)
    meta: dict[str, Any] = {"naver_event": "send"}
    if event.standby:
        meta["standby"] = True
    if "mobile" in event.options:
        meta["mobile"] = bool(event.options["mobile"])
    text = ""
    if event.text_content is not None:
        text = _text_of(event.text_content, meta)
    elif event.image_content is not None:
        url = event.image_url
        meta["image_url"] = url
        if not attachments:
            text = f"[Image could not be loaded: {url or 'no imageUrl'}]"
            if image_error:
                meta["image_error"] = image_error
    elif event.composite_content is not None:
        text = composite_text(event.composite_content)
        meta["content"] = "composite"
    else:
        extra = sorted(k for k in event.raw if k.endswith("Content"))
        text = f"[Unsupported TalkTalk message: {', '.join(extra) or 'no content'}]"
    return InboundMessage(
        event_id=event_id,
        sender=sender,
        thread_key=sender.value,
        text=text,
        attachments=tuple(attachments),
        sent_at=sent_at,
        meta=meta,
    )


def _text_of(content: Mapping[str, Any], meta: dict[str, Any]) -> str:
    text = content.get("text")
    text = text if isinstance(text, str) else ""
    input_type = content.get("inputType")
    if isinstance(input_type, str) and input_type:
        meta["input_type"] = input_type
    code = content.get("code")
    if isinstance(code, str) and code:
        meta["code"] = code  # the button the customer pressed (compositeContent buttons)
    if input_type == "vphone":
        # "050719003814,2017-11-03": a safe (virtual) number and its expiry date.
        number, _, until = text.partition(",")
        meta["safe_number"] = number
        return f"Asked to be called back on the safe number {number}" + (
            f" (valid until {until})." if until else "."
        )
    return text


def composite_text(content: Mapping[str, Any]) -> str:
    """Render a ``compositeContent`` readably: titles, descriptions, list items, buttons."""
    lines: list[str] = []
    composites = content.get("compositeList")
    for composite in composites if isinstance(composites, list) else []:
        if not isinstance(composite, dict):
            continue
        if lines:
            lines.append("")
        for key in ("title", "description"):
            if isinstance(composite.get(key), str) and composite[key]:
                lines.append(composite[key])
        image = composite.get("image")
        if isinstance(image, dict) and isinstance(image.get("imageUrl"), str):
            lines.append(f"[Image: {image['imageUrl']}]")
        elements = composite.get("elementList")
        data = elements.get("data") if isinstance(elements, dict) else None
        for item in data if isinstance(data, list) else []:
            if isinstance(item, dict):
                parts = [str(item[k]) for k in ("title", "description", "subDescription") if item.get(k)]
                if parts:
                    lines.append("- " + " / ".join(parts))
        buttons = composite.get("buttonList")
        titles = _button_titles(buttons if isinstance(buttons, list) else [])
        if titles:
            lines.append("Buttons: " + ", ".join(titles))
    return "\n".join(lines) if lines else "[Empty TalkTalk composite message]"


def _button_titles(buttons: Sequence[Any]) -> list[str]:
    titles: list[str] = []
    for button in buttons:
        if not isinstance(button, dict):
            continue
        data = button.get("data")
        if not isinstance(data, dict):
            continue
        if button.get("type") == "PAY":
            titles.append("[Naver Pay]")
        elif isinstance(data.get("title"), str):
            label = data["title"]
            if button.get("type") == "LINK" and isinstance(data.get("url"), str):
                label = f"{label} <{data['url']}>"
            titles.append(label)
    return titles
