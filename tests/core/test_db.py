"""Transactions PostgreSQL aborts for a deadlock are run again; other errors are not."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from bridgekit.core.db import retry_on_conflict


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _dbapi(sqlstate: str) -> DBAPIError:
    return DBAPIError("UPDATE chats ...", {}, _PgError(sqlstate))


async def test_a_deadlocked_transaction_is_run_again() -> None:
    calls: list[int] = []

    async def work() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _dbapi("40P01")  # deadlock detected
        return "committed"

    assert await retry_on_conflict(work) == "committed"
    assert len(calls) == 3


async def test_other_database_errors_are_not_retried() -> None:
    calls: list[int] = []

    async def work() -> None:
        calls.append(1)
        raise _dbapi("23505")  # unique violation: running again cannot help

    with pytest.raises(DBAPIError):
        await retry_on_conflict(work)
    assert len(calls) == 1
