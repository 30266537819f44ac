"""JSON from outside and type checks of provider payloads, for the core and channel plugins.

:func:`parse_json` is the one parser for JSON from outside (request bodies, webhooks,
cursors). orjson refuses what the standard library would crash on or store wrongly: nesting
deeper than 1024 levels (``json.loads`` raises ``RecursionError``, a 500), lone surrogates
(text no database can store), ``NaN`` and ``Infinity``.

A plugin describes the fields it reads with ``TypedDict``\\ s (``total=False``: any field may
be absent; fields not described are not checked, so new provider fields keep working) and
calls :func:`check_types` on the decoded JSON before reading it. A field present with another
type than documented (``"userId": 12345``) raises :class:`MalformedDelivery`: the core keeps
the delivery raw and answers 400, instead of storing a message from a bogus contact.
``msgspec.convert`` checks a webhook body in a few microseconds.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from bridgekit.exceptions import MalformedDelivery


def check_types(data: object, schema: type, provider: str) -> None:
    """Raise :class:`MalformedDelivery` naming the first field of ``data`` that does not
    match ``schema`` (a ``TypedDict`` or another type msgspec understands)."""
    try:
        msgspec.convert(data, schema)
    except msgspec.ValidationError as exc:
        raise MalformedDelivery(f"{provider} webhook field of the wrong type: {exc}") from None


def parse_json(data: bytes | bytearray | memoryview | str) -> Any:
    """The decoded value, or ``ValueError`` with a message fit for the sender."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
