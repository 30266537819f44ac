"""JSON from outside (request bodies, webhooks, cursors): one parser, one error.

orjson refuses what the standard library would crash on or store wrongly: nesting deeper
than 1024 levels (``json.loads`` raises ``RecursionError``, a 500), lone surrogates (text no
database can store), ``NaN`` and ``Infinity``.
"""

from __future__ import annotations

from typing import Any

import orjson


def parse_json(data: bytes | bytearray | memoryview | str) -> Any:
    """The decoded value, or ``ValueError`` with a message fit for the sender."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
