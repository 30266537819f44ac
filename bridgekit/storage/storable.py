"""Can a string be stored as text in both databases, and making inbound text storable.

PostgreSQL refuses NUL characters in text columns and no driver can encode a lone UTF-16
surrogate (which JSON's ``"\\ud800"`` escape or a mail decoded with ``surrogateescape`` can
produce). What a manager sends through the API is refused up front (:func:`storable`: a clear
400 instead of a 500); what a provider delivers cannot be refused without losing it, so it is
cleaned (:func:`clean_text`, :func:`clean_json`) before it is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bridgekit.model import (
    Contact,
    CustomerProfile,
    Edit,
    InboundMessage,
    ProviderEvent,
    Retraction,
)

_SURROGATES = re.compile("[\ud800-\udfff]")


def storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_text(text: str) -> str:
    """``text`` without NUL characters, lone surrogates replaced by U+FFFD.

    Cheap for the common case: ``isascii`` is a flag lookup, and ASCII text can only hold NUL.
    """
    if text.isascii():
        return text.replace("\x00", "") if "\x00" in text else text
    if storable(text):  # faster than a regex search
        return text
    return _SURROGATES.sub("\ufffd", text.replace("\x00", ""))


def clean_json(value: Any) -> Any:
    """``value`` (JSON-like: mappings, lists, strings...) with every string cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {clean_json(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def _storable_contact(contact: Contact) -> Contact:
    kind, value = clean_text(contact.kind), clean_text(contact.value)
    name = clean_text(contact.name) if contact.name else contact.name
    if kind is contact.kind and value is contact.value and name is contact.name:
        return contact
    return replace(contact, kind=kind, value=value, name=name)


def _cleaned_all(values: Sequence[str]) -> Sequence[str]:
    cleaned = [clean_text(v) for v in values]
    return values if all(c is v for c, v in zip(cleaned, values, strict=True)) else cleaned


def _storable_joined(joined: str) -> bool:
    """Whether ``joined`` (every text of a message, concatenated) is storable as it is: one
    check for them all on the hot path, instead of a call per field."""
    if "\x00" in joined:
        return False
    if joined.isascii():  # a flag lookup
        return True
    try:
        # Strict UTF-8 fails on a lone surrogate and nothing else: 4x faster than a regex
        # search for one, on the mixed text and ids of a message.
        joined.encode()
    except UnicodeEncodeError:
        return False
    return True


def storable_message(message: InboundMessage) -> InboundMessage:
    """``message`` with every text the core stores cleaned (the same object when all are)."""
    sender = message.sender
    joined = "".join(
        (message.text, message.event_id, message.thread_key, sender.kind, sender.value,
         message.title or "", sender.name or "")
    )  # fmt: skip
    if message.thread_refs:  # not unpacked into the tuple above: that builds a list first
        joined += "".join(message.thread_refs)
    if not message.attachments and _storable_joined(joined):
        return message
    text, title = clean_text(message.text), clean_text(message.title) if message.title else message.title
    event_id, thread_key = clean_text(message.event_id), clean_text(message.thread_key)
    sender, refs = _storable_contact(message.sender), _cleaned_all(message.thread_refs)
    attachments = message.attachments
    if attachments:
        cleaned = [
            replace(a, filename=clean_text(a.filename), content_type=clean_text(a.content_type))
            for a in attachments
        ]
        if any(c != a for c, a in zip(cleaned, attachments, strict=True)):
            attachments = cleaned
    if (
        text is message.text
        and title is message.title
        and event_id is message.event_id
        and thread_key is message.thread_key
        and sender is message.sender
        and refs is message.thread_refs
        and attachments is message.attachments
    ):
        return message
    return replace(
        message,
        text=text,
        title=title,
        event_id=event_id,
        thread_key=thread_key,
        sender=sender,
        thread_refs=refs,
        attachments=attachments,
    )


# Profiles found storable, by id. Plugins cache profiles and hand out the same object for
# every message of a sender, so most checks are one look-up. Each entry holds its profile,
# so its id cannot be reused while it is here; only profiles whose checked fields cannot
# change (frozen, contacts a tuple of frozen contacts) are remembered.
_STORABLE_PROFILES: dict[int, CustomerProfile] = {}
_REMEMBERED_PROFILES = 4096


def storable_profile(profile: CustomerProfile) -> CustomerProfile:
    """``profile`` with its name and contacts cleaned (the same object when they are)."""
    if _STORABLE_PROFILES.get(id(profile)) is profile:
        return profile
    contacts = profile.contacts
    if _storable_joined(
        "".join([profile.name or ""] + [c.kind + c.value + (c.name or "") for c in contacts])
    ):
        if type(contacts) is tuple:
            if len(_STORABLE_PROFILES) >= _REMEMBERED_PROFILES:
                _STORABLE_PROFILES.clear()
            _STORABLE_PROFILES[id(profile)] = profile
        return profile
    name = clean_text(profile.name) if profile.name else profile.name
    contacts = [_storable_contact(c) for c in profile.contacts]
    if name is profile.name and all(c is o for c, o in zip(contacts, profile.contacts, strict=True)):
        return profile
    return replace(profile, name=name, contacts=contacts)


def storable_event(event: ProviderEvent) -> ProviderEvent:
    """A provider event (retraction, edit, customer event) with every stored text cleaned."""
    if isinstance(event, Edit):
        return replace(
            event,
            event_id=clean_text(event.event_id),
            message_ref=clean_text(event.message_ref),
            text=clean_text(event.text),
        )
    if isinstance(event, Retraction):
        return replace(event, event_id=clean_text(event.event_id), message_ref=clean_text(event.message_ref))
    return replace(
        event,
        event_id=clean_text(event.event_id),
        sender=_storable_contact(event.sender),
        thread_key=clean_text(event.thread_key),
        kind=clean_text(event.kind),
        data=clean_json(event.data),
    )
