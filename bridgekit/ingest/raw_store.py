"""What of a raw delivery is stored: allow-listed headers, capped, and query secrets redacted.

The plugin sees the whole request in memory (it verifies signatures and tokens there); the
``raw_deliveries`` row keeps only what a replay or an inspection needs. Senders may add any
headers they like, unsigned, and webhook URLs carry path tokens in their query strings.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from bridgekit.redaction import REDACTED, is_secret_name
from bridgekit.storage.storable import clean_text, storable

#: Headers kept for every channel; a channel adds its own (``ChannelSpec.stored_headers``).
CORE_STORED_HEADERS = frozenset({"content-type", "content-encoding", "user-agent"})
#: Longest header value stored (characters); a longer one is cut.
MAX_STORED_HEADER_CHARS = 2048


def stored_headers(headers: Mapping[str, str], extra: frozenset[str]) -> dict[str, str]:
    """The allow-listed headers of a delivery (lower-case names), each value capped.

    Walks the allow-list, not the request: the cost stays flat however many headers came.
    """
    # A loop and one check of all values joined: this runs for every delivery, and a
    # comprehension, a generator and a check per value cost a microsecond more.
    kept: dict[str, str] = {}
    get = headers.get
    for name in _allowed(extra):
        value = get(name)
        if value is not None:
            kept[name] = value
    joined = "".join(kept.values())
    # All values together within the cap: none is over it.
    if len(joined) <= MAX_STORED_HEADER_CHARS and joined.isascii() and "\x00" not in joined:
        return kept  # the usual case: nothing to cut or clean
    if storable(joined) and all(len(v) <= MAX_STORED_HEADER_CHARS for v in kept.values()):
        return kept
    return {name: clean_text(value[:MAX_STORED_HEADER_CHARS]) for name, value in kept.items()}


@functools.cache
def _allowed(extra: frozenset[str]) -> tuple[str, ...]:
    """The core's headers and a channel's, computed once per channel."""
    return tuple(sorted(CORE_STORED_HEADERS | extra))


def stored_query(query: Mapping[str, str]) -> dict[str, str]:
    """The query parameters, secret ones (``redaction.is_secret_name``) with values replaced."""
    if not query:
        return {}
    return {clean_text(k): REDACTED if is_secret_name(k) else clean_text(v) for k, v in query.items()}
