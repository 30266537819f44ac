"""Throw-away databases for tests: a SQLite file, or a fresh PostgreSQL database.

Migrating an empty database to the newest schema takes about half a second, most of a
test's start-up; :func:`copy_migrated_database` makes an empty database a copy of one
migrated once per test process instead (a file copy, or PostgreSQL's ``CREATE DATABASE …
TEMPLATE``, ~50 ms).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

POSTGRES_ENV = "BRIDGEKIT_TEST_POSTGRES"


def postgres_admin_url() -> str | None:
    """``postgresql://user@host:port/db`` of a server where tests may create databases."""
    return os.environ.get(POSTGRES_ENV) or None


@asynccontextmanager
async def temporary_database(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """Yield an SQLAlchemy URL of an empty database of ``backend`` ("sqlite"/"postgresql")."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bridgekit.db'}"
        return
    name = f"bk_test_{uuid.uuid4().hex[:12]}"
    await _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield _database_url(name)
    finally:
        await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def copy_migrated_database(url: str) -> bool:
    """Make the database at ``url``, when it is still empty, a copy of one migrated to the
    newest schema; whether it did.

    The migrated original is made on first use in this process, by the same migrations
    bridgekit runs at start, and removed when the process ends. A database that holds
    anything, or that someone is connected to, is left alone (bridgekit then migrates it at
    start, as always).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or await asyncio.to_thread(_holds_anything, Path(parsed.database)):
            return False
        original = await _migrated_original("sqlite")
        await asyncio.to_thread(_copy_file, Path(original), Path(parsed.database))
        return True
    import asyncpg

    name = parsed.database
    plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(plain)
    try:
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public')"):
            return False
    finally:
        await conn.close()
    original = await _migrated_original("postgresql")
    try:
        await _admin_execute(f'DROP DATABASE "{name}"')  # not FORCE: someone connected keeps it
    except asyncpg.ObjectInUseError:
        return False
    await _admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{original}"')
    return True


#: backend → the migrated original of this process: a file path, or a database name
_originals: dict[str, str] = {}


async def _migrated_original(backend: str) -> str:
    if backend in _originals:
        return _originals[backend]
    from bridgekit.storage.db import Database

    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="bridgekit-migrated-")
        atexit.register(shutil.rmtree, folder, True)
        original = str(Path(folder) / "migrated.db")
        url = f"sqlite+aiosqlite:///{original}"
    else:
        original = f"bk_migrated_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        await _admin_execute(f'CREATE DATABASE "{original}"')
        atexit.register(_drop_at_exit, original)
        url = _database_url(original)
    database = Database(url)
    try:
        await database.migrate()
    finally:
        await database.dispose()
    return _originals.setdefault(backend, original)


def _holds_anything(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 0


def _copy_file(original: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # 0600 as bridgekit creates its database (SQLite gives -wal and -shm the file's mode)
    with (
        open(original, "rb") as source,
        open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as copy,
    ):
        shutil.copyfileobj(source, copy)


def _admin_url() -> str:
    admin = postgres_admin_url()
    if admin is None:
        raise RuntimeError(f"set {POSTGRES_ENV} to test against PostgreSQL")
    return admin


def _database_url(name: str) -> str:
    """The SQLAlchemy URL of database ``name`` on the admin URL's server."""
    base, _, _ = _admin_url().rpartition("/")
    return f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"


async def _admin_execute(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_admin_url())
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _drop_at_exit(name: str) -> None:
    with contextlib.suppress(Exception):  # the test server may be gone first: thrown away too
        asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
