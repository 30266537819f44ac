"""Key files, private files and directories under ``data_dir``: one way to create them.

Every secret the server keeps on disk (the customer-link key, the media-URL key, the integration-secrets
keys)
lives in ``data_dir/secrets``; directories are created 0700 and files 0600 whatever the
process umask, and existing ones are tightened, so an upgrade fixes older installs too.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

SECRETS_DIR = Path("secrets")


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700; tighten it if it already exists."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        with contextlib.suppress(PermissionError):  # not ours (e.g. a shared mount): leave it
            path.chmod(0o700)
    return path


def private_file(path: Path) -> None:
    """Tighten an existing file to 0600 (a no-op when it does not exist)."""
    with contextlib.suppress(FileNotFoundError, PermissionError):
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)


def write_key_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, 0600 in a 0700 directory (replacing it)."""
    tmp = _write_tmp(path, data)
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_or_create_key_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """The key in ``path``, created with ``make()`` on first use (atomically, mode 0600).

    Two processes starting at once agree: the first to link its file wins.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        pass
    else:
        private_file(path)
        return data
    tmp = _write_tmp(path, make())
    try:
        os.link(tmp, path)  # fails if another process created it first: theirs wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def server_key(data_dir: Path, name: str) -> bytes:
    """The 32-byte random key ``data_dir/secrets/<name>``, created on first use.

    Such a key never leaves the server and nothing derives it from an integration's secrets:
    a database dump alone reveals none of them.
    """
    return read_or_create_key_file(data_dir / SECRETS_DIR / name, lambda: secrets.token_bytes(32))


def create_private_file(path: Path) -> BinaryIO:
    """A new file (it must not exist) opened for writing, 0600 whatever the umask."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _write_tmp(path: Path, data: bytes) -> Path:
    private_dir(path.parent)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    with create_private_file(tmp) as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp
