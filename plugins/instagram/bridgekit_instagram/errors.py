"""Map Graph API failures onto bridgekit's transient/permanent delivery errors.

Meta answers errors as ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id", "is_transient"?, "error_user_msg"?}}`` (Graph API "Handling Errors";
Messenger Platform "Common Error Codes"). Retrying helps for server trouble and throttling;
it never helps for a closed window, a blocked user or a bad token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bridgekit.channelkit import is_transient_status, parse_retry_after, status_error
from bridgekit.exceptions import DeliveryError, PermanentDeliveryError, TransientDeliveryError

RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
"""4 app, 17 user, 32 page, 613 custom throttling; 800xx Business Use Case limits
(80002 Instagram, 80006 Messenger)."""

TRANSIENT_CODES = frozenset({1, 2, 341, 1200})
"""1 unknown (possibly downtime), 2 service unavailable, 341 application limit,
1200 "Temporary send message failure. Please try again later"."""

_EXPLAIN = {
    10: "outside the allowed messaging window or missing permission",
    190: "the access token is invalid or expired; reconnect the Instagram account",
    551: "the customer is not available (blocked the account or cannot receive messages)",
}


def _retry_after(headers: Mapping[str, str]) -> float | None:
    seconds = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
    if seconds is not None:
        return seconds
    # Business Use Case throttling tells when access comes back, in minutes
    usage = headers.get("X-Business-Use-Case-Usage") or headers.get("x-business-use-case-usage")
    if usage:
        try:
            decoded = json.loads(usage)
        except ValueError:
            return None
        minutes = [
            float(item.get("estimated_time_to_regain_access") or 0)
            for items in (decoded.values() if isinstance(decoded, dict) else ())
            for item in (items if isinstance(items, list) else ())
            if isinstance(item, dict)
        ]
        if minutes and max(minutes) > 0:
            return max(minutes) * 60
    return None


def graph_error(body: Any) -> Mapping[str, Any] | None:
    """The ``error`` object of a Graph response body, if it has one."""
    error = body.get("error") if isinstance(body, Mapping) else None
    return error if isinstance(error, Mapping) else None


def describe(error: Mapping[str, Any]) -> str:
    """A one-line, manager-readable reason that keeps Meta's own words and ids."""
    code = error.get("code")
    subcode = error.get("error_subcode")
    message = error.get("error_user_msg") or error.get("message") or "unknown error"
    ident = f"{code}/{subcode}" if subcode else f"{code}"
    hint = _EXPLAIN.get(code) if isinstance(code, int) else None
    reason = f"Instagram error {ident}: {message}"
    if hint:
        reason += f" ({hint})"
    if error.get("fbtrace_id"):
        reason += f" [fbtrace_id {error['fbtrace_id']}]"
    return reason


def classify(status: int, body: Any, headers: Mapping[str, str]) -> DeliveryError:
    """The exception to raise for a failed Graph call with HTTP ``status`` and ``body``."""
    error = graph_error(body)
    retry_after = _retry_after(headers)
    if error is None:
        return status_error(
            status, f"Instagram answered HTTP {status} without an error body", retry_after=retry_after
        )
    code = error.get("code")
    subcode = error.get("error_subcode")
    reason = describe(error)
    transient = (
        is_transient_status(status)
        or error.get("is_transient") is True
        or code in RATE_LIMIT_CODES
        or (code in TRANSIENT_CODES and not (code == 1 and subcode == 99))
    )
    if transient:
        if code in RATE_LIMIT_CODES and retry_after is None:
            retry_after = 60.0  # Meta: pause until usage drops; a minute is the usual unit
        return TransientDeliveryError(reason, retry_after=retry_after)
    return PermanentDeliveryError(reason)
