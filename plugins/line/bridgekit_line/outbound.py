"""Build LINE message objects for one outbound message, within LINE's limits.

Limits (Messaging API reference): at most 5 message objects per reply/push call; a text
object holds at most 5000 characters (LINE counts UTF-16 code units: an emoji outside the
BMP counts twice); an image object needs ``originalContentUrl`` and ``previewImageUrl``,
both HTTPS, at most 2000 characters, JPEG or PNG, at most 10 MB (preview 1 MB).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from bridgekit.channelkit import UTF16_UNITS, split_text, text_length
from bridgekit.exceptions import PermanentDeliveryError
from bridgekit.model import OutboundAttachment, OutboundMessage

MAX_MESSAGES_PER_CALL = 5
MAX_TEXT_CHARS = 5000
#: A long manager reply becomes at most this many text objects (25 000 characters).
MAX_TEXT_OBJECTS = 5
MAX_URL_CHARS = 2000
MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})

#: Namespace of the retry keys derived from bridgekit idempotency keys (uuid5 below).
RETRY_KEY_NAMESPACE = uuid.UUID("6f0c7d52-9a43-5b8e-8c1e-4b1d2f3a5c61")


def retry_key(idempotency_key: str, batch: int) -> str:
    """The ``X-Line-Retry-Key`` of call ``batch`` of an outbound message.

    Derived (UUIDv5) from the message's idempotency key, so every attempt — including one
    after a crash and restart — sends the same key and LINE accepts the push only once.
    """
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, f"{idempotency_key}#{batch}"))


def _media_url(attachment: OutboundAttachment) -> str:
    """bridgekit's signed URL of ``attachment`` (LINE downloads it), which LINE wants HTTPS."""
    url = attachment.url
    if url is None or not url.startswith("https://"):
        raise PermanentDeliveryError(
            "LINE downloads attachments only from public HTTPS URLs, and bridgekit's [server] "
            "public_url is "
            + ("not set" if url is None else "not an https:// address")
            + "; set it to the https address where LINE can reach bridgekit, or send text only"
        )
    if len(url) > MAX_URL_CHARS:
        raise PermanentDeliveryError(
            f"attachment URL for {attachment.filename!r} is over {MAX_URL_CHARS} characters"
        )
    return url


def _image(attachment: OutboundAttachment) -> dict[str, Any]:
    if attachment.size > MAX_IMAGE_BYTES:
        raise PermanentDeliveryError(
            f"LINE image messages are limited to {MAX_IMAGE_BYTES // (1024 * 1024)} MB; "
            f"{attachment.filename!r} is {attachment.size} bytes"
        )
    url = _media_url(attachment)
    return {"type": "image", "originalContentUrl": url, "previewImageUrl": url}


def build_messages(message: OutboundMessage) -> list[dict[str, Any]]:
    """All LINE message objects for ``message``: its text, then one per attachment.

    JPEG/PNG attachments become image messages; other files (LINE bots cannot send files)
    become a text message with a download link. Both use the attachment's signed URL, which
    expires after ``[server] media_url_ttl`` seconds.
    """
    objects: list[dict[str, Any]] = []
    chunks = split_text(message.text, MAX_TEXT_CHARS, UTF16_UNITS)
    if len(chunks) > MAX_TEXT_OBJECTS:
        raise PermanentDeliveryError(
            f"message is too long for LINE: {text_length(message.text, UTF16_UNITS)} characters, at most "
            f"{MAX_TEXT_OBJECTS * MAX_TEXT_CHARS} ({MAX_TEXT_OBJECTS} messages of {MAX_TEXT_CHARS})"
        )
    objects.extend({"type": "text", "text": chunk} for chunk in chunks)
    for attachment in message.attachments:
        if attachment.content_type.lower() in IMAGE_TYPES:
            objects.append(_image(attachment))
        else:
            link = _media_url(attachment)
            objects.append({"type": "text", "text": f"📎 {attachment.filename}: {link}"[:MAX_TEXT_CHARS]})
    if not objects:
        raise PermanentDeliveryError("nothing to send: the message has no text and no attachments")
    return objects


def batches(objects: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split message objects into calls of at most :data:`MAX_MESSAGES_PER_CALL`."""
    step = MAX_MESSAGES_PER_CALL
    return [list(objects[i : i + step]) for i in range(0, len(objects), step)]
