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


class AttachmentTooLarge(Exception):
    pass


def _filename(ref: MediaRef, index: int, content_type: str) -> str:
    name = PurePosixPath(urlsplit(ref.url).path).name
    if name and "." in name and len(name) <= 120:
        return name
    ext = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ""
    return f"instagram-{ref.kind}-{index + 1}{ext}"


async def _fetch_one(
    session: aiohttp.ClientSession, ref: MediaRef, index: int, seconds: float
) -> InboundAttachment:
    if urlsplit(ref.url).scheme not in {"http", "https"}:
        raise ValueError("not an http(s) URL")
    async with session.get(ref.url, timeout=aiohttp.ClientTimeout(total=seconds)) as response:
        if response.status != 200:
            raise ValueError(f"HTTP {response.status}")
        if response.content_length is not None and response.content_length > MAX_INBOUND_BYTES:
            raise AttachmentTooLarge(f"{response.content_length} bytes is over {MAX_INBOUND_BYTES}")
        chunks: list[bytes] = []
        total = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            total += len(chunk)
            if total > MAX_INBOUND_BYTES:
                raise AttachmentTooLarge(f"over {MAX_INBOUND_BYTES} bytes")
            chunks.append(chunk)
        content_type = response.headers.get("Content-Type") or _DEFAULT_TYPES.get(ref.kind, "")
        content_type = content_type.split(";")[0].strip() or "application/octet-stream"
        return InboundAttachment(_filename(ref, index, content_type), content_type, b"".join(chunks))


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
            reason = (
                "timed out" if isinstance(result, TimeoutError) else (str(result) or type(result).__name__)
            )
            failed.append(FetchFailure(ref.kind, ref.url, reason))
    return fetched, failed
