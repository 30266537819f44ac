"""Content-addressed attachment storage on disk.

Files are written (in a worker thread) before the database transaction that references
them: a crash in between leaves an unreferenced file, never a row without its file.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class StoredFile:
    sha256: str
    size: int
    path: Path


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, digest: str) -> Path:
        return self.root / "attachments" / digest[:2] / digest

    def _write(self, data: bytes) -> StoredFile:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # A temporary name of its own: two deliveries carrying the same bytes at once
            # must not write (and rename away) each other's file.
            fd, tmp = tempfile.mkstemp(prefix=f"{digest}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)  # atomic; the same content may already be there
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        return StoredFile(digest, len(data), path)

    async def put(self, data: bytes) -> StoredFile:
        return await asyncio.to_thread(self._write, data)
