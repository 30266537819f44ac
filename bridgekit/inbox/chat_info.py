"""Chat info (I16): tags (at most 8, I6), description with #hashtags, goal, followers.

Reading the info of a chat is :func:`chat_info`, the one reader both ``GET /chats/{id}`` and
``GET /chats/{id}/info`` answer from; edits return an :class:`Outcome` like the state
operations, so bulk tagging (I7) shares the per-chat limit checks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.inbox.chat_batch import (
    ChatNotFound,
    Outcome,
    Refusal,
    add_followers,
    chat_updated_events,
    check_text,
    lock_chats,
    missing,
)
from bridgekit.inbox.chats import ChatError
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s

MAX_TAG_LENGTH = 100  # the chat_tags.tag column
MAX_DESCRIPTION_LENGTH = 10_000
MAX_TAGS_PER_CHAT = 8  # I6
GOALS = (None, "achieved", "not_achieved")
# A hashtag is "#" and a word, where the "#" starts a word of its own: not glued to a word
# before it (``order#1042`` is an order number) nor doubled (``##vip`` is markup). ``\w`` is
# Unicode-aware, so ``#환불`` counts.
HASHTAG = re.compile(r"(?<![\w#])#(\w+)")
TOO_MANY_TAGS = Refusal(
    f"a chat can have at most {MAX_TAGS_PER_CHAT} tags", code="too_many_tags", max=MAX_TAGS_PER_CHAT
)


def clean_tag(tag: object) -> str:
    if not isinstance(tag, str) or not tag.strip():
        raise ChatError("a tag must be a non-empty string")
    cleaned = check_text(tag.strip(), "a tag")
    if cleaned in (".", ".."):  # a URL path cannot name it: browsers drop such a segment
        raise ChatError("a tag cannot be '.' or '..'")
    if len(cleaned) > MAX_TAG_LENGTH:
        raise ChatError(f"a tag can be at most {MAX_TAG_LENGTH} characters")
    return cleaned


def hashtags(description: str | None) -> list[str]:
    """The #hashtags of a description, in the order they first appear, each once."""
    return list(dict.fromkeys(HASHTAG.findall(description or "")))


async def _tags_of(conn: AsyncConnection, chat_ids: Sequence[int]) -> dict[int, set[str]]:
    t = s.chat_tags
    tags: dict[int, set[str]] = {cid: set() for cid in chat_ids}
    for row in await conn.execute(select(t.c.chat_id, t.c.tag).where(t.c.chat_id.in_(list(chat_ids)))):
        tags[row.chat_id].add(row.tag)
    return tags


async def _touch(conn: AsyncConnection, chat_ids: Sequence[int]) -> None:
    if chat_ids:
        await conn.execute(
            update(s.chats).where(s.chats.c.id.in_(list(chat_ids))).values(updated_at=utcnow())
        )


async def add_tag(conn: AsyncConnection, chat_ids: Sequence[int], tag: str) -> Outcome:
    """Add ``tag`` to chats; a chat that has 8 other tags already refuses it (I6)."""
    tag = clean_tag(tag)
    rows = await lock_chats(conn, chat_ids)
    outcome = Outcome(errors=missing(chat_ids, rows))
    current = await _tags_of(conn, sorted(rows))
    targets = []
    for cid in sorted(rows):
        if tag in current[cid]:
            continue
        if len(current[cid]) >= MAX_TAGS_PER_CHAT:
            outcome.errors[cid] = TOO_MANY_TAGS
        else:
            targets.append(cid)
    if targets:
        await conn.execute(s.chat_tags.insert(), [{"chat_id": cid, "tag": tag} for cid in targets])
        await _touch(conn, targets)
    outcome.changed = targets
    outcome.events = await chat_updated_events(conn, targets)
    return outcome


async def remove_tag(conn: AsyncConnection, chat_id: int, tag: str) -> Outcome:
    """Remove a tag (removing a tag the chat does not have is a no-op)."""
    tag = clean_tag(tag)
    rows = await lock_chats(conn, [chat_id])
    outcome = Outcome(errors=missing([chat_id], rows))
    if rows:
        t = s.chat_tags
        await conn.execute(delete(t).where(t.c.chat_id == chat_id, t.c.tag == tag))
        await _touch(conn, [chat_id])
        outcome.changed = [chat_id]
        outcome.events = await chat_updated_events(conn, [chat_id])
    return outcome


async def set_tags(conn: AsyncConnection, chat_id: int, tags: Sequence[object]) -> Outcome:
    """Replace a chat's tags (duplicates collapse; more than 8 distinct tags is refused)."""
    cleaned = list(dict.fromkeys(clean_tag(t) for t in tags))
    if len(cleaned) > MAX_TAGS_PER_CHAT:
        raise TOO_MANY_TAGS.refused()
    rows = await lock_chats(conn, [chat_id])
    outcome = Outcome(errors=missing([chat_id], rows))
    if rows:
        t = s.chat_tags
        await conn.execute(delete(t).where(t.c.chat_id == chat_id))
        if cleaned:
            await conn.execute(t.insert(), [{"chat_id": chat_id, "tag": tag} for tag in cleaned])
        await _touch(conn, [chat_id])
        outcome.changed = [chat_id]
        outcome.events = await chat_updated_events(conn, [chat_id])
    return outcome


async def update_details(conn: AsyncConnection, chat_id: int, values: dict[str, Any]) -> Outcome:
    """Set ``description`` and/or ``goal`` (validated here; keys absent are kept)."""
    changes: dict[str, Any] = {}
    if "description" in values:
        description = values["description"]
        if description is not None and not isinstance(description, str):
            raise ChatError("description must be a string or null")
        if description is not None:
            check_text(description, "description")
        if description is not None and len(description) > MAX_DESCRIPTION_LENGTH:
            raise ChatError(f"description can be at most {MAX_DESCRIPTION_LENGTH} characters")
        changes["description"] = description
    if "goal" in values:
        if values["goal"] not in GOALS:
            raise ChatError("goal must be null, 'achieved' or 'not_achieved'")
        changes["goal"] = values["goal"]
    rows = await lock_chats(conn, [chat_id])
    outcome = Outcome(errors=missing([chat_id], rows))
    if rows and changes:
        await conn.execute(
            update(s.chats).where(s.chats.c.id == chat_id).values(updated_at=utcnow(), **changes)
        )
        outcome.changed = [chat_id]
        outcome.events = await chat_updated_events(conn, [chat_id])
    return outcome


async def follow(conn: AsyncConnection, chat_id: int, manager_id: int) -> Outcome:
    m = s.managers
    if (await conn.execute(select(m.c.id).where(m.c.id == manager_id))).first() is None:
        raise ChatNotFound(f"no manager {manager_id}")
    rows = await lock_chats(conn, [chat_id])
    outcome = Outcome(errors=missing([chat_id], rows))
    if rows:
        await add_followers(conn, [(chat_id, manager_id)])
        outcome.changed = [chat_id]
        outcome.events = await chat_updated_events(conn, [chat_id])
    return outcome


async def unfollow(conn: AsyncConnection, chat_id: int, manager_id: int) -> Outcome:
    """Stop following; I16: the assignee is always a follower and cannot be removed."""
    rows = await lock_chats(conn, [chat_id])
    outcome = Outcome(errors=missing([chat_id], rows))
    if not rows:
        return outcome
    if rows[chat_id].assignee_id == manager_id:
        outcome.errors[chat_id] = "the assignee is always a follower; assign someone else first"
        return outcome
    f = s.chat_followers
    await conn.execute(delete(f).where(f.c.chat_id == chat_id, f.c.manager_id == manager_id))
    outcome.changed = [chat_id]
    outcome.events = await chat_updated_events(conn, [chat_id])
    return outcome


@dataclass(frozen=True, slots=True)
class ChatInfo:
    """What the chat-info panel shows (I16): the chat's row and who and what is around it."""

    row: Any
    team: dict[str, Any] | None
    assignee: dict[str, Any] | None
    followers: list[dict[str, Any]]  # id and name, by id; the assignee always is one (I16)
    tags: list[str]  # sorted

    @property
    def hashtags(self) -> list[str]:
        return hashtags(self.row.description)


async def chat_info(conn: AsyncConnection, chat_id: int) -> ChatInfo | None:
    """The chat-info panel of a chat in a fixed number of queries, or None when there is no
    such chat."""
    c, mg, tm, f = s.chats, s.managers.c, s.teams.c, s.chat_followers.c
    row = (await conn.execute(select(c).where(c.c.id == chat_id))).first()
    if row is None:
        return None
    team = None
    if row.team_id is not None:
        found = (await conn.execute(select(tm.id, tm.name).where(tm.id == row.team_id))).first()
        team = {"id": int(found.id), "name": found.name} if found else None
    follower_ids = {int(r[0]) for r in await conn.execute(select(f.manager_id).where(f.chat_id == chat_id))}
    if row.assignee_id is not None:
        follower_ids.add(int(row.assignee_id))  # I16: the assignee is always a follower
    people = {
        int(r.id): {"id": int(r.id), "name": r.name}
        for r in await conn.execute(select(mg.id, mg.name).where(mg.id.in_(sorted(follower_ids))))
    }
    return ChatInfo(
        row=row,
        team=team,
        assignee=people.get(int(row.assignee_id)) if row.assignee_id is not None else None,
        followers=[people[i] for i in sorted(people)],
        tags=sorted((await _tags_of(conn, [chat_id]))[chat_id]),
    )
