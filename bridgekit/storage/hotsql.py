"""Hand-written SQL on the driver, for the ingest group commit.

SQLAlchemy Core costs tens of microseconds per statement (cache key, compile lookup,
execution context) and, for ``INSERT ... RETURNING`` in parameter order on SQLite, runs one
statement per row. On the hottest path that was most of the cost of a message, so the group
commit writes with a few fixed statements of plain SQL instead:

* SQL is written once in ``?`` (qmark) style; PostgreSQL gets it rewritten to ``$n`` (so no
  ``?`` may appear in a literal or as an operator: every one is a placeholder);
* ids are allocated up front (:meth:`HotSQL.new_ids`), so rows that point at each other are
  inserted without ``RETURNING`` (on SQLite in multi-row ``INSERT``s, see
  :meth:`SQLiteHotSQL.insert`; on PostgreSQL with ``executemany``);
* values are encoded the way SQLAlchemy's column types store them (:meth:`HotSQL.ts`,
  :meth:`HotSQL.json`), so everything else keeps reading the rows through Core.

On SQLite the statements run on the inline writer's own ``sqlite3`` cursor (see
``bridgekit.storage.onehop``); on PostgreSQL on the asyncpg connection itself, inside the
transaction :meth:`PostgresHotSQL.begin` opened on it (``Database.write_ingest``): through
SQLAlchemy's adapter a round trip cost about four times the CPU. There, a list of values is one
array parameter (``= ANY($1)``), so a statement's text does not change with the batch's size
and asyncpg's statement cache keeps it prepared.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import chain
from typing import Any

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import orjson
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.storage.onehop import InlineConnection
from bridgekit.storage.storable import clean_json

# An asyncpg.Connection (asyncpg ships no types).
Driver = Any

Row = tuple[Any, ...]

# Where the connection of a ``Database.write_ingest`` transaction on PostgreSQL carries its
# PostgresHotSQL (``conn.info``, for the length of the transaction).
HOT_SQL_KEY = "bridgekit.hot_sql"

_PLACEHOLDER = re.compile(r"\?")
# The fallback for what orjson refuses (a Mapping that is not a dict, say): one encoder for
# every row, since json.dumps builds a new one per call.
_encode_json = json.JSONEncoder(check_circular=False).encode


@functools.lru_cache(maxsize=1024)
def numbered(sql: str) -> str:
    """``sql`` with its ``?`` placeholders as PostgreSQL's ``$1, $2, ...`` (asyncpg's style)."""
    counter = iter(range(1, 1_000_000))
    return _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", sql)


#: ``(chat_id, id)``: each chat's latest customer message, for the chats ``{chat_ids}`` (to be
#: filled with placeholders) that have one; ``id`` is NULL for a chat with ``has_inbound`` set
#: and none found. The plain-SQL twin of ``bridgekit.storage.sql.last_inbound_ids`` (the same
#: look-up backwards on ``ix_messages_chat_id_id``), for ``exec_driver_sql``.
LAST_INBOUND_IDS_SQL = (
    "SELECT c.id AS chat_id, (SELECT m.id FROM messages m WHERE m.chat_id = c.id"
    " AND m.direction = 'inbound' ORDER BY m.id DESC LIMIT 1) AS id"
    " FROM chats c WHERE c.id IN ({chat_ids}) AND c.has_inbound"
)


def driver_sql(dialect: str, sql: str) -> str:
    """``sql`` written with ``?`` placeholders, in the style of ``dialect``'s driver (for
    ``exec_driver_sql`` on any connection, the pooled ones included)."""
    return numbered(sql) if dialect == "postgresql" else sql


def driver_ts(dialect: str, value: datetime) -> Any:
    """A naive UTC timestamp as the ``DateTime`` column stores it, for ``exec_driver_sql``
    (as :meth:`SQLiteHotSQL.ts` and :meth:`PostgresHotSQL.ts` give it)."""
    return value if dialect == "postgresql" else sqlite_ts(value)


def read_ts(value: Any) -> datetime:
    """A ``DateTime`` column's value (not NULL) as ``exec_driver_sql`` reads it, as Core would
    give it: SQLite's text (:func:`sqlite_ts`) parsed; PostgreSQL's ``datetime`` as it is."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def read_json(value: Any) -> Any:
    """A ``JSON`` column's value as ``exec_driver_sql`` reads it, decoded as Core would
    (``json.loads``): SQLite gives the text; PostgreSQL's driver has decoded it already."""
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value


def sqlite_ts(value: datetime) -> str:
    """SQLAlchemy's SQLite ``DATETIME`` text of a naive UTC timestamp."""
    return value.isoformat(" ", "microseconds")


def placeholders(count: int) -> str:
    """``?, ?, ?`` for an ``IN (...)`` list of ``count`` values."""
    return ", ".join("?" * count)


def grouped_in(
    columns: Sequence[str], keys: Iterable[tuple[Any, ...]], *, arrays: bool = False
) -> tuple[str, list[Any]]:
    """``(a = ? AND b = ? AND c IN (?, ...)) OR ...`` and its parameters; with ``arrays``,
    ``c = ANY(?)`` and the values as one list (PostgreSQL: the same text for any count).

    SQLite serves this from a composite index; a row-value ``IN`` over tuples it does not
    (it scanned the table). Keys share their leading values in practice (one integration,
    one contact kind), so there are few groups.
    """
    *leading, last = columns
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for key in keys:
        groups.setdefault(tuple(key[:-1]), []).append(key[-1])
    if not groups:
        return "0 = 1", []
    clauses: list[str] = []
    params: list[Any] = []
    for prefix, values in groups.items():
        member = f"{last} = ANY(?)" if arrays else f"{last} IN ({placeholders(len(values))})"
        clauses.append("(" + " AND ".join([*(f"{col} = ?" for col in leading), member]) + ")")
        params.extend(prefix)
        if arrays:
            params.append(values)
        else:
            params.extend(values)
    return " OR ".join(clauses), params


class HotSQL:
    """The few operations the group commit needs, on either database."""

    dialect = ""
    arrays = False  # a list of values is one array parameter (PostgreSQL)

    def member_of(self, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """`` IN (?, ?, ...)`` (`` = ANY(?)`` with arrays) for a column of any of ``values``,
        and its parameters."""
        if self.arrays:
            return " = ANY(?)", [list(values)]
        return f" IN ({placeholders(len(values))})", list(values)

    def grouped_in(self, columns: Sequence[str], keys: Iterable[tuple[Any, ...]]) -> tuple[str, list[Any]]:
        """:func:`grouped_in` for this database."""
        return grouped_in(columns, keys, arrays=self.arrays)

    def ts(self, value: datetime) -> Any:
        """A naive UTC timestamp as the ``DateTime`` column stores it."""
        raise NotImplementedError

    @staticmethod
    def json(value: Any) -> str:
        """JSON text as the ``JSON`` columns store it; orjson, 5-7x faster here than json."""
        if isinstance(value, dict) and not value:
            return "{}"
        try:
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # a lone surrogate (orjson refuses it), or a Mapping that is not a dict
            return _encode_json(clean_json(value))

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        raise NotImplementedError

    async def all_of(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        """The rows of each of several ``SELECT``s, in the order given."""
        return [await self.all(sql, params) for sql, params in queries]

    async def data_version(self) -> int | None:
        """SQLite's ``PRAGMA data_version`` of this connection: it changes when another
        connection has committed since. None where there is no such thing."""
        return None

    async def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    async def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    async def run_in_order(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Statements that return nothing, one after the other (on PostgreSQL in one round
        trip, sent with the commit or before the next statement; see
        :meth:`PostgresHotSQL.run_in_order`). Their parameters are numbers, booleans and
        timestamps only."""
        for sql, params in statements:
            await self.run(sql, params)

    async def flush(self) -> None:
        """Run what :meth:`run_in_order` left for later now (before a statement through
        SQLAlchemy on the same transaction, which would otherwise overtake it)."""

    async def new_ids(self, table: str, count: int) -> list[int]:
        """``count`` fresh primary keys of ``table``, ascending, reserved for this transaction."""
        raise NotImplementedError

    async def new_ids_of(self, counts: Sequence[tuple[str, int]]) -> list[list[int]]:
        """:meth:`new_ids` of several tables, in the order asked."""
        return [await self.new_ids(table, count) for table, count in counts]

    async def insert(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], conflict: str = ""
    ) -> None:
        """Insert ``rows`` in their order; ``conflict`` is a clause after the values (``ON
        CONFLICT DO NOTHING``), applied to each row as it is inserted."""
        if rows:
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders(len(columns))}){conflict}"
            )
            await self.run_many(sql, rows)


class SQLiteHotSQL(HotSQL):
    """Statements on the inline writer's ``sqlite3`` connection (never suspends).

    Ids: inside the ``BEGIN IMMEDIATE`` transaction nobody else writes, so the highest id
    (ever, for AUTOINCREMENT tables) + 1 onwards is free: what SQLite itself would assign.
    """

    dialect = "sqlite"

    def __init__(self, dbapi_connection: Any) -> None:
        self.cursor = dbapi_connection.cursor()

    def ts(self, value: datetime) -> str:
        return sqlite_ts(value)

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.cursor.execute(sql, params).fetchall()  # type: ignore[no-any-return]

    async def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(sql, params)

    async def data_version(self) -> int:
        return int(self.cursor.execute("PRAGMA data_version").fetchone()[0])

    async def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cursor.executemany(sql, rows)

    async def insert(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], conflict: str = ""
    ) -> None:
        """Rows in multi-row ``INSERT``s of power-of-two sizes (29 rows: 16 + 8 + 4 + 1).

        ``executemany`` runs the statement once per row, and each run costs SQLite its set-up,
        an AUTOINCREMENT table (messages) its ``sqlite_sequence`` update and Python a release
        of the GIL: about 1 us a row each for ``raw_deliveries`` and ``messages``. A few fixed
        sizes keep the statements few, so they stay in the sqlite3 module's statement cache.
        """
        done, count = 0, len(rows)
        # At most 64 rows and 999 values a statement (SQLite's limit before 3.32).
        most = min(64, 1 << ((999 // len(columns)).bit_length() - 1))
        while done < count:
            size = min(most, 1 << ((count - done).bit_length() - 1))  # a power of two that fits
            chunk = rows[done : done + size]
            self.cursor.execute(
                self._insert_sql(table, tuple(columns), size, conflict), list(chain.from_iterable(chunk))
            )
            done += size

    @staticmethod
    @functools.cache
    def _insert_sql(table: str, columns: tuple[str, ...], rows: int, conflict: str) -> str:
        row = f"({placeholders(len(columns))})"
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row] * rows)}{conflict}"

    async def new_ids(self, table: str, count: int) -> list[int]:
        if count == 0:
            return []
        # AUTOINCREMENT tables (chats, messages) remember their highest id ever in
        # sqlite_sequence: ids of deleted rows are not handed out again.
        top = self.cursor.execute(
            f"SELECT max(coalesce((SELECT max(id) FROM {table}), 0),"
            f" coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0))"
        ).fetchone()[0]
        return list(range(top + 1, top + 1 + count))


class PostgresHotSQL(HotSQL):
    """Statements on the asyncpg connection itself, in the transaction :meth:`begin` opens.

    Prepared and cached by asyncpg (the texts are few: lists are array parameters). Errors
    come out as SQLAlchemy would raise them (:func:`driver_error`), so ``retry_on_conflict``
    and ``is_unavailable`` treat them alike. The connection is SQLAlchemy's too (in
    ``AUTOCOMMIT`` mode, so it sends no ``BEGIN`` of its own): statements through Core on it
    run in this transaction.
    """

    dialect = "postgresql"
    arrays = True

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self._later: list[str] = []  # run_in_order's statements, literal, not yet sent

    @staticmethod
    def _sql(sql: str) -> str:
        return numbered(sql)

    def ts(self, value: datetime) -> datetime:
        return value

    async def begin(self) -> None:
        await self._simple("BEGIN")

    async def commit(self) -> None:
        """What :meth:`run_in_order` left for later, then ``COMMIT``, in one round trip (an
        error in one statement skips the rest, ``COMMIT`` included)."""
        later, self._later = self._later, []
        await self._simple(";".join([*later, "COMMIT"]))

    async def rollback(self) -> None:
        self._later = []
        await self._simple("ROLLBACK")

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        await self.flush()
        query = self._sql(sql)
        try:
            rows = await self.driver.fetch(query, *params)
        except Exception as exc:
            raise driver_error(exc, query, self.driver) from exc
        return [tuple(row) for row in rows]

    async def all_of(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        """One round trip: one row whose columns are each query's rows as JSON
        (``json_agg(ROW(q.*))``: an array of ``{"f1": ..., "f2": ...}``, the columns in order
        whatever their names). JSON gives back numbers, text, booleans and NULLs as they were
        (not timestamps: these are text). The order of a query's rows is not kept."""
        sql = "SELECT " + ", ".join(
            f"(SELECT json_agg(ROW(q.*))::text FROM ({query}) q)" for query, _ in queries
        )
        (row,) = await self.all(sql, [param for _query, params in queries for param in params])
        return [[tuple(record.values()) for record in orjson.loads(rows)] if rows else [] for rows in row]

    async def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        await self.flush()
        query = self._sql(sql)
        try:
            await self.driver.execute(query, *params)
        except Exception as exc:
            raise driver_error(exc, query, self.driver) from exc

    async def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self.flush()
            query = self._sql(sql)
            try:
                await self.driver.executemany(query, rows)
            except Exception as exc:
                raise driver_error(exc, query, self.driver) from exc

    async def run_in_order(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Kept, with their parameters written into the text as literals, for one simple
        query with the ``COMMIT`` (or before the next statement): several statements in one
        round trip, run in their order (the lock order). A data-modifying CTE would run them
        in no defined order."""
        self._later.extend(_literal_sql(sql, params) for sql, params in statements)

    async def flush(self) -> None:
        if self._later:
            later, self._later = self._later, []
            await self._simple(";".join(later))

    async def _simple(self, script: str) -> None:
        try:
            await self.driver.execute(script)  # no parameters: the simple query protocol
        except Exception as exc:
            raise driver_error(exc, script, self.driver) from exc

    async def new_ids(self, table: str, count: int) -> list[int]:
        return (await self.new_ids_of([(table, count)]))[0]

    async def new_ids_of(self, counts: Sequence[tuple[str, int]]) -> list[list[int]]:
        """One round trip for every table (a group commit's is a tenth of its cost)."""
        wanted = [(n, table, count) for n, (table, count) in enumerate(counts) if count]
        found: list[list[int]] = [[] for _ in counts]
        if not wanted:
            return found
        sql = " UNION ALL ".join(
            f"SELECT {n}, nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, ?::int)"
            for n, table, _count in wanted
        )
        for n, value in await self.all(sql, [count for _n, _table, count in wanted]):
            found[n].append(int(value))
        return [sorted(ids) for ids in found]

    @staticmethod
    def new_ids_query(table: str, count: int) -> tuple[str, list[Any]]:
        """:meth:`new_ids` as a query for :meth:`all_of` (its rows' order is not kept: sort)."""
        return f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, ?::int)", [
            count
        ]


def _literal(value: Any) -> str:
    """``value`` as SQL text: only what cannot carry text from outside (numbers, booleans,
    naive timestamps), so nothing needs quoting rules."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))  # int(): a subclass's __str__ is not trusted
    if isinstance(value, datetime) and value.tzinfo is None:
        return f"'{value.isoformat(' ', 'microseconds')}'::timestamp"
    raise TypeError(
        f"only numbers, booleans and naive timestamps go into SQL text, not {type(value).__name__}"
    )


def _literal_sql(sql: str, params: Sequence[Any]) -> str:
    """``sql`` with each ``?`` replaced by the next parameter as a literal."""
    parts = sql.split("?")
    if len(parts) != len(params) + 1:
        raise ValueError(f"{len(parts) - 1} placeholders for {len(params)} parameters")
    text = [parts[0]]
    for value, part in zip(params, parts[1:], strict=True):
        text.append(str(value) if type(value) is int else _literal(value))  # ids: most of them
        text.append(part)
    return "".join(text)


# The SQLSTATE classes whose errors SQLAlchemy raises as these (the rest: DatabaseError).
_ERROR_CLASSES: dict[str, type[sa_exc.DBAPIError]] = {
    "22": sa_exc.DataError,
    "23": sa_exc.IntegrityError,
    "40": sa_exc.OperationalError,
    "42": sa_exc.ProgrammingError,
    "53": sa_exc.OperationalError,
    "57": sa_exc.OperationalError,
}


def driver_error(exc: Exception, statement: str, driver: Driver) -> Exception:
    """An asyncpg error as SQLAlchemy raises a statement's error: a ``DBAPIError`` with the
    driver's error as ``orig`` (its ``sqlstate`` is what ``retry_on_conflict`` looks at), no
    parameters quoted, and ``connection_invalidated`` when the connection is gone (what
    ``is_unavailable`` looks at first). Anything else (a cancellation, a bug) is left as it is."""
    lost = driver.is_closed() or isinstance(exc, OSError | asyncpg.PostgresConnectionError)
    if not lost and not isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
        return exc
    sqlstate = getattr(exc, "sqlstate", None) or ""
    kind = sa_exc.OperationalError if lost else _ERROR_CLASSES.get(sqlstate[:2], sa_exc.DatabaseError)
    return kind(statement, None, exc, hide_parameters=True, connection_invalidated=lost)


def hot_sql(conn: AsyncConnection) -> HotSQL:
    """The driver-level statement runner for the connection of a ``Database.write_ingest``
    transaction (on SQLite, of ``write_inline``: the inline writer)."""
    inline: object = conn  # on SQLite's inline writer the "AsyncConnection" is an InlineConnection
    if isinstance(inline, InlineConnection):
        return SQLiteHotSQL(inline.sync_connection.connection.dbapi_connection)
    sql = conn.info.get(HOT_SQL_KEY)
    if isinstance(sql, PostgresHotSQL):
        return sql
    raise TypeError("the hot path runs in Database.write_ingest's transaction")
