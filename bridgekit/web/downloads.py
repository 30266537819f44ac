"""Headers for every response that serves stored bytes (attachments, raw deliveries, media).

One rule for all of them, so no route can serve an uploaded page on our origin: the browser
may never sniff (``nosniff``); anything that is not a passive type goes out as
``application/octet-stream``; only plain images, audio, video and text may be shown
``inline``, and only where the route asks for it; everything else is a download
(``Content-Disposition: attachment``). The CSP sandbox keeps even a mislabelled file from
running script or loading anything.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

SHOWABLE_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/bmp",
        "video/mp4",
        "video/webm",
        "video/ogg",
        "video/quicktime",
        "audio/mpeg",
        "audio/mp4",
        "audio/aac",
        "audio/ogg",
        "audio/wav",
        "audio/webm",
        "audio/flac",
        "audio/x-m4a",
        "text/plain",
    }
)
"""Types a browser only displays: they may be served ``inline``."""

DOWNLOAD_TYPES = frozenset(
    {
        "application/pdf",
        "application/zip",
        "text/csv",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
"""Types kept as they are, but always as a download. Every other type (HTML, SVG, XML,
scripts, unknown) becomes ``application/octet-stream``."""

SANDBOX_CSP = "default-src 'none'; sandbox"
_CHARSET = re.compile(r";\s*charset=\"?([A-Za-z0-9_.:-]{1,40})\"?", re.IGNORECASE)


_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "audio/mp3": "audio/mpeg"}


def served_type(content_type: str) -> str:
    """The Content-Type to serve a stored ``content_type`` with (active types neutralised)."""
    essence = content_type.split(";", 1)[0].strip().lower()
    essence = _ALIASES.get(essence, essence)  # providers check the type against the bytes
    if essence == "text/plain":
        charset = _CHARSET.search(content_type)
        return f"text/plain; charset={charset.group(1) if charset else 'utf-8'}"
    if essence in SHOWABLE_TYPES or essence in DOWNLOAD_TYPES:
        return essence
    return "application/octet-stream"


def file_headers(filename: str, content_type: str, *, inline: bool = False) -> dict[str, str]:
    """Content-Type, Content-Disposition, nosniff and CSP for serving one stored file.

    ``inline`` is a wish: it holds only for :data:`SHOWABLE_TYPES`.
    """
    served = served_type(content_type)
    showable = served.split(";", 1)[0] in SHOWABLE_TYPES
    disposition = "inline" if inline and showable else "attachment"
    fallback = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    fallback = "".join(ch if ch.isprintable() and ch != "\\" else "_" for ch in fallback) or "file"
    return {
        "Content-Type": served,
        "Content-Disposition": f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": SANDBOX_CSP,
    }


def file_response(
    path: Path, filename: str, content_type: str, *, inline: bool = False, cache: str = "private"
) -> web.FileResponse:
    """Stream a stored file with :func:`file_headers` (the caller checked it exists)."""
    return web.FileResponse(
        path, headers={**file_headers(filename, content_type, inline=inline), "Cache-Control": cache}
    )


def bytes_response(
    body: bytes, filename: str, content_type: str, *, inline: bool = False, cache: str = "private"
) -> web.Response:
    """Serve bytes held in memory (a raw delivery, an email's source) with :func:`file_headers`."""
    return web.Response(
        body=body, headers={**file_headers(filename, content_type, inline=inline), "Cache-Control": cache}
    )
