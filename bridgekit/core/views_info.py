"""One chat with its info panel (I16) and a customer summary (I17), for one manager."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.core import schema as s
from bridgekit.core.views_marks import page_marks

# I16: "#hashtag" in a description; \w is Unicode-aware, so #환불 counts.
HASHTAG = re.compile(r"(?<![\w#])#(\w+)")


def hashtags(description: str | None) -> list[str]:
    """The distinct #hashtags of a description, in the order they first appear."""
    seen: dict[str, None] = {}
    for tag in HASHTAG.findall(description or ""):
        seen.setdefault(tag, None)
    return list(seen)


@dataclass(frozen=True, slots=True)
class ChatInfo:
    row: Any
    team: dict[str, Any] | None
    assignee: dict[str, Any] | None
    followers: list[dict[str, Any]]
    tags: list[str]
    starred: bool
    unread: bool
    customer: dict[str, Any]


async def chat_info(conn: AsyncConnection, manager_id: int, row: Any) -> ChatInfo:
    """Everything the chat's info panel shows, in a fixed number of queries."""
    mg, tm, f = s.managers.c, s.teams.c, s.chat_followers.c
    team = None
    if row.team_id is not None:
        found = (await conn.execute(select(tm.id, tm.name).where(tm.id == row.team_id))).first()
        team = {"id": int(found.id), "name": found.name} if found else None
    follower_ids = {int(r[0]) for r in await conn.execute(select(f.manager_id).where(f.chat_id == row.id))}
    if row.assignee_id is not None:
        follower_ids.add(int(row.assignee_id))  # I16: the assignee is always a follower
    people = {
        int(r.id): {"id": int(r.id), "name": r.name}
        for r in await conn.execute(select(mg.id, mg.name).where(mg.id.in_(sorted(follower_ids))))
    }
    marks = await page_marks(conn, manager_id, [row.id], [row.customer_id])
    return ChatInfo(
        row=row,
        team=team,
        assignee=people.get(int(row.assignee_id)) if row.assignee_id is not None else None,
        followers=[people[i] for i in sorted(people)],
        tags=marks.tags.get(row.id, []),
        starred=row.id in marks.starred,
        unread=row.id in marks.unread,
        customer=await customer_summary(conn, int(row.customer_id)),
    )


async def customer_summary(conn: AsyncConnection, customer_id: int) -> dict[str, Any]:
    cu, ct, ch = s.customers.c, s.contacts.c, s.chats.c
    customer = (await conn.execute(select(cu.id, cu.name, cu.is_lead).where(cu.id == customer_id))).one()
    contacts = await conn.execute(
        select(ct.kind, ct.value, ct.verified).where(ct.customer_id == customer_id).order_by(ct.id)
    )
    chats = (
        await conn.execute(select(func.count()).select_from(s.chats).where(ch.customer_id == customer_id))
    ).scalar_one()
    return {
        "id": int(customer.id),
        "name": customer.name,
        "is_lead": bool(customer.is_lead),
        "contacts": [{"kind": r.kind, "value": r.value, "verified": bool(r.verified)} for r in contacts],
        "chats_count": int(chats),
    }
