"""A channel's ``Capabilities`` enforced on what managers send, before anything is stored.

A reply (``POST /api/v1/chats/{id}/messages``) or a started chat (``POST /api/v1/chats``)
the channel could not deliver is refused here rather than accepted with 201 and failed later
by the outbox: too many files or an unsupported kind (422), a file over the channel's size
(413), a text longer than the channel takes, counted in its own unit (422). The message names
the channel and the limit, for the manager to act on. Internal notes never leave bridgekit and
are not limited by the channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridgekit.exceptions import RequestRefused
from bridgekit.model import ChannelSpec

#: The longest text a manager may write in any chat (characters), whatever the channel.
MAX_TEXT = 50_000


class CapabilityError(RequestRefused):
    """What a manager sent exceeds what the channel can deliver; ``status`` is the answer."""


def _type_matches(content_type: str, pattern: str) -> bool:
    if pattern.endswith("/*"):
        return content_type.startswith(pattern[:-1])
    return content_type == pattern


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    """The sending limits of one channel, with messages naming them."""

    spec: ChannelSpec

    @property
    def title(self) -> str:
        return self.spec.title

    def check_text(self, text: str) -> None:
        caps = self.spec.capabilities
        if caps.max_text_length is None:
            return
        length = caps.text_unit.measure(text)
        if length > caps.max_text_length:
            unit = caps.text_unit.name
            raise CapabilityError(
                f"{self.title} takes at most {caps.max_text_length} {unit} per message; "
                f"this text is {length}",
                status=422,
            )

    def check_count(self, count: int) -> None:
        """Refuse a reply's ``count``-th file when the channel takes fewer."""
        limit = self.spec.capabilities.max_attachments
        if count > limit:
            raise CapabilityError(f"{self.title} takes at most {limit} attachments per message", status=422)

    def check_kind(self, filename: str, content_type: str) -> None:
        caps = self.spec.capabilities
        kind = content_type.split(";", 1)[0].strip().lower()
        if not caps.supports_images and kind.startswith("image/"):
            raise CapabilityError(f"{self.title} cannot send images ({filename} is {kind})", status=422)
        if caps.attachment_types and not any(_type_matches(kind, p) for p in caps.attachment_types):
            raise CapabilityError(
                f"{self.title} can only send {', '.join(caps.attachment_types)} attachments; "
                f"{filename} is {kind}",
                status=422,
            )

    def max_bytes(self, content_type: str) -> int:
        """The largest file of ``content_type`` the channel sends."""
        caps = self.spec.capabilities
        kind = content_type.split(";", 1)[0].strip().lower()
        if caps.max_image_bytes is not None and any(_type_matches(kind, p) for p in caps.image_types):
            return caps.max_image_bytes
        return caps.max_attachment_bytes

    def check_size(self, filename: str, content_type: str, size: int) -> None:
        limit = self.max_bytes(content_type)
        if size > limit:
            what = "images" if limit != self.spec.capabilities.max_attachment_bytes else "attachments"
            raise CapabilityError(
                f"{self.title} takes {what} of at most {human_size(limit)}; {filename} is larger",
                status=413,
                code="file_too_large",
                details={"filename": filename, "limit": human_size(limit)},
            )

    def check_file(self, filename: str, content_type: str, size: int) -> None:
        self.check_kind(filename, content_type)
        self.check_size(filename, content_type, size)


def human_size(size: int) -> str:
    """``size`` bytes as "25 MB", "1 GB", "512 bytes"."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"
