"""The documented types of the TalkTalk webhook fields this plugin reads.

Checked with :func:`bridgekit.payloads.check_types` before parsing: a field present with
another type (``"text": {}``, ``"mobile": "yes"``) makes the delivery malformed (kept raw,
400) instead of an empty or garbled message. Absent and unlisted fields are not checked.
From the Chat Bot API README ("이벤트 기본 구조" and each event's section).
"""

from __future__ import annotations

from typing import Any, TypedDict


class Options(TypedDict, total=False):
    set: str  # friend: "on" / "off"
    mobile: bool
    standby: bool
    inflow: str  # open: "list", "button", "none"
    referer: str
    friend: bool
    under14: bool
    under19: bool


class TextContent(TypedDict, total=False):
    text: str
    inputType: str
    code: str


class ImageContent(TypedDict, total=False):
    imageUrl: str


class Event(TypedDict, total=False):
    event: str
    user: str
    standby: bool
    options: Options
    textContent: TextContent
    imageContent: ImageContent
    compositeContent: dict[str, Any]  # rendered leniently: only shown as text
