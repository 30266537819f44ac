"""Content-addressed attachment storage on disk.

Files are written (in a worker thread) before the database transaction that references
them: a crash in between leaves an unreferenced file, never a row without its file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
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
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(path)
        return StoredFile(digest, len(data), path)

    async def put(self, data: bytes) -> StoredFile:
        return await asyncio.to_thread(self._write, data)
