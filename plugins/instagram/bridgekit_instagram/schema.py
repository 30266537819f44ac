"""The documented types of the Instagram messaging webhook fields this plugin reads.

Checked with :func:`bridgekit.payloads.check_types` before parsing: a field present with
another type (``"sender": {"id": {}}``, ``"text": []``) makes the delivery malformed (kept
raw, 400) instead of a message from a bogus contact. Absent and unlisted fields are not
checked. Ids are strings; ``timestamp`` is epoch milliseconds, or seconds as a string in the
App Dashboard's test events. From Meta's "Webhooks for Instagram Messaging" and the
Messenger Platform's ``message_edits`` reference.
"""

from __future__ import annotations

from typing import Any, TypedDict


class Party(TypedDict, total=False):
    id: str


class AttachmentPayload(TypedDict, total=False):
    url: str
    title: str | None


class Attachment(TypedDict, total=False):
    type: str
    payload: AttachmentPayload


class Story(TypedDict, total=False):
    id: str
    url: str


class ReplyTo(TypedDict, total=False):
    mid: str
    story: Story


class QuickReply(TypedDict, total=False):
    payload: str


class Message(TypedDict, total=False):
    mid: str
    text: str
    is_echo: bool
    is_deleted: bool
    is_unsupported: bool
    attachments: list[Attachment]
    reply_to: ReplyTo
    quick_reply: QuickReply
    referral: dict[str, Any]


class MessageEdit(TypedDict, total=False):
    mid: str
    text: str
    num_edit: int


class Reaction(TypedDict, total=False):
    mid: str
    action: str
    reaction: str
    emoji: str


class Read(TypedDict, total=False):
    mid: str


class Postback(TypedDict, total=False):
    mid: str
    title: str
    payload: str


class Referral(TypedDict, total=False):
    ref: str
    source: str
    type: str


class MessagingEvent(TypedDict, total=False):
    sender: Party
    recipient: Party
    timestamp: int | str
    message: Message
    message_edit: MessageEdit
    reaction: Reaction
    read: Read
    postback: Postback
    referral: Referral


class Change(TypedDict, total=False):
    field: str
    value: dict[str, Any]  # a MessagingEvent when field is "messages", checked then


class Entry(TypedDict, total=False):
    id: str
    time: int
    messaging: list[MessagingEvent]
    standby: list[MessagingEvent]
    changes: list[Change]


class Body(TypedDict, total=False):
    object: str
    entry: list[Entry]
