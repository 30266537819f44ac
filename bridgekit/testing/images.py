"""Real images made in memory, so tests and sandboxes never download one."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_from_rows(rows: Sequence[bytes], *, colour: bool = False, level: int = -1) -> bytes:
    """A valid 8-bit PNG whose pixel rows are ``rows``: one byte a pixel (greyscale), or three
    (RGB) when ``colour``. ``level`` is zlib's (0 stores the rows as they are: the file's size
    is then about the pixels' bytes, as a test of a size limit wants)."""
    width = len(rows[0]) // (3 if colour else 1)
    header = struct.pack(">IIBBBBB", width, len(rows), 8, 2 if colour else 0, 0, 0, 0)
    pixels = b"".join(b"\0" + row for row in rows)  # each row with filter type 0 (none)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(pixels, level))
        + _chunk(b"IEND", b"")
    )
