"""Random keys the server keeps to itself, one file each under ``data_dir/secrets``.

A key is created on first use (atomically, file mode 0600, directory 0700) and never leaves
the server: a database dump alone reveals none of them, and nothing derives them from an
integration's secrets.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_DIR = Path("secrets")


def server_key(data_dir: Path, name: str) -> bytes:
    """The 32-byte key ``data_dir/secrets/<name>``, created if it does not exist yet."""
    path = data_dir / KEY_DIR / name
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # fails if another process created it first: theirs wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()
