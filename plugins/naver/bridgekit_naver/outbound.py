"""Turning one bridgekit outbound message into TalkTalk ``send`` events.

TalkTalk's ``send`` event carries exactly one of ``textContent``, ``imageContent`` or
``compositeContent`` (README, "send 이벤트"), so a reply with text and two images is three
events. Text is limited to 10,000 characters "영문/한글 구분 없이" (README, textContent);
longer text is split into several messages, at a line break or space where possible (its
servers are Java, so a character is a UTF-16 code unit and an emoji counts twice).
Images must be JPG/JPEG/PNG/GIF of at most 20 MB (README, imageContent); anything else is
refused up front, before anything is sent, with a reason the manager can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridgekit.channelkit import UTF16_UNITS, split_text
from bridgekit.exceptions import PermanentDeliveryError
from bridgekit.model import OutboundAttachment, OutboundMessage

#: README, textContent: "텍스트의 최대 길이는 영문/한글 구분 없이 1만자 이내".
MAX_TEXT_CHARS = 10_000
#: README, imageContent: "이미지는 최대 20MB 용량까지".
MAX_IMAGE_BYTES = 20 * 1024 * 1024
#: README, imageContent: "사용 가능한 이미지 포맷은 JPG, JPEG, PNG, GIF".
IMAGE_CONTENT_TYPES: frozenset[str] = frozenset({"image/jpeg", "image/jpg", "image/png", "image/gif"})


@dataclass(frozen=True, slots=True)
class Part:
    """One ``send`` event to make: a text chunk or an image."""

    text: str | None = None
    attachment: OutboundAttachment | None = None


def plan_parts(message: OutboundMessage) -> list[Part]:
    """The events for ``message``: text chunks first, then one per image."""
    bad = [a for a in message.attachments if a.content_type.lower() not in IMAGE_CONTENT_TYPES]
    if bad:
        names = ", ".join(f"{a.filename} ({a.content_type})" for a in bad)
        raise PermanentDeliveryError(
            f"Naver TalkTalk can only send JPG, PNG or GIF images, not: {names}; nothing was sent"
        )
    big = [a for a in message.attachments if a.size > MAX_IMAGE_BYTES]
    if big:
        names = ", ".join(f"{a.filename} ({a.size} bytes)" for a in big)
        raise PermanentDeliveryError(f"Naver TalkTalk images are limited to 20 MB: {names}; nothing was sent")
    parts = [Part(text=chunk) for chunk in split_text(message.text, MAX_TEXT_CHARS, UTF16_UNITS)]
    parts.extend(Part(attachment=a) for a in message.attachments)
    if not parts:
        raise PermanentDeliveryError("nothing to send: the message has no text and no images")
    return parts
