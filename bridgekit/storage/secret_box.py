"""Integration secrets encrypted at rest (Fernet), with a key kept outside the database.

The keys come from ``BRIDGEKIT_SECRET_KEY`` (and ``BRIDGEKIT_SECRET_KEY_OLD``, comma-separated
keys still accepted for reading) or, when that is unset, from ``data_dir/secrets/
integrations.key`` (one key per line, the first encrypts), created on first start. A stored
``integrations.secrets`` value is ``{"$fernet": <token>}``; a plain mapping is a row written
before encryption: the next start replaces it (:meth:`IntegrationRegistry.sync`), and
:func:`rotate_secrets` seals it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.exceptions import ConfigError
from bridgekit.storage import schema as s
from bridgekit.storage.db import Database
from bridgekit.storage.keyfiles import SECRETS_DIR, read_or_create_key_file, write_key_file

KEY_FILE = SECRETS_DIR / "integrations.key"
SEALED = "$fernet"


class SecretBox:
    """Seals and opens the stored secrets of integrations; the first key encrypts."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ConfigError("no key to encrypt integration secrets with")
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except ValueError as exc:
            raise ConfigError(
                "an integration-secrets key is not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from exc

    @classmethod
    def load(cls, data_dir: Path, env_keys: Sequence[str] = ()) -> SecretBox:
        """The keys from the environment if any were given, else the key file (created once)."""
        if env_keys:
            return cls([key.encode() for key in env_keys])
        return cls(parse_key_file(read_or_create_key_file(data_dir / KEY_FILE, Fernet.generate_key)))

    @staticmethod
    def is_sealed(stored: Mapping[str, Any]) -> bool:
        return set(stored) == {SEALED}

    def seal(self, secrets: Mapping[str, str]) -> dict[str, str]:
        if not secrets:
            return {}
        return {SEALED: self._fernet.encrypt(json.dumps(dict(secrets)).encode()).decode()}

    def open(self, stored: Mapping[str, Any], *, integration: str) -> dict[str, str]:
        if not self.is_sealed(stored):
            return {str(k): str(v) for k, v in stored.items()}  # written before encryption
        try:
            plain = self._fernet.decrypt(str(stored[SEALED]).encode())
        except InvalidToken:
            raise ConfigError(
                f"the stored secrets of integration {integration!r} do not open with the configured "
                "key(s): give the key they were written with in BRIDGEKIT_SECRET_KEY_OLD "
                "(or keep it in the key file)"
            ) from None
        value = json.loads(plain)
        return {str(k): str(v) for k, v in value.items()}


def parse_key_file(data: bytes) -> list[bytes]:
    return [line.strip() for line in data.splitlines() if line.strip()]


def rotate_key_file(data_dir: Path) -> tuple[Path, list[bytes]]:
    """Put a new first key in the key file, the old ones after it; return the path and keys."""
    path = data_dir / KEY_FILE
    old = parse_key_file(read_or_create_key_file(path, Fernet.generate_key))
    keys = [Fernet.generate_key(), *old]
    write_key_file(path, b"\n".join(keys) + b"\n")
    return path, keys


def drop_old_keys(path: Path, keys: Sequence[bytes]) -> None:
    """Keep only the first key (once every row is encrypted with it)."""
    write_key_file(path, keys[0] + b"\n")


async def rotate_secrets(db: Database, data_dir: Path, env_keys: Sequence[str] = ()) -> str:
    """Re-encrypt every stored secret with the first key; return what was done.

    With the key file: a new key is put first, every row is re-encrypted, then the old keys
    are dropped (a crash in between leaves both, so nothing becomes unreadable). With
    ``BRIDGEKIT_SECRET_KEY``: rows move to it from the keys in ``BRIDGEKIT_SECRET_KEY_OLD``,
    which can be unset afterwards.
    """
    if env_keys:
        count = await _reseal_all(db, SecretBox([key.encode() for key in env_keys]))
        return (
            f"re-encrypted the secrets of {count} integration(s) with BRIDGEKIT_SECRET_KEY; "
            "BRIDGEKIT_SECRET_KEY_OLD is no longer needed"
        )
    path, keys = await asyncio.to_thread(rotate_key_file, data_dir)
    count = await _reseal_all(db, SecretBox(keys))
    await asyncio.to_thread(drop_old_keys, path, keys)
    return f"new key in {path}; re-encrypted the secrets of {count} integration(s); old keys removed"


async def _reseal_all(db: Database, box: SecretBox) -> int:
    i = s.integrations
    async with db.write() as conn, secure_delete(conn, db):
        rows = (await conn.execute(select(i.c.id, i.c.name, i.c.secrets))).all()
        for row in rows:
            sealed = box.seal(box.open(row.secrets, integration=row.name))
            await conn.execute(update(i).where(i.c.id == row.id).values(secrets=sealed))
    return len(rows)


@asynccontextmanager
async def secure_delete(conn: AsyncConnection, db: Database) -> AsyncIterator[None]:
    """On SQLite, zero the space that replaced secret values leave (plaintext rows sealed).

    Only for this transaction: on every write it would cost the ingest path.
    """
    if not db.is_sqlite:
        yield
        return
    await conn.execute(text("PRAGMA secure_delete=ON"))
    try:
        yield
    finally:
        await conn.execute(text("PRAGMA secure_delete=OFF"))
