"""Writing the ``flow_events`` queue (what the flow worker hands to bot hooks), under one rule.

The rule: a flow event is written only when some plugin implements the hook for its kind
(:func:`flow_wanted`, over ``HookCaller.listened_flow_kinds``). A row nobody listens to would
only be read and deleted again by the flow worker, and the ingest group commit would pay for
it on every message. The row is written in the transaction of the change that caused it, so
no event is lost in a crash.

Who listens travels with the write connection: :class:`~bridgekit.storage.db.Database` puts its
``listened_flow_kinds()`` on every write transaction's connection (``conn.info``), so any
core operation can write an event without being handed the plugin host. The ingest group
commit writes its rows with plain SQL (``bridgekit.storage.hotsql``) but decides with the same
:func:`flow_wanted`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.storage import schema as s
from bridgekit.storage.db import LISTENED_KEY


class FlowRow(NamedTuple):
    kind: str  # a key of bridgekit.flow.FLOW_HOOKS
    chat_id: int
    message_id: int | None = None
    payload: Mapping[str, Any] = {}


def flow_wanted(kind: str, listened: frozenset[str]) -> bool:
    """Whether an event of ``kind`` is written: some plugin listens to it."""
    return kind in listened


def listened_kinds(conn: AsyncConnection) -> frozenset[str]:
    """The flow event kinds some plugin listens to, as the write transaction was opened with
    (nobody, on a connection that is not a :class:`Database` write transaction's)."""
    kinds: frozenset[str] = conn.info.get(LISTENED_KEY, frozenset())
    return kinds


async def write_flow_events(conn: AsyncConnection, rows: Sequence[FlowRow], now: datetime) -> bool:
    """Queue the events some plugin listens to; True when any row was written (the caller
    then wakes the flow worker after the commit)."""
    listened = listened_kinds(conn)
    wanted = [r for r in rows if flow_wanted(r.kind, listened)]
    if not wanted:
        return False
    await conn.execute(
        s.flow_events.insert(),
        [
            {
                "kind": r.kind,
                "chat_id": r.chat_id,
                "message_id": r.message_id,
                "payload": dict(r.payload),
                "created_at": now,
            }
            for r in wanted
        ],
    )
    return True
