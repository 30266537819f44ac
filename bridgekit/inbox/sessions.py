"""Managers signing in with an email and a password: argon2 password hashes, one-time links to
set a password, and server-side sessions with idle and absolute expiry.

Tokens (session cookies, links) are 256 random bits; only their SHA-256 is stored, like API
tokens, so a copy of the database signs nobody in. A session's CSRF token is derived from its
cookie's token with HMAC, so it needs no storage and is worthless without the cookie.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update

from bridgekit.inbox.managers import Manager, ManagerError, hash_token, manager_from_row, normalise_email
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s
from bridgekit.storage.db import Database
from bridgekit.storage.storable import storable

SESSION_IDLE = timedelta(hours=12)  # a session not used for this long ends
SESSION_MAX = timedelta(days=14)  # and every session ends this long after sign-in
LINK_TTL = timedelta(hours=24)  # how long a set-password link works (once)
# Writing last_seen_at on every request would make each page view a write; a session's idle
# clock moves in steps of this much instead.
TOUCH_EVERY = timedelta(minutes=1)
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 hashes anything, but a megabyte "password" is a way to burn CPU

_hasher = PasswordHasher()


# Verified against when the email is unknown, so an unknown address costs the same time as a
# wrong password and the answer's timing does not tell which addresses exist.
@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


class PasswordRefused(ManagerError):
    """A new password was refused (too short, too long, mismatched); the message says why."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session: who it belongs to and its CSRF token."""

    manager: Manager
    csrf: str


def csrf_token(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"bridgekit csrf", hashlib.sha256).hexdigest()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise PasswordRefused(f"the password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise PasswordRefused(f"the password may have at most {MAX_PASSWORD} characters")


async def _hash(password: str) -> str:
    # argon2 is deliberately slow (tens of milliseconds): off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def _verify(stored: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


async def create_password_link(db: Database, manager_id: int, ttl: timedelta = LINK_TTL) -> str:
    """A one-time token to set ``manager_id``'s password; earlier unused links stop working."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    async with db.write() as conn:
        row = (await conn.execute(select(s.managers.c.email).where(s.managers.c.id == manager_id))).first()
        if row is None:
            raise ManagerError(f"no manager {manager_id}")
        if not row.email:
            raise ManagerError(f"manager {manager_id} has no email to sign in with; set one first")
        await conn.execute(delete(s.password_links).where(s.password_links.c.manager_id == manager_id))
        await conn.execute(
            s.password_links.insert().values(
                token_hash=hash_token(token), manager_id=manager_id, created_at=now, expires_at=now + ttl
            )
        )
    return token


async def password_link_manager(db: Database, token: str) -> Manager | None:
    """The manager a set-password link is for, or None when it is unknown, used or expired."""
    link = s.password_links.c
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(s.managers)
                .join(s.password_links, link.manager_id == s.managers.c.id)
                .where(
                    link.token_hash == hash_token(token), link.used_at.is_(None), link.expires_at > utcnow()
                )
            )
        ).first()
    return None if row is None else manager_from_row(row)


async def use_password_link(db: Database, token: str, password: str) -> Manager | None:
    """Set the password through a link (once); ends the manager's other sessions. None when
    the link does not work (any more)."""
    check_password(password)
    hashed = await _hash(password)
    link = s.password_links.c
    now = utcnow()
    async with db.write() as conn:
        # Marking it used in the same statement that checks it: two posts of one link cannot both win.
        used = await conn.execute(
            update(s.password_links)
            .where(link.token_hash == hash_token(token), link.used_at.is_(None), link.expires_at > now)
            .values(used_at=now)
            .returning(link.manager_id)
        )
        manager_id = used.scalar_one_or_none()
        if manager_id is None:
            return None
        await conn.execute(
            update(s.managers).where(s.managers.c.id == manager_id).values(password_hash=hashed)
        )
        await conn.execute(delete(s.sessions).where(s.sessions.c.manager_id == manager_id))
        row = (await conn.execute(select(s.managers).where(s.managers.c.id == manager_id))).one()
    return manager_from_row(row)


async def check_credentials(db: Database, email: str, password: str) -> Manager | None:
    """The manager with this email and password, or None — the same for an unknown address,
    a manager without a password and a wrong password, in about the same time."""
    address = normalise_email(email)
    row = None
    if storable(address) and len(address) <= 320:  # PostgreSQL refuses NUL in text: no such email
        async with db.read() as conn:
            row = (await conn.execute(select(s.managers).where(s.managers.c.email == address))).first()
    stored = row.password_hash if row is not None else None
    if len(password) > MAX_PASSWORD:
        return None
    ok = await _verify(stored or _dummy_hash(), password)
    if not ok or row is None or stored is None:
        return None
    return manager_from_row(row)


async def start_session(db: Database, manager_id: int) -> str:
    """A new session for ``manager_id``; returns the cookie's token (never stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    async with db.write() as conn:
        # Sessions past their end are removed here, when someone signs in, not by a worker.
        await conn.execute(delete(s.sessions).where(s.sessions.c.expires_at <= now))
        await conn.execute(
            s.sessions.insert().values(
                token_hash=hash_token(token),
                manager_id=manager_id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + SESSION_MAX,
            )
        )
    return token


async def session(db: Database, token: str) -> SignedIn | None:
    """The signed-in manager of a cookie's token, or None when the session is unknown, ended,
    idle longer than ``SESSION_IDLE`` or past its absolute end."""
    now = utcnow()
    token_hash = hash_token(token)
    c = s.sessions.c
    row = await db.read_first(  # every request of a signed-in browser
        select(s.managers, c.last_seen_at)
        .join(s.sessions, c.manager_id == s.managers.c.id)
        .where(c.token_hash == token_hash, c.expires_at > now, c.last_seen_at > now - SESSION_IDLE)
    )
    if row is None:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        async with db.write() as conn:
            await conn.execute(update(s.sessions).where(c.token_hash == token_hash).values(last_seen_at=now))
    return SignedIn(manager_from_row(row), csrf_token(token))


async def end_session(db: Database, token: str) -> None:
    async with db.write() as conn:
        await conn.execute(delete(s.sessions).where(s.sessions.c.token_hash == hash_token(token)))
