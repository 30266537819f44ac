"""Managers and their API tokens. Only a SHA-256 of a token is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from bridgekit.exceptions import RequestRefused
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s
from bridgekit.storage.db import Database

TOKEN_PREFIX = "bk_"

# Permission names a manager can hold (``bridgekit managers create --permission NAME``).
DELETE_CHATS = "delete_chats"  # I12
ADMIN = "admin"  # teams, managers, macros
PERMISSIONS = (ADMIN, DELETE_CHATS)


class ManagerError(RequestRefused):
    """A manager operation was refused: no such manager, an unknown permission."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Manager:
    id: int
    name: str
    operator: bool
    permissions: frozenset[str]


async def create_manager(
    db: Database, workspace_id: int, name: str, *, operator: bool = False, permissions: tuple[str, ...] = ()
) -> tuple[int, str]:
    """Create a manager; returns (id, token). The token is shown once and never stored."""
    unknown = sorted(set(permissions) - set(PERMISSIONS))
    if unknown:
        raise ManagerError(f"unknown permission {unknown[0]!r}; valid: {', '.join(PERMISSIONS)}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with db.write() as conn:
        result = await conn.execute(
            s.managers.insert()
            .values(
                workspace_id=workspace_id,
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
    """A new token for ``manager_id``; the old one stops working (open event streams end too)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with db.write() as conn:
        result = await conn.execute(
            update(s.managers).where(s.managers.c.id == manager_id).values(token_hash=hash_token(token))
        )
        if result.rowcount != 1:
            raise ManagerError(f"no manager {manager_id}")
    return token


async def authenticate(db: Database, token: str) -> Manager | None:
    async with db.read() as conn:
        row = (
            await conn.execute(select(s.managers).where(s.managers.c.token_hash == hash_token(token)))
        ).first()
    if row is None:
        return None
    return Manager(row.id, row.name, row.operator, frozenset(row.permissions or ()))
