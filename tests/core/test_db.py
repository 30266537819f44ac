"""Transactions PostgreSQL aborts for a deadlock are run again; other errors are not."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s
from bridgekit.storage.db import Database, is_unavailable, retry_on_conflict


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


@pytest.mark.parametrize("path", ["write", "write_inline"])
async def test_database_errors_do_not_quote_customer_data(
    db_url: str, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 12 item 13: an error's text (logged, stored in raw_deliveries.error) carried the
    statement's parameters, i.e. what customers wrote."""
    db = Database(db_url)
    await db.migrate()
    statement = insert(s.messages).values(
        chat_id=987654,  # no such chat: a foreign key violation on both databases
        direction="inbound",
        author_kind="customer",
        text="my card is 4242 4242 4242 4242",
        meta={},
        created_at=utcnow(),
    )

    async def work(conn: AsyncConnection) -> None:
        await conn.execute(statement)

    async def store() -> None:
        if path == "write":
            async with db.write() as conn:
                await work(conn)
        else:
            await db.write_inline(work)

    try:
        with pytest.raises(IntegrityError) as failure:
            await store()
        logging.getLogger("bridgekit.test").error("storing failed", exc_info=failure.value)
    finally:
        await db.dispose()
    assert "messages" in str(failure.value)  # the statement is still named
    assert "4242" not in str(failure.value)
    assert "4242" not in caplog.text


async def test_a_statement_the_driver_refuses_is_a_bug_not_the_database_away(db_url: str) -> None:
    """A statement with more parameters than the driver binds raised the driver's
    InterfaceError, which was answered 503 ("database unavailable, retry"): a retry can only
    fail the same way, so it is an error (500), while a closed connection stays a 503."""
    if not db_url.startswith("postgresql"):
        pytest.skip("asyncpg's InterfaceError and a terminated backend are PostgreSQL's")
    db = Database(db_url)
    await db.migrate()
    try:
        too_many = 40_000  # PostgreSQL binds 32,767 parameters a statement
        with pytest.raises(DBAPIError, match="InterfaceError") as refused:
            async with db.read() as conn:
                await conn.execute(
                    select(s.chats.c.id).where(
                        s.chats.c.id.in_([bindparam(f"p{n}") for n in range(too_many)])
                    ),
                    {f"p{n}": n for n in range(too_many)},
                )
        assert not is_unavailable(refused.value)

        async with db.read() as conn:
            pid = (await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one()
            async with db.write() as killer:
                await killer.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            with pytest.raises(DBAPIError) as lost:
                await conn.exec_driver_sql("SELECT 1")
        assert is_unavailable(lost.value)
    finally:
        await db.dispose()
