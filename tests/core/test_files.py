"""Attachments are stored once by content, even when the same bytes arrive twice at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bridgekit.storage.files import FileStore


async def test_the_same_bytes_stored_concurrently_give_one_file(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    data = b"%PDF-1.7 the same invoice, sent by two customers at once" * 1000
    stored = await asyncio.gather(*(store.put(data) for _ in range(8)))
    assert {s.path for s in stored} == {stored[0].path}
    assert stored[0].path.read_bytes() == data
    leftovers = [p.name for p in stored[0].path.parent.iterdir() if p != stored[0].path]
    assert leftovers == []  # no temporary file left behind
