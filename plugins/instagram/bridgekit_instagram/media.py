"""Inbound attachment download.

A webhook carries Meta CDN URLs (``payload.url``), not content, and they expire after a
while, so the content is fetched during ingest. A failed fetch never fails the ingest: the
message keeps a readable note and the URL in ``meta``. (Outbound attachments are downloaded
by Meta from bridgekit's own signed media URL, ``OutboundAttachment.url``.)
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import aiohttp

from bridgekit.channelkit import fetch_media
from bridgekit.model import InboundAttachment

from .events import MediaRef

MAX_INBOUND_BYTES = 25 * 1024 * 1024
"""Meta's largest attachment (video, audio, file: 25 MB)."""

_DEFAULT_TYPES = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/mp4",
    "file": "application/octet-stream",
}


@dataclass(frozen=True, slots=True)
class FetchFailure:
    kind: str
    url: str
    reason: str


def _filename(ref: MediaRef, index: int, content_type: str) -> str:
    name = PurePosixPath(urlsplit(ref.url).path).name
    if name and "." in name and len(name) <= 120:
        return name
    ext = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ""
    return f"instagram-{ref.kind}-{index + 1}{ext}"


async def _fetch_one(
    session: aiohttp.ClientSession, ref: MediaRef, index: int, seconds: float
) -> InboundAttachment:
    media = await fetch_media(session, ref.url, max_bytes=MAX_INBOUND_BYTES, timeout=seconds)
    content_type = media.content_type or _DEFAULT_TYPES.get(ref.kind, "application/octet-stream")
    return InboundAttachment(_filename(ref, index, content_type), content_type, media.data)


async def fetch_all(
    session: aiohttp.ClientSession, refs: Sequence[MediaRef], seconds: float
) -> tuple[list[InboundAttachment], list[FetchFailure]]:
    """Download every attachment concurrently, each within ``seconds``; failures are
    reported, never raised."""
    results = await asyncio.gather(
        *(_fetch_one(session, ref, i, seconds) for i, ref in enumerate(refs)), return_exceptions=True
    )
    fetched: list[InboundAttachment] = []
    failed: list[FetchFailure] = []
    for ref, result in zip(refs, results, strict=True):
        if isinstance(result, InboundAttachment):
            fetched.append(result)
        elif isinstance(result, asyncio.CancelledError):
            raise result
        else:
            failed.append(FetchFailure(ref.kind, ref.url, str(result) or type(result).__name__))
    return fetched, failed
