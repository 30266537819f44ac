"""Customer links (I11): a secret URL that shows one chat to its customer and lets them write.

Only a SHA-256 of the token is stored (``chats.customer_token_hash``), like manager tokens.
So that "copy customer link" can be pressed again and again, the token is not kept anywhere:
it is re-derived as ``HMAC(link key, "<chat id>:<generation>")``. The link key is a random
secret created once in ``data_dir/secrets`` (a database dump alone reveals no link). Rotating
moves the chat to the next generation; the current generation is found by comparing hashes,
which costs a few microseconds per past rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.exceptions import RequestRefused
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s
from bridgekit.storage.keyfiles import SECRETS_DIR, server_key

KEY_FILE = SECRETS_DIR / "customer_link.key"
MAX_GENERATIONS = 10_000


class LinkError(RequestRefused):
    """A link operation was refused."""

    status = 409


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_key(data_dir: Path) -> bytes:
    """The installation's link key, created on first use (atomically, mode 0600)."""
    return server_key(data_dir, KEY_FILE.name)


def derive_token(key: bytes, chat_id: int, generation: int) -> str:
    digest = hmac.new(key, f"{chat_id}:{generation}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _generation(key: bytes, chat_id: int, stored_hash: str) -> int | None:
    for generation in range(MAX_GENERATIONS):
        if hmac.compare_digest(hash_token(derive_token(key, chat_id, generation)), stored_hash):
            return generation
    return None


async def customer_token(conn: AsyncConnection, key: bytes, chat_id: int, *, rotate: bool = False) -> str:
    """The chat's customer token: created on first use, or moved on one generation (rotate)."""
    c = s.chats
    stored = (await conn.execute(select(c.c.customer_token_hash).where(c.c.id == chat_id))).scalar()
    current = _generation(key, chat_id, stored) if stored else None
    if current is not None and not rotate:
        return derive_token(key, chat_id, current)
    # No link yet, a rotation, or a hash from a lost key: a new generation is a new link.
    generation = 0 if current is None else current + 1
    if generation >= MAX_GENERATIONS:
        raise LinkError("this chat's customer link was rotated too many times")
    token = derive_token(key, chat_id, generation)
    await conn.execute(
        update(c).where(c.c.id == chat_id).values(customer_token_hash=hash_token(token), updated_at=utcnow())
    )
    return token


async def chat_for_token(conn: AsyncConnection, token: str) -> Any:
    """The chat a customer token opens, or None (wrong, rotated or malformed token)."""
    if not token or len(token) > 200:
        return None
    return (
        await conn.execute(select(s.chats).where(s.chats.c.customer_token_hash == hash_token(token)))
    ).first()
