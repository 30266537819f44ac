"""Assignment: teams, auto-assignment and the queue (I2-I4, I18).

``route_new_chats`` is called by the ingest pipeline inside the transaction that opens new
chats, so a chat is never visible before it is routed.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.core.events import Event


async def route_new_chats(conn: AsyncConnection, chat_ids: Sequence[int]) -> list[Event]:
    """Give new chats their team, then an available operator or the team's queue.

    Returns realtime events to publish after the commit.
    """
    return []
