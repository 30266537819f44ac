"""Engine setup, the write path, and migrations.

SQLite (the embedded default) gets WAL, ``synchronous=NORMAL``, a busy timeout and foreign
keys, and one dedicated writer connection that begins with ``BEGIN IMMEDIATE``: SQLite has a
single writer anyway, and taking the lock up front avoids ``database is locked`` errors when
a deferred transaction upgrades. Readers use a separate pool and never wait for the writer.
PostgreSQL uses one asyncpg pool for both.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar, cast

import asyncpg  # type: ignore[import-untyped,unused-ignore]
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Executable, Row, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from bridgekit.exceptions import ConfigError
from bridgekit.storage.checkpoint import Checkpointer
from bridgekit.storage.hotsql import HOT_SQL_KEY, PostgresHotSQL
from bridgekit.storage.keyfiles import private_file
from bridgekit.storage.onehop import InlineConnection, drive
from bridgekit.storage.wal import switch_to_wal

log = logging.getLogger("bridgekit.db")

# Where a write transaction's connection carries the flow event kinds some plugin listens to
# (``conn.info``), for bridgekit.queues.flow_events.
LISTENED_KEY = "bridgekit.listened_flow_kinds"

T = TypeVar("T")

SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout=10000",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)

# Seconds a new PostgreSQL connection may take before the attempt counts as "unavailable".
CONNECT_TIMEOUT = 5.0

# SQLAlchemy's errors quote the statement's parameters, i.e. customer data, into every log
# line and stored error they reach.
ENGINE_OPTIONS: dict[str, Any] = {"hide_parameters": True}


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's implicit BEGIN would be
    # DEFERRED and is skipped for some statements).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    switch_to_wal(cursor)
    cursor.close()


def _sqlite_connect_writer(dbapi_connection: Any, record: Any) -> None:
    _sqlite_connect(dbapi_connection, record)
    # Checkpoints run on the Checkpointer's thread, not inside a commit (storage/checkpoint.py).
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")
    # Statement journals in memory: a multi-row INSERT of a group commit (raw bodies of about
    # 1 KB each) journals more than SQLite's 64 KiB spill threshold, and a journal on disk is a
    # new temporary file with about 20 writes in every group commit. Bounded by a statement's
    # rows (SQLiteHotSQL.insert: at most 64).
    dbapi_connection.execute("PRAGMA temp_store=MEMORY")


def _sqlite_connect_loop_reader(dbapi_connection: Any, record: Any) -> None:
    _sqlite_connect(dbapi_connection, record)
    # On the event loop: never wait there; Database.read_short reads the ordinary way instead.
    dbapi_connection.execute("PRAGMA busy_timeout=0")


def usable_cpus() -> int:
    """How many CPUs this process may run on (its affinity mask, where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class Database:
    """The store's connections: ``write()`` for transactions, ``read()`` for queries."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        writer_thread: bool | None = None,
        ingest_busy_timeout: float = 1.5,
    ) -> None:
        """``writer_thread``: run :meth:`write_inline` on its own thread (SQLite only).
        ``ingest_busy_timeout``: how long :meth:`write_inline` waits for another process's
        write lock (SQLite only) before it raises an error :func:`is_busy` recognises.

        ``None`` decides by the CPUs this process may run on: the thread pays off only when
        SQLite's work (it releases the GIL) can run on a second core beside the event loop.
        On one core it only adds GIL hand-offs and context switches, so the transaction runs
        on the event loop itself (measured +3% webhooks/s on one pinned core).
        """
        try:
            parsed = make_url(url)
        except Exception as exc:
            raise ConfigError(f"invalid database URL {url!r}: {exc}") from exc
        self.url = url
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if parsed.get_driver_name() != "aiosqlite":
                parsed = parsed.set(drivername="sqlite+aiosqlite")
            self.writer = create_async_engine(
                parsed, echo=echo, pool_size=1, max_overflow=0, **ENGINE_OPTIONS
            )
            self.reader = create_async_engine(
                parsed, echo=echo, pool_size=4, max_overflow=4, **ENGINE_OPTIONS
            )
            event.listen(self.writer.sync_engine, "connect", _sqlite_connect_writer)
            event.listen(self.writer.sync_engine, "begin", _begin_with("BEGIN IMMEDIATE"))
            event.listen(self.writer.sync_engine, "commit", lambda _conn: self._checkpoint_soon())
            event.listen(self.reader.sync_engine, "connect", _sqlite_connect)
            event.listen(self.reader.sync_engine, "begin", _begin_with("BEGIN"))
        elif self.dialect == "postgresql":
            if parsed.get_driver_name() != "asyncpg":
                parsed = parsed.set(drivername="postgresql+asyncpg")
            self.writer = create_async_engine(
                parsed,
                echo=echo,
                pool_size=10,
                max_overflow=10,
                # After PostgreSQL restarted, every pooled connection is dead: one round trip
                # at checkout (once per group commit, not per delivery) finds that out before
                # a transaction begins, where a failure mid-transaction could only be answered
                # 503. A connection attempt to an unreachable server gives up in seconds.
                pool_pre_ping=True,
                connect_args={"timeout": CONNECT_TIMEOUT},
                **ENGINE_OPTIONS,
            )
            self.reader = self.writer
        else:
            raise ConfigError(f"unsupported database {self.dialect!r}: use sqlite or postgresql")
        self.sqlalchemy_url = parsed
        # One writer at a time on SQLite; PostgreSQL takes row locks instead.
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        self._inline_engine: Engine | None = None
        self._inline_conn: Connection | None = None
        self._inline_thread: ThreadPoolExecutor | None = None
        self._read_engine: Engine | None = None  # read_short's, on the event loop
        self._read_conn: Connection | None = None
        # PostgreSQL: the ingest's own connection, kept between its transactions (write_ingest).
        self._ingest_conn: AsyncConnection | None = None
        self._ingest_driver: Any = None  # its asyncpg connection
        self._ingest_lock = asyncio.Lock()
        # What that connection calls itself in pg_stat_activity.
        self.ingest_application_name = f"bridgekit-ingest-{uuid.uuid4().hex[:8]}"
        # How often the SQLite inline writer connected and committed: with PRAGMA data_version
        # this tells the ingest's routing cache whether anyone but itself wrote (routing_cache).
        self.inline_connections = 0
        self.inline_commits = 0
        self.writer_thread = usable_cpus() > 1 if writer_thread is None else writer_thread
        self.ingest_busy_timeout = ingest_busy_timeout
        path = parsed.database if self.dialect == "sqlite" else None
        self.checkpointer = Checkpointer(path) if path and path != ":memory:" else None
        # Who listens to which flow events (the Bridge hands in its plugins' answer): every
        # write transaction carries it for bridgekit.queues.flow_events. Nobody, by default.
        self.listened_flow_kinds: Callable[[], frozenset[str]] = frozenset

    def _checkpoint_soon(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.poke()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A connection inside a transaction that commits on normal exit."""
        if self._write_lock is None:
            async with self.writer.begin() as conn:
                conn.info[LISTENED_KEY] = self.listened_flow_kinds()
                yield conn
            return
        async with self._write_lock, self.writer.begin() as conn:
            conn.info[LISTENED_KEY] = self.listened_flow_kinds()
            yield conn

    async def write_inline(
        self, work: Callable[[AsyncConnection], Coroutine[Any, Any, T]], *, on_loop: bool = False
    ) -> T:
        """Run ``work`` in one write transaction, committed on return.

        On SQLite the whole of ``work`` runs in one go on a plain connection (see
        ``bridgekit.storage.onehop``), in a dedicated writer thread or, with one usable CPU, on
        the event loop: it must only await the connection it is given. Elsewhere it runs on
        an ordinary async connection.

        ``on_loop``: on the event loop even where the writer thread is used, for short units of
        work that are mostly Python (the outbox's claims and records, ~1 ms): handing those to
        the thread and back cost more CPU in GIL hand-offs than the work itself (measured in
        docs/performance.md, "Issue 15, fourth pass"). The write lock keeps them in turn with
        the thread's. Such a unit does not wait for another process's write lock on the loop:
        it raises at once, an error :func:`is_busy` recognises (the caller then writes the
        ordinary way, which waits off the loop).
        """
        if self._write_lock is None:
            async with self.write() as conn:
                return await work(conn)
        if on_loop or not self.writer_thread:
            async with self._write_lock:
                return self._run_inline(work, wait_for_lock=not (on_loop and self.writer_thread))
        if self._inline_thread is None:
            self._inline_thread = ThreadPoolExecutor(1, thread_name_prefix="bridgekit-sqlite-writer")
        loop = asyncio.get_running_loop()
        async with self._write_lock:
            return await loop.run_in_executor(self._inline_thread, self._run_inline, work)

    async def write_short(self, work: Callable[[AsyncConnection], Coroutine[Any, Any, T]]) -> T:
        """Run ``work``, a short write transaction of mostly Python that awaits only its
        connection (an outbox claim, a manager's reply), in one transaction.

        On SQLite it runs on the event loop (:meth:`write_inline` with ``on_loop``): through
        aiosqlite every statement is several thread hand-offs, which cost more CPU than the
        statements. When another process holds SQLite's write lock it runs again the
        ordinary way, which waits for the lock off the loop (nothing was written: the lock
        is taken at ``BEGIN``). Elsewhere it is an ordinary write transaction.
        """
        if self.is_sqlite:
            try:
                return await self.write_inline(work, on_loop=True)
            except Exception as exc:
                if not is_busy(exc):
                    raise
        async with self.write() as conn:
            return await work(conn)

    async def write_ingest(self, work: Callable[[AsyncConnection], Coroutine[Any, Any, T]]) -> T:
        """The ingest group commit's transaction: ``work`` writes through ``hot_sql(conn)``.

        On SQLite this is :meth:`write_inline`. On PostgreSQL it runs on the ingest's own
        connection, kept between transactions (no checkout, so no pool pre-ping: three
        round trips), with ``BEGIN`` and ``COMMIT`` sent on the asyncpg connection itself by
        ``PostgresHotSQL`` (SQLAlchemy sees an ``AUTOCOMMIT`` connection and sends none).
        A connection found dead at ``BEGIN`` (PostgreSQL restarted, or closed an idle
        session) is replaced once, through the pool's pre-ping, before anything was written;
        one lost later fails the transaction (``is_unavailable``) and is replaced next time.
        """
        if self.dialect != "postgresql":
            return await self.write_inline(work)
        async with self._ingest_lock:
            conn, sql = await self._ingest_connection()
            try:
                await sql.begin()
            except Exception:  # nothing written yet: on a new connection, once
                await self._drop_ingest_connection()
                conn, sql = await self._ingest_connection()
                await sql.begin()
            conn.info[HOT_SQL_KEY] = sql
            conn.info[LISTENED_KEY] = self.listened_flow_kinds()
            try:
                result = await work(conn)
                await sql.commit()
            except BaseException as exc:
                conn.info.pop(HOT_SQL_KEY, None)
                await self._end_failed_ingest(conn, sql, exc)
                raise
            conn.info.pop(HOT_SQL_KEY, None)
            if conn.in_transaction():  # statements through Core began SQLAlchemy's bookkeeping
                await conn.commit()  # no round trip: AUTOCOMMIT
            return result

    async def _ingest_connection(self) -> tuple[AsyncConnection, PostgresHotSQL]:
        conn = self._ingest_conn
        if conn is None:
            conn = await self.writer.connect()  # pre-pinged at checkout
            try:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                sql = PostgresHotSQL((await conn.get_raw_connection()).driver_connection)
                name = [self.ingest_application_name]
                await sql.run("SELECT set_config('application_name', ?, false)", name)
            except BaseException:
                await conn.invalidate()
                await conn.close()
                raise
            self._ingest_conn, self._ingest_driver = conn, sql.driver
            return conn, sql
        return conn, PostgresHotSQL(self._ingest_driver)

    async def _end_failed_ingest(
        self, conn: AsyncConnection, sql: PostgresHotSQL, exc: BaseException
    ) -> None:
        """Roll back, or give up the connection when it is lost or was interrupted mid-statement."""
        if isinstance(exc, Exception) and not sql.driver.is_closed():
            try:
                await sql.rollback()
                await conn.rollback()
                return
            except Exception:
                log.warning("the ingest connection could not roll back; replacing it", exc_info=True)
        await self._drop_ingest_connection()

    async def _drop_ingest_connection(self) -> None:
        conn, self._ingest_conn, self._ingest_driver = self._ingest_conn, None, None
        if conn is not None:
            try:
                await conn.invalidate()  # closed, not returned to the pool
                await conn.close()
            except Exception:
                log.debug("closing a broken ingest connection failed", exc_info=True)

    def _run_inline(
        self, work: Callable[[AsyncConnection], Coroutine[Any, Any, T]], *, wait_for_lock: bool = True
    ) -> T:
        if self._inline_conn is None:
            sync_url = self.sqlalchemy_url.set(drivername="sqlite+pysqlite")
            self._inline_engine = create_engine(sync_url, poolclass=NullPool, **ENGINE_OPTIONS)
            event.listen(self._inline_engine, "connect", _sqlite_connect_writer)
            event.listen(self._inline_engine, "connect", self._bound_busy_wait)
            event.listen(self._inline_engine, "begin", _begin_with("BEGIN IMMEDIATE"))
            self._inline_conn = self._inline_engine.connect()
            self.inline_connections += 1
        if self.checkpointer is not None:
            # The group commit is the one sustained writer: let the log start over (checkpoint.py).
            self.checkpointer.catch_up(self._inline_conn.connection.dbapi_connection)  # type: ignore[arg-type]
        dbapi = self._inline_conn.connection.dbapi_connection
        if not wait_for_lock:
            dbapi.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
        try:
            with self._inline_conn.begin():
                self._inline_conn.info[LISTENED_KEY] = self.listened_flow_kinds()
                # InlineConnection offers the AsyncConnection methods the hot paths use.
                result = drive(work(cast(AsyncConnection, InlineConnection(self._inline_conn))))
        finally:
            if not wait_for_lock:
                self._bound_busy_wait(dbapi, None)
        self.inline_commits += 1
        self._checkpoint_soon()
        return result

    def _bound_busy_wait(self, dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA busy_timeout={int(self.ingest_busy_timeout * 1000)}")

    def _close_inline(self) -> None:
        if self._inline_conn is not None:
            self._inline_conn.close()
        if self._inline_engine is not None:
            self._inline_engine.dispose()

    def _close_read_inline(self) -> None:
        if self._read_conn is not None:
            self._read_conn.close()
            self._read_conn = None
        if self._read_engine is not None:
            self._read_engine.dispose()
            self._read_engine = None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.reader.connect() as conn:
            yield conn

    async def read_short(self, work: Callable[[AsyncConnection], Coroutine[Any, Any, T]]) -> T:
        """Run ``work``, a few look-ups by key that await only their connection (the manager
        of a token, one chat), in one read transaction.

        On SQLite it runs on the event loop on a plain connection: through aiosqlite each
        statement is several thread hand-offs, which cost more CPU than such a look-up. A
        reader of a WAL database does not wait for writers; in the rare case SQLite answers
        busy (the log being reset), it runs again the ordinary way. Elsewhere it is
        :meth:`read`.
        """
        if self.is_sqlite:
            try:
                return self._run_read_inline(work)
            except Exception as exc:
                if not is_busy(exc):
                    self._close_read_inline()  # whatever went wrong, a new connection next time
                    raise
        async with self.read() as conn:
            return await work(conn)

    async def read_first(self, statement: Executable) -> Row[Any] | None:
        """The first row of ``statement``, or None, read as :meth:`read_short` reads."""

        async def first(conn: AsyncConnection) -> Row[Any] | None:
            return (await conn.execute(statement)).first()

        return await self.read_short(first)

    def _run_read_inline(self, work: Callable[[AsyncConnection], Coroutine[Any, Any, T]]) -> T:
        if self._read_conn is None:
            sync_url = self.sqlalchemy_url.set(drivername="sqlite+pysqlite")
            self._read_engine = create_engine(sync_url, poolclass=NullPool, **ENGINE_OPTIONS)
            event.listen(self._read_engine, "connect", _sqlite_connect_loop_reader)
            event.listen(self._read_engine, "begin", _begin_with("BEGIN"))
            self._read_conn = self._read_engine.connect()
        transaction = self._read_conn.begin()
        try:
            return drive(work(cast(AsyncConnection, InlineConnection(self._read_conn))))
        finally:
            transaction.rollback()

    async def migrate(self) -> None:
        """Apply every pending Alembic migration (idempotent)."""
        if self.checkpointer is not None:  # a SQLite file (not :memory:)
            await asyncio.to_thread(_private_sqlite_files, self.checkpointer.path)
        engine = create_async_engine(self.sqlalchemy_url, poolclass=NullPool, **ENGINE_OPTIONS)
        if self.is_sqlite:
            event.listen(engine.sync_engine, "connect", _sqlite_connect)
            # Off while tables are rebuilt: dropping the old table would otherwise cascade
            # to every row pointing at it. Checked again before the commit.
            event.listen(engine.sync_engine, "connect", _foreign_keys_off)
            event.listen(engine.sync_engine, "begin", _begin_with("BEGIN IMMEDIATE"))
        try:
            async with engine.begin() as conn:
                await conn.run_sync(_upgrade_to_head)
        finally:
            await engine.dispose()

    async def dispose(self) -> None:
        self._close_read_inline()  # on the loop, where it was used
        if not self.writer_thread:
            self._close_inline()
        if self._inline_thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._inline_thread, self._close_inline)
            self._inline_thread.shutdown(wait=True)
            self._inline_thread = None
        if self._ingest_conn is not None:
            conn, self._ingest_conn, self._ingest_driver = self._ingest_conn, None, None
            await conn.close()
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()
        if self.checkpointer is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.checkpointer.stop)


def _private_sqlite_files(path: str) -> None:
    """Create the database file 0600 before SQLite does: its -wal and -shm take the same mode.

    Files of an older install are tightened too.
    """
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))  # an empty file is a new database
    except OSError as exc:
        raise ConfigError(f"cannot open the SQLite database {path}: {exc.strerror}") from None
    for suffix in ("", "-wal", "-shm", "-journal"):
        private_file(Path(path + suffix))


def _begin_with(statement: str) -> Any:
    def begin(conn: Connection) -> None:
        # On the driver's connection itself: through exec_driver_sql, SQLAlchemy's statement
        # machinery cost ~25 us per transaction, most of an empty group commit's overhead.
        dbapi_connection = conn.connection.dbapi_connection
        assert dbapi_connection is not None
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()

    return begin


@functools.cache
def migrations_head() -> str | None:
    """The newest migration this code ships (what ``migrate`` brings a database to)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def schema_revision(conn: AsyncConnection) -> str | None:
    """The migration a database is at (None: none applied yet)."""

    def current(sync_conn: Connection) -> str | None:
        return MigrationContext.configure(sync_conn).get_current_revision()

    return await conn.run_sync(current)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("bridgekit") / "migrations"))
    return cfg


def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA foreign_keys=OFF")


# Held by the transaction that migrates PostgreSQL: processes starting together migrate one
# after the other, and the later ones find the schema at head (issue 17, docs/deploy.md).
MIGRATION_LOCK_KEY = 0x6272_6964_6765_6D67  # "bridgemg"


# Held by a starting process's set-up transactions (its workspace, its integrations): processes
# starting together on one PostgreSQL take turns instead of each inserting the same rows.
STARTUP_LOCK_KEY = 0x6272_6964_6765_7374  # "bridgest"


async def one_starting_at_a_time(conn: AsyncConnection) -> None:
    """In a write transaction at start: wait for other processes' start-up (PostgreSQL; SQLite
    has one writer anyway)."""
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({STARTUP_LOCK_KEY})")


def _upgrade_to_head(sync_conn: Connection) -> None:
    if sync_conn.dialect.name == "postgresql":
        sync_conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")
    if sync_conn.dialect.name == "sqlite":
        broken = sync_conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration left rows pointing at nothing: {broken[:5]}")


# PostgreSQL aborts one of two transactions that wait on each other (deadlock) or that
# cannot be serialised; running the transaction again is the documented remedy.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


# SQLITE_BUSY and SQLITE_LOCKED (primary codes: the extended ones add bits above 0xFF).
_SQLITE_BUSY_CODES = frozenset({5, 6})


def is_busy(exc: BaseException) -> bool:
    """Did SQLite give up waiting for another connection's lock (``database is locked``)?"""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlite_errorcode", None)
    return (
        isinstance(orig, sqlite3.OperationalError) and code is not None and code & 0xFF in _SQLITE_BUSY_CODES
    )


# SQLSTATE classes and codes that mean "no database right now", not "this request is wrong":
# 08 connection exceptions, 57P01-57P03 shutdown or starting up, 53300 too many connections.
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def is_unavailable(exc: BaseException) -> bool:
    """Is ``exc`` the database being away (down, restarting, unreachable, out of connections)?

    What a caller answers with a temporary failure (503, SMTP 451): nothing it was asked to
    store can be assumed stored, and the same request will work once the database is back.
    """
    seen: BaseException | None = exc
    for _ in range(4):  # the error, what SQLAlchemy wraps, what that was raised from
        if seen is None:
            return False
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, OSError):  # a refused connect, a reset connection
            return True
        if isinstance(seen, InterfaceError | asyncpg.InterfaceError) and "connection is closed" in str(seen):
            # The driver's InterfaceError is also a programming error (a statement with more
            # parameters than it binds): only a closed connection is the database away, as
            # SQLAlchemy's asyncpg dialect decides a disconnect.
            return True
        sqlstate = getattr(seen, "sqlstate", None)
        if isinstance(sqlstate, str) and (sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def is_conflict(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None)
    return isinstance(exc, DBAPIError) and getattr(orig, "sqlstate", None) in RETRYABLE_SQLSTATES


async def retry_on_conflict(work: Callable[[], Coroutine[Any, Any, T]], attempts: int = 5) -> T:
    """Run ``work`` (one whole transaction) again when PostgreSQL aborted it for a conflict."""
    try:  # the first attempt without tenacity's bookkeeping: it wraps every group commit
        return await work()
    except Exception as exc:
        if not is_conflict(exc) or attempts <= 1:
            raise
    await asyncio.sleep(random.uniform(0, 0.01))  # the jittered back-off tenacity gives later tries
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(is_conflict),
        stop=stop_after_attempt(attempts - 1),
        wait=wait_random_exponential(multiplier=0.02, max=0.5),  # one step on: the first wait is above
        reraise=True,
    ):
        with attempt:
            return await work()
    raise AssertionError("unreachable: tenacity re-raises the last error")
