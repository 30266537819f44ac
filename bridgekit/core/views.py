"""Inbox views and search (I1-I8): which chats a list shows, in which order, and counts."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.core.managers import Manager


async def matching_chat_ids(
    conn: AsyncConnection, manager: Manager, query: Mapping[str, str], limit: int = 10_000
) -> list[int]:
    """Every chat id a list request with these query parameters would show ``manager``
    (all pages), for bulk actions on "all results of a search" (I7)."""
    raise NotImplementedError
