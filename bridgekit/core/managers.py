"""Managers and their API tokens. Only a SHA-256 of a token is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from bridgekit.core import schema as s
from bridgekit.core.clock import utcnow
from bridgekit.core.db import Database

TOKEN_PREFIX = "bk_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Manager:
    id: int
    name: str
    operator: bool
    permissions: frozenset[str]


async def create_manager(
    db: Database, channel_id: int, name: str, *, operator: bool = False, permissions: tuple[str, ...] = ()
) -> tuple[int, str]:
    """Create a manager; returns (id, token). The token is shown once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with db.write() as conn:
        result = await conn.execute(
            s.managers.insert()
            .values(
                channel_id=channel_id,
                name=name,
                operator=operator,
                permissions=list(permissions),
                token_hash=hash_token(token),
                max_auto_assign=10,
                notify_unassigned=False,
                created_at=utcnow(),
            )
            .returning(s.managers.c.id)
        )
        return int(result.scalar_one()), token


async def rotate_token(db: Database, manager_id: int) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with db.write() as conn:
        await conn.execute(
            update(s.managers).where(s.managers.c.id == manager_id).values(token_hash=hash_token(token))
        )
    return token


async def authenticate(db: Database, token: str) -> Manager | None:
    async with db.read() as conn:
        row = (
            await conn.execute(select(s.managers).where(s.managers.c.token_hash == hash_token(token)))
        ).first()
    if row is None:
        return None
    return Manager(row.id, row.name, row.operator, frozenset(row.permissions or ()))
