"""Signed, expiring public URLs for outbound attachments (what providers download).

LINE, Instagram and Naver take media by URL, not by upload. The URL names the content by
its attachment id only — no path, no content type: the ``attachments`` row gives both — and
carries ``HMAC-SHA256(media key, "<attachment id>:<expires>")``, so it opens that one
attachment until ``expires`` (Unix seconds) and nothing else. The media key is a random file
of the server's own (:mod:`bridgekit.storage.keyfiles`), so every process of one installation
can check any URL and nobody outside can make one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote

KEY_NAME = "media_url.key"
ROUTE_PREFIX = "/media/"
DEFAULT_TTL_SECONDS = 3600


class MediaUrls:
    """Signs and checks ``/media/{attachment_id}/{expires}/{signature}/{filename}`` paths."""

    def __init__(self, key: bytes, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> None:
        self._key = key
        self.ttl_seconds = ttl_seconds

    def _signature(self, attachment_id: int, expires: int) -> str:
        digest = hmac.new(self._key, f"{attachment_id}:{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def path(self, attachment_id: int, filename: str, *, now: float | None = None) -> str:
        """The signed path of one attachment; the file name is only there to be readable."""
        expires = int(time.time() if now is None else now) + self.ttl_seconds
        name = quote(filename or "file", safe="")
        return f"{ROUTE_PREFIX}{attachment_id}/{expires}/{self._signature(attachment_id, expires)}/{name}"

    def check(self, attachment_id: int, expires: int, signature: str, *, now: float | None = None) -> bool:
        """Whether ``signature`` was made for exactly this attachment and expiry, and still holds."""
        expected = self._signature(attachment_id, expires)
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
            return False
        return expires >= (time.time() if now is None else now)
