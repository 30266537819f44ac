"""How a provider's HTTP answer becomes a bridgekit delivery error.

Every messenger API says "come back later" the same two ways: HTTP 429 or a 5xx status,
often with a ``Retry-After`` header (delta-seconds or an HTTP date, RFC 9110 section 10.2.3).
:func:`status_error` turns that into :class:`~bridgekit.exceptions.TransientDeliveryError`
carrying the delay, and every other failed status into
:class:`~bridgekit.exceptions.PermanentDeliveryError`. A provider's own special cases (a
``409`` that means "already accepted", an error code that means "throttled") stay in its
plugin, decided before or instead of this default. When no answer came at all,
:func:`bridgekit.channelkit.http.transport_errors` gives the error.
"""

from __future__ import annotations

import email.utils
import math
import time
from datetime import UTC

from bridgekit.exceptions import DeliveryError, PermanentDeliveryError, TransientDeliveryError


class NotSent(TransientDeliveryError):
    """The connection failed before the request was sent: certainly not delivered.

    A plugin whose next step depends on whether the provider may have acted (LINE: is the
    single-use reply token still unused?) can tell this apart from a timeout, after which
    the request may well have arrived.
    """


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from ``now`` (default: the wall clock), never negative.

    Accepts both forms of the header: ``"120"`` and ``"Wed, 21 Oct 2026 07:28:00 GMT"``.
    ``None`` when the header is missing or unreadable, so the outbox uses its own backoff.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" parses as naive; an HTTP date is always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def is_transient_status(status: int) -> bool:
    """Whether a later attempt may get past HTTP ``status``: 429 (rate limited) or 5xx."""
    return status == 429 or status >= 500


def status_error(status: int, reason: str, *, retry_after: float | None = None) -> DeliveryError:
    """The delivery error for a failed HTTP ``status``: raise what this returns.

    429 and 5xx give a :class:`TransientDeliveryError` with ``retry_after`` (seconds, from
    :func:`parse_retry_after`); anything else a :class:`PermanentDeliveryError`. ``reason``
    is what a manager reads on the failed message: name the provider and its own words.
    """
    if is_transient_status(status):
        return TransientDeliveryError(reason, retry_after=retry_after)
    return PermanentDeliveryError(reason)
