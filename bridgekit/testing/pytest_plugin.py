"""pytest fixtures for bridgekit and plugin test suites.

``db_url``        an empty database; parametrised over SQLite and, when
                  ``BRIDGEKIT_TEST_POSTGRES`` is set, PostgreSQL.
``make_bridge``   async factory starting a real bridgekit on that database:
                  ``running = await make_bridge(plugins={"x": plugin}, integrations={...})``;
                  an empty database starts as a copy of one migrated once per process.
``tls``           server and client TLS contexts, for ``make_bridge(..., tls=tls)``.
``own_postgres``  a PostgreSQL server of the test's own (``PostgresServer``), started, to
                  stop and start under a running bridge; skips without server binaries.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bridgekit.testing.databases import copy_migrated_database, postgres_admin_url, temporary_database
from bridgekit.testing.harness import RunningBridge, start_bridge
from bridgekit.testing.postgres_server import PostgresServer, server_binaries


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames:
        backends = ["sqlite"] + (["postgresql"] if postgres_admin_url() else [])
        metafunc.parametrize("db_backend", backends, scope="function")


@pytest_asyncio.fixture
async def db_url(db_backend: str, tmp_path: Path) -> AsyncIterator[str]:
    async with temporary_database(db_backend, tmp_path) as url:
        yield url


MakeBridge = Callable[..., Awaitable[RunningBridge]]


@pytest.fixture(scope="session")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """``(server, client)`` TLS contexts for 127.0.0.1 from a throwaway CA, for
    ``make_bridge(tls=tls)`` and for sandboxes that download from the bridge over HTTPS."""
    import trustme  # a test extra: only suites that ask for TLS need it

    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


@pytest_asyncio.fixture
async def make_bridge(db_url: str, tmp_path: Path) -> AsyncIterator[MakeBridge]:
    started: list[RunningBridge] = []

    async def factory(
        *,
        plugins: Mapping[str, object],
        integrations: Mapping[str, Mapping[str, Any]] | None = None,
        **kwargs: Any,
    ) -> RunningBridge:
        if not started:
            await copy_migrated_database(db_url)
        running = await start_bridge(
            database_url=db_url,
            data_dir=tmp_path / f"data{len(started)}",
            plugins=plugins,
            integrations=integrations,
            **kwargs,
        )
        started.append(running)
        return running

    yield factory
    for running in reversed(started):
        await running.close()


@pytest_asyncio.fixture
async def own_postgres() -> AsyncIterator[PostgresServer]:
    if server_binaries() is None:
        pytest.skip("needs PostgreSQL's server binaries (apt-get install postgresql)")
    server = await asyncio.to_thread(PostgresServer)
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.remove)
