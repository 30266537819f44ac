"""One SQLite write transaction on the hot path, run in one go on a plain connection.

aiosqlite hands every statement to its thread and back (several hops per statement); for a
group commit of ~10 statements that hand-off, not SQLite, dominated the cost. Here a whole
unit of work runs on a plain synchronous connection: in one dedicated writer thread, or on
the event loop itself when the process has one CPU (``Database.writer_thread``).

The unit of work stays ordinary ``async def`` code taking an ``AsyncConnection``-like object,
so the same code runs on PostgreSQL's real async connection. On SQLite it receives
:class:`InlineConnection`, whose coroutines finish without ever suspending; :func:`drive`
runs such a coroutine to completion in one call and refuses one that tries to wait for the
event loop (hot-path code must only talk to the database).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Executable
from sqlalchemy.engine import Dialect, Result

T = TypeVar("T")


class SuspendedError(RuntimeError):
    """Code run inline tried to wait on the event loop."""


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends to completion, in the current thread."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise SuspendedError("code run by the SQLite inline writer awaited something other than the database")


class InlineConnection:
    """The subset of ``AsyncConnection`` the hot paths use, over a sync ``Connection``."""

    def __init__(self, conn: Connection) -> None:
        self.sync_connection = conn

    @property
    def dialect(self) -> Dialect:
        return self.sync_connection.dialect

    @property
    def info(self) -> dict[Any, Any]:
        return self.sync_connection.info

    async def execute(self, statement: Executable, parameters: Any = None) -> Result[Any]:
        return self.sync_connection.execute(statement, parameters)

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any:
        return self.sync_connection.scalar(statement, parameters)

    async def scalars(self, statement: Executable, parameters: Any = None) -> Any:
        return self.sync_connection.scalars(statement, parameters)

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> Result[Any]:
        return self.sync_connection.exec_driver_sql(statement, parameters)

    @asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        with self.sync_connection.begin_nested():
            yield

    def in_transaction(self) -> bool:
        return self.sync_connection.in_transaction()
