"""Small dialect-aware statement helpers shared by the hot paths."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, false, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def _insert_for(conn: AsyncConnection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def upsert(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    update: Sequence[str] = (),
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE/NOTHING for many rows in one statement."""
    if not rows:
        return
    stmt = _insert_for(conn, table)
    if update:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={col: stmt.excluded[col] for col in update}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    await conn.execute(stmt, list(rows))


async def insert_returning_ids(
    conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert many rows in one batched statement; ids come back in parameter order."""
    if not rows:
        return []
    result = await conn.execute(
        table.insert().returning(table.c.id, sort_by_parameter_order=True), list(rows)
    )
    return [row[0] for row in result]


def rows_in(columns: Sequence[ColumnElement[Any]], keys: Iterable[tuple[Any, ...]]) -> ColumnElement[bool]:
    """``(a, b, c) IN (keys)`` that indexes can serve.

    SQLite does not use a composite index for a row-value ``IN`` over a list of tuples: it
    scanned the whole messages table on every group commit. Grouping by the leading columns
    gives ``(a = ? AND b = ? AND c IN (...)) OR ...``, which it does serve from the index (and
    there are few groups: usually one integration, one contact kind).
    """
    *leading, last = columns
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for key in keys:
        groups.setdefault(tuple(key[:-1]), []).append(key[-1])
    if not groups:
        return false()
    return or_(
        *(
            and_(*(col == value for col, value in zip(leading, prefix, strict=True)), last.in_(values))
            for prefix, values in groups.items()
        )
    )
