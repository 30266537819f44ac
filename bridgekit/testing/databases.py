"""Throw-away databases for tests: a SQLite file, or a fresh PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

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
    import asyncpg

    admin = postgres_admin_url()
    if admin is None:
        raise RuntimeError(f"set {POSTGRES_ENV} to test against PostgreSQL")
    name = f"bk_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = admin.rpartition("/")
    try:
        yield f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
