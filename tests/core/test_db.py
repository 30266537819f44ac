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


async def test_an_api_request_whose_transaction_deadlocked_is_answered_after_a_retry(aiohttp_client) -> None:
    from aiohttp import web

    from bridgekit.web.api import conflict_retry_middleware

    bodies: list[bytes] = []

    async def handler(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        if len(bodies) == 1:
            raise _dbapi("40P01")
        return web.json_response({"ok": True}, status=201)

    app = web.Application(middlewares=[conflict_retry_middleware])
    app.router.add_post("/api/v1/chats/1/messages", handler)
    client = await aiohttp_client(app)
    resp = await client.post("/api/v1/chats/1/messages", json={"text": "hi"})
    assert resp.status == 201
    assert bodies == [b'{"text": "hi"}'] * 2  # the same body, read again
