"""Short-lived, signed public URLs for outbound images.

TalkTalk's Image Upload API takes no file bytes: it takes an ``imageUrl`` that Naver's
servers download once (``POST /chatbot/v1/imageUpload {"imageUrl": ...}`` -> ``imageId``).
So to send a manager's attachment, bridgekit serves the stored file itself for a minute at
``{public_url}/naver/media/{token}`` and hands that URL to the upload API.

The token is self-contained and signed (HMAC-SHA256 with a key derived from the
integration's secret), so any bridgekit process that knows the integration can serve it:
Naver's download may reach a different process than the one uploading.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

MEDIA_PREFIX = "/naver/media/"
MEDIA_ROUTE = MEDIA_PREFIX + "{token}"
DEFAULT_TTL_SECONDS = 120.0
_KEY_LABEL = b"bridgekit-naver-media-v1"


@dataclass(frozen=True, slots=True)
class MediaGrant:
    """What a valid token lets Naver download."""

    integration: str
    path: Path
    content_type: str
    expires_at: float


def media_key(secret: str) -> bytes:
    """The signing key for an integration, derived so the raw secret is never reused as is."""
    return hmac.new(secret.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(grant: MediaGrant, key: bytes) -> str:
    """A URL-safe token for ``grant``."""
    payload = json.dumps(
        {"i": grant.integration, "p": str(grant.path), "t": grant.content_type, "e": int(grant.expires_at)},
        separators=(",", ":"),
    ).encode("utf-8")
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def verify(token: str, key_for: Callable[[str], bytes | None], now: float | None = None) -> MediaGrant | None:
    """The grant behind ``token``, or ``None`` if it is forged, unknown or expired."""
    try:
        payload_b64, mac_b64 = token.split(".", 1)
        payload = _unb64(payload_b64)
        mac = _unb64(mac_b64)
        fields = json.loads(payload)
        grant = MediaGrant(str(fields["i"]), Path(fields["p"]), str(fields["t"]), float(fields["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    key = key_for(grant.integration)
    if key is None:
        return None
    if not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).digest()):
        return None
    if grant.expires_at < (time.time() if now is None else now):
        return None
    return grant


def media_handler(
    key_for: Callable[[str], bytes | None],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler serving granted files; 404 for anything else (no oracle)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        grant = verify(request.match_info.get("token", ""), key_for)
        if grant is None:
            raise web.HTTPNotFound()
        try:
            data = await asyncio.to_thread(grant.path.read_bytes)
        except OSError:
            raise web.HTTPNotFound() from None
        # TalkTalk requires the Content-Type to match the image (README, imageContent).
        return web.Response(body=data, content_type=grant.content_type, headers={"Cache-Control": "no-store"})

    return handle
