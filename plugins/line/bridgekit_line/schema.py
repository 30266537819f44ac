"""The documented types of the LINE webhook fields this plugin reads, checked before parsing.

A field that is present must have its documented type (``userId: 12345`` or ``text: {}`` is
refused as malformed: kept raw and answered 400); absent fields and fields not listed here are
not checked, so new LINE fields and event types keep working. The check
(:func:`bridgekit.payloads.check_types`) costs about 0.5 us a body; the parser keeps reading the
original dicts, extra keys included.

Types from https://developers.line.biz/en/reference/messaging-api/#webhook-event-objects.
"""

from __future__ import annotations

from typing import TypedDict

from bridgekit.payloads import check_types


class Source(TypedDict, total=False):
    type: str
    userId: str
    groupId: str
    roomId: str


class DeliveryContext(TypedDict, total=False):
    isRedelivery: bool


class ContentProvider(TypedDict, total=False):
    type: str
    originalContentUrl: str
    previewImageUrl: str


class ImageSet(TypedDict, total=False):
    id: str
    index: int
    total: int


class Message(TypedDict, total=False):
    id: str
    type: str
    text: str
    quoteToken: str
    quotedMessageId: str
    contentProvider: ContentProvider
    imageSet: ImageSet
    duration: int
    fileName: str
    fileSize: int
    packageId: str
    stickerId: str
    stickerResourceType: str
    keywords: list[str]
    title: str
    address: str
    latitude: float
    longitude: float


class Follow(TypedDict, total=False):
    isUnblocked: bool


class Postback(TypedDict, total=False):
    data: str
    params: dict[str, str]


class Unsend(TypedDict, total=False):
    messageId: str


class Members(TypedDict, total=False):
    members: list[Source]


class Beacon(TypedDict, total=False):
    hwid: str
    type: str
    dm: str


class Link(TypedDict, total=False):
    result: str
    nonce: str


class VideoPlayComplete(TypedDict, total=False):
    trackingId: str


class Event(TypedDict, total=False):
    type: str
    mode: str
    timestamp: int
    source: Source
    webhookEventId: str
    deliveryContext: DeliveryContext
    replyToken: str
    message: Message  # message and messageEdited
    follow: Follow
    postback: Postback
    unsend: Unsend
    joined: Members
    left: Members
    beacon: Beacon
    link: Link  # accountLink
    videoPlayComplete: VideoPlayComplete


class Body(TypedDict, total=False):
    destination: str
    events: list[Event]


def check_body(data: object) -> None:
    """Raise :class:`~bridgekit.exceptions.MalformedDelivery` naming the first field of the
    wrong type."""
    check_types(data, Body, "LINE")
