"""Time in one place: naive UTC everywhere in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from time import time_ns

_EPOCH = datetime(1970, 1, 1)


def utcnow() -> datetime:
    """Now, naive UTC, to the microsecond. Stamped on every webhook: the epoch plus
    ``time_ns()`` costs half of ``datetime.now(UTC).replace(tzinfo=None)``."""
    return _EPOCH + timedelta(0, 0, time_ns() // 1000)


def as_naive_utc(value: datetime) -> datetime:
    """Plugins may hand over aware datetimes; the database stores naive UTC."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)
