"""Dialect-aware statements through SQLAlchemy Core (the group commit's plain SQL is
``bridgekit.storage.hotsql``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Subquery, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.storage import schema as s


def insert_for(conn: AsyncConnection, table: Table) -> Any:
    """The dialect's INSERT of ``table`` (with ``on_conflict_do_nothing`` / ``_do_update``)."""
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
    stmt = insert_for(conn, table)
    if update:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={col: stmt.excluded[col] for col in update}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    await conn.execute(stmt, list(rows))


def last_inbound_ids(chat_ids: Any) -> Subquery:
    """``(chat_id, id)``: each chat's latest customer message, for the chats in ``chat_ids``
    (a list or an expanding bind parameter) that have one.

    Found from the newest message backwards on ``ix_messages_chat_id_id``, stopping at the
    first customer message: the cost is the replies after it, not the chat's history (a
    ``max(id) ... WHERE direction = 'inbound'`` reads every message of the chat). Chats with no
    customer message (``has_inbound`` false: Alimtalk and brand-message chats, which only ever
    send) are not read at all. Its plain-SQL twin is ``hotsql.LAST_INBOUND_IDS_SQL``.
    """
    m, c = s.messages.alias("latest_inbound"), s.chats
    latest: ColumnElement[Any] = (
        select(m.c.id)
        .where(m.c.chat_id == c.c.id, m.c.direction == "inbound")
        .order_by(m.c.id.desc())
        .limit(1)
        .correlate(c)
        .scalar_subquery()
    )
    return (
        select(c.c.id.label("chat_id"), latest.label("id"))
        .where(c.c.id.in_(chat_ids), c.c.has_inbound)
        .subquery()
    )
