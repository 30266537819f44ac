"""What of a raw delivery is stored: allow-listed headers, capped, and query secrets redacted.

The plugin sees the whole request in memory (it verifies signatures and tokens there); the
``raw_deliveries`` row keeps only what a replay or an inspection needs. Senders may add any
headers they like, unsigned, and webhook URLs carry path tokens in their query strings.
"""

from __future__ import annotations

from collections.abc import Mapping

from bridgekit.core.storable import clean_text

#: Headers kept for every channel; a channel adds its own (``ChannelSpec.stored_headers``).
CORE_STORED_HEADERS = frozenset({"content-type", "content-encoding", "user-agent"})
#: Longest header value stored (characters); a longer one is cut.
MAX_STORED_HEADER_CHARS = 2048
#: Query parameters whose values are secrets (compared lower-cased).
SECRET_QUERY_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "path_token",
        "verify_token",
        "hub.verify_token",
        "key",
        "api_key",
        "apikey",
        "secret",
        "client_secret",
        "signature",
        "sig",
        "appsecret_proof",
        "password",
    }
)
REDACTED = "[redacted]"


def stored_headers(headers: Mapping[str, str], extra: frozenset[str]) -> dict[str, str]:
    """The allow-listed headers of a delivery (lower-case names), each value capped.

    Walks the allow-list, not the request: the cost stays flat however many headers came.
    """
    kept: dict[str, str] = {}
    for allowed in (CORE_STORED_HEADERS, extra):
        for name in allowed:
            value = headers.get(name)
            if value is not None:
                kept[name] = clean_text(value[:MAX_STORED_HEADER_CHARS])
    return kept


def stored_query(query: Mapping[str, str]) -> dict[str, str]:
    """The query parameters with the values of known secret parameters replaced."""
    if not query:
        return {}
    return {
        clean_text(k): REDACTED if k.lower() in SECRET_QUERY_PARAMS else clean_text(v)
        for k, v in query.items()
    }
