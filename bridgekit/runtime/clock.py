"""Time in one place: naive UTC everywhere in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from time import time_ns
from typing import overload

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


@overload
def iso(value: datetime, timespec: str = ...) -> str: ...
@overload
def iso(value: None, timespec: str = ...) -> None: ...
@overload
def iso(value: datetime | None, timespec: str = ...) -> str | None: ...


def iso(value: datetime | None, timespec: str = "auto") -> str | None:
    """A stored (naive UTC) time as the API writes it, ``2024-05-01T09:30:00Z``; None stays
    None. ``timespec="microseconds"`` gives one fixed width, for strings compared in time order."""
    return value.isoformat(timespec=timespec) + "Z" if value is not None else None
