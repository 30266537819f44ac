"""``@manager`` and ``@team`` mentions in messages (I13).

Names may contain spaces ("@Kim Minji"), so mentions are found by matching the text after an
``@`` against the channel's known manager and team names — longest first, case-insensitive,
ending at a word boundary. A name may also be written with dashes for its spaces
("@kim-minji", "@vip-care"). An ``@`` glued to a preceding word (an email address) is no
mention.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.storage import schema as s


@dataclass(frozen=True, slots=True)
class Mentionable:
    alias: str  # lower-cased
    kind: str  # manager | team
    id: int


@dataclass(slots=True)
class Mentions:
    manager_ids: set[int] = field(default_factory=set)
    team_ids: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.manager_ids or self.team_ids)

    def as_json(self) -> dict[str, list[int]]:
        return {"managers": sorted(self.manager_ids), "teams": sorted(self.team_ids)}


def aliases(kind: str, rows: Iterable[tuple[int, str]]) -> list[Mentionable]:
    out = []
    for row_id, name in rows:
        base = " ".join(name.split()).lower()
        if not base:
            continue
        for alias in {base, base.replace(" ", "-")}:
            out.append(Mentionable(alias, kind, row_id))
    return out


def find_mentions(text: str, candidates: Iterable[Mentionable]) -> Mentions:
    """Every manager and team mentioned in ``text``."""
    ordered = sorted(candidates, key=lambda c: len(c.alias), reverse=True)
    found = Mentions()
    lowered = text.lower()
    start = 0
    while (at := lowered.find("@", start)) != -1:
        start = at + 1
        if at > 0 and (lowered[at - 1].isalnum() or lowered[at - 1] in "._-"):
            continue  # someone@example.com
        matched_len = 0
        for cand in ordered:
            if matched_len and len(cand.alias) < matched_len:
                break  # only the longest name(s) at this position count
            end = at + 1 + len(cand.alias)
            if lowered.startswith(cand.alias, at + 1) and (end == len(lowered) or not _word(lowered[end])):
                matched_len = len(cand.alias)
                (found.manager_ids if cand.kind == "manager" else found.team_ids).add(cand.id)
        if matched_len:
            start = at + 1 + matched_len
    return found


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


async def mentionables(conn: AsyncConnection, workspace_id: int) -> list[Mentionable]:
    managers = (
        await conn.execute(
            select(s.managers.c.id, s.managers.c.name).where(s.managers.c.workspace_id == workspace_id)
        )
    ).all()
    teams = (
        await conn.execute(select(s.teams.c.id, s.teams.c.name).where(s.teams.c.workspace_id == workspace_id))
    ).all()
    return aliases("manager", ((r.id, r.name) for r in managers)) + aliases(
        "team", ((r.id, r.name) for r in teams)
    )


async def recipients(conn: AsyncConnection, mentions: Mentions) -> set[int]:
    """The managers a mention reaches: those named, plus every member of a named team."""
    ids = set(mentions.manager_ids)
    if mentions.team_ids:
        tm = s.team_members
        rows = (
            await conn.execute(select(tm.c.manager_id).where(tm.c.team_id.in_(sorted(mentions.team_ids))))
        ).all()
        ids.update(r.manager_id for r in rows)
    return ids
