"""Macros: ``#shortcut`` texts managers reuse in the composer (I15).

A message whose text is ``#shortcut`` — or holds ``#shortcut`` as a token — gets the macro's
text in its place, with ``{customer.name}``, ``{manager.name}``, ``{chat.id}`` and
``{chat.title}`` filled in. Unknown ``#words`` (hashtags) and unknown ``{variables}`` are left
exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.exceptions import RequestRefused
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s
from bridgekit.storage.storable import storable

MAX_SHORTCUT = 50
MAX_TEXT = 10_000
# Letters of any script (Korean shortcuts work), digits, '_', '-' and inner dots.
SHORTCUT_RE = re.compile(r"^\w[\w-]*(?:\.[\w-]+)*$")
# A token: '#' not glued to a preceding word (so "a#b" and "##x" are not macros).
TOKEN_RE = re.compile(r"(?<![\w#&])#(\w[\w-]*(?:\.[\w-]+)*)")
VARIABLE_RE = re.compile(r"\{(\w+\.\w+)\}")


class MacroError(RequestRefused):
    """A macro change was refused; ``status`` is the HTTP status to answer with."""


@dataclass(frozen=True, slots=True)
class Macro:
    id: int
    shortcut: str
    text: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "shortcut": self.shortcut, "text": self.text}


def clean_shortcut(value: object) -> str:
    if not isinstance(value, str):
        raise MacroError("shortcut must be a string")
    shortcut = value.strip().removeprefix("#")
    if not shortcut or len(shortcut) > MAX_SHORTCUT or not SHORTCUT_RE.match(shortcut):
        raise MacroError(
            f"shortcut must be 1-{MAX_SHORTCUT} letters, digits, '_', '-' or '.' (without spaces)"
        )
    return shortcut


def clean_text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MacroError("text is required")
    if len(value) > MAX_TEXT:
        raise MacroError(f"text is longer than {MAX_TEXT} characters")
    if not storable(value):
        raise MacroError("text must not contain NUL characters or unpaired surrogates")
    return value


async def list_macros(conn: AsyncConnection, workspace_id: int, prefix: str | None = None) -> list[Macro]:
    """The channel's macros by shortcut; ``prefix`` narrows them as the manager types ``#ab``."""
    m = s.macros
    query = select(m.c.id, m.c.shortcut, m.c.text).where(m.c.workspace_id == workspace_id)
    if prefix and not storable(prefix):
        return []  # no shortcut holds a NUL (PostgreSQL would refuse the query)
    if prefix:
        escaped = prefix.removeprefix("#").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(m.c.shortcut.like(f"{escaped}%", escape="\\"))
    rows = (await conn.execute(query.order_by(m.c.shortcut))).all()
    return [Macro(r.id, r.shortcut, r.text) for r in rows]


async def _taken(conn: AsyncConnection, workspace_id: int, shortcut: str, other_than: int | None) -> bool:
    m = s.macros
    query = select(m.c.id).where(m.c.workspace_id == workspace_id, m.c.shortcut == shortcut)
    if other_than is not None:
        query = query.where(m.c.id != other_than)
    return (await conn.execute(query)).first() is not None


async def create_macro(conn: AsyncConnection, workspace_id: int, shortcut: str, text: str) -> Macro:
    if await _taken(conn, workspace_id, shortcut, None):
        raise MacroError(f"a macro #{shortcut} already exists", status=409)
    try:
        new_id = (
            await conn.execute(
                s.macros.insert()
                .values(workspace_id=workspace_id, shortcut=shortcut, text=text, created_at=utcnow())
                .returning(s.macros.c.id)
            )
        ).scalar_one()
    except IntegrityError:  # a concurrent create won the race
        raise MacroError(f"a macro #{shortcut} already exists", status=409) from None
    return Macro(int(new_id), shortcut, text)


async def update_macro(
    conn: AsyncConnection, workspace_id: int, macro_id: int, *, shortcut: str | None, text: str | None
) -> Macro:
    m = s.macros
    row = (
        await conn.execute(
            select(m.c.id, m.c.shortcut, m.c.text).where(m.c.id == macro_id, m.c.workspace_id == workspace_id)
        )
    ).first()
    if row is None:
        raise MacroError("no such macro", status=404)
    new_shortcut = shortcut if shortcut is not None else row.shortcut
    new_text = text if text is not None else row.text
    if new_shortcut != row.shortcut and await _taken(conn, workspace_id, new_shortcut, macro_id):
        raise MacroError(f"a macro #{new_shortcut} already exists", status=409)
    try:
        await conn.execute(update(m).where(m.c.id == macro_id).values(shortcut=new_shortcut, text=new_text))
    except IntegrityError:
        raise MacroError(f"a macro #{new_shortcut} already exists", status=409) from None
    return Macro(macro_id, new_shortcut, new_text)


async def delete_macro(conn: AsyncConnection, workspace_id: int, macro_id: int) -> None:
    m = s.macros
    result = await conn.execute(delete(m).where(m.c.id == macro_id, m.c.workspace_id == workspace_id))
    if result.rowcount == 0:
        raise MacroError("no such macro", status=404)


def fill_variables(text: str, values: Mapping[str, str]) -> str:
    """Replace known ``{variables}``; unknown ones stay as written."""
    return VARIABLE_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


async def expand_macros(
    conn: AsyncConnection, workspace_id: int, text: str, values: Mapping[str, str]
) -> tuple[str, list[int]]:
    """``text`` with every known ``#shortcut`` token replaced; returns it and the macro ids used."""
    shortcuts = {m.group(1) for m in TOKEN_RE.finditer(text)}
    if not shortcuts:
        return text, []
    m = s.macros
    rows = (
        await conn.execute(
            select(m.c.id, m.c.shortcut, m.c.text).where(
                m.c.workspace_id == workspace_id, m.c.shortcut.in_(sorted(shortcuts))
            )
        )
    ).all()
    known = {r.shortcut: r for r in rows}
    if not known:
        return text, []
    used: list[int] = []

    def replace(match: re.Match[str]) -> str:
        row = known.get(match.group(1))
        if row is None:
            return match.group(0)
        if row.id not in used:
            used.append(row.id)
        return fill_variables(row.text, values)

    return TOKEN_RE.sub(replace, text), used
