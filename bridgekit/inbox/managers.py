"""Managers and their API tokens. Only a SHA-256 of a token is stored."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.exceptions import RequestRefused
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s
from bridgekit.storage.db import Database
from bridgekit.storage.storable import storable

TOKEN_PREFIX = "bk_"

# Permission names a manager can hold (``bridgekit managers create --permission NAME``).
DELETE_CHATS = "delete_chats"  # I12
ADMIN = "admin"  # teams, managers, macros
PERMISSIONS = (ADMIN, DELETE_CHATS)
MAX_NAME = 200  # the managers.name column


class ManagerError(RequestRefused):
    """A manager operation was refused: no such manager, an unknown permission."""


def clean_name(name: object) -> str:
    """A manager's name as stored: trimmed, not empty, at most ``MAX_NAME`` characters."""
    if not isinstance(name, str) or not name.strip():
        raise ManagerError("name must be a non-empty string")
    if len(name.strip()) > MAX_NAME or not storable(name):
        raise ManagerError(f"name must be at most {MAX_NAME} characters, without NUL or unpaired surrogates")
    return name.strip()


def clean_permissions(permissions: object) -> list[str]:
    """A list of known permission names, each once, in ``PERMISSIONS`` order."""
    if not isinstance(permissions, list | tuple) or not all(isinstance(p, str) for p in permissions):
        raise ManagerError(f"permissions must be a list of names from: {', '.join(PERMISSIONS)}")
    unknown = sorted(set(permissions) - set(PERMISSIONS))
    if unknown:
        raise ManagerError(f"unknown permission {unknown[0]!r}; valid: {', '.join(PERMISSIONS)}")
    return [p for p in PERMISSIONS if p in permissions]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Manager:
    id: int
    name: str
    operator: bool
    permissions: frozenset[str]


def normalise_email(email: str) -> str:
    """The form an email is stored and looked up in: sign-in ignores case and spaces around."""
    return email.strip().lower()


async def _check_email(conn: AsyncConnection, email: str, manager_id: int | None) -> str:
    address = normalise_email(email)
    local, at, domain = address.partition("@")
    if (
        not (local and at and domain)
        or len(address) > 320
        or any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in address)
    ):  # NUL, other control characters and lone surrogates too: no address has them
        raise ManagerError(f"{email!r} is not an email address")
    taken = select(s.managers.c.id).where(s.managers.c.email == address)
    if manager_id is not None:
        taken = taken.where(s.managers.c.id != manager_id)
    if (await conn.execute(taken)).first() is not None:
        raise ManagerError(f"another manager already signs in with {address}", status=409)
    return address


async def create_manager(
    db: Database,
    workspace_id: int,
    name: str,
    *,
    operator: bool = False,
    permissions: tuple[str, ...] = (),
    email: str | None = None,
) -> tuple[int, str]:
    """Create a manager; returns (id, token). The token is shown once and never stored.
    ``email`` is what they sign in with in a browser (unique)."""
    name = clean_name(name)
    granted = clean_permissions(permissions)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with db.write() as conn:
        address = None if email is None else await _check_email(conn, email, None)
        result = await conn.execute(
            s.managers.insert()
            .values(
                workspace_id=workspace_id,
                name=name,
                email=address,
                operator=operator,
                permissions=granted,
                token_hash=hash_token(token),
                max_auto_assign=10,
                notify_unassigned=False,
                created_at=utcnow(),
            )
            .returning(s.managers.c.id)
        )
        return int(result.scalar_one()), token


async def set_email(db: Database, manager_id: int, email: str) -> None:
    async with db.write() as conn:
        address = await _check_email(conn, email, manager_id)
        result = await conn.execute(
            update(s.managers).where(s.managers.c.id == manager_id).values(email=address)
        )
        if result.rowcount != 1:
            raise ManagerError(f"no manager {manager_id}")


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
    # Every API request: on the event loop, no thread hand-offs (Database.read_short).
    row = await db.read_first(select(s.managers).where(s.managers.c.token_hash == hash_token(token)))
    return None if row is None else manager_from_row(row)


def manager_from_row(row: Row[Any]) -> Manager:
    """A ``Manager`` from a row holding the ``managers`` columns."""
    return Manager(row.id, row.name, row.operator, frozenset(row.permissions or ()))
