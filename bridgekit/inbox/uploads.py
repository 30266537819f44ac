"""Streaming attachment uploads from a manager's ``multipart/form-data`` message (I14).

Each file part is written chunk by chunk to a temporary file under
``data_dir/attachments/incoming`` while it is hashed, so a 1 GB upload never sits in memory.
Only when the whole request has arrived and passed every check are the files renamed into the
content-addressed layout :class:`bridgekit.storage.files.FileStore` uses
(``attachments/<xx>/<sha256>``), so stored paths stay compatible with ingest's attachments.
Anything refused — the 11th file, an oversized file, an upload slower than the time limit, a
client that goes away — leaves no partial file behind. A reply's files are also held to its
channel's ``Capabilities`` (:class:`bridgekit.inbox.capabilities.ChannelLimits`) as they stream:
the first file too many, of a kind the channel cannot send or past its size is refused before
more is staged (notes are not limited by the channel).

The limits are module constants read at call time, so tests can shrink them with
``monkeypatch.setattr(uploads, "UPLOAD_TIMEOUT_SECONDS", 1)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
import unicodedata
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import unquote

from aiohttp import BodyPartReader, ClientPayloadError, MultipartReader, hdrs
from aiohttp.http_exceptions import HttpProcessingError

from bridgekit.exceptions import RequestRefused
from bridgekit.inbox.capabilities import ChannelLimits, human_size
from bridgekit.payloads import parse_json
from bridgekit.storage.keyfiles import create_private_file
from bridgekit.storage.storable import storable

MAX_FILES = 10  # I14: per message
MAX_FILE_BYTES = 1024**3  # I14: 1 GB per file
UPLOAD_TIMEOUT_SECONDS: float = 300.0  # I14: an upload taking over 5 minutes fails
MAX_PAYLOAD_BYTES = 1024 * 1024  # the JSON "payload" part
CHUNK_BYTES = 256 * 1024
STALE_AFTER_SECONDS = 3600.0  # staged files older than twice this are a crashed upload's
PAYLOAD_PART = "payload"
DEFAULT_CONTENT_TYPE = "application/octet-stream"


T = TypeVar("T")


class UploadError(RequestRefused):
    """An upload was refused; ``status`` is the HTTP status to answer with."""


@dataclass(frozen=True, slots=True)
class StoredUpload:
    """A received file, in its final content-addressed place."""

    filename: str
    content_type: str
    size: int
    sha256: str
    path: Path


@dataclass(slots=True)
class _Staged:
    filename: str
    content_type: str
    temp: Path
    size: int = 0
    sha256: str = ""


@dataclass(slots=True)
class Upload:
    """What a multipart message carried: the JSON payload and the staged files."""

    root: Path
    reply_limits: ChannelLimits | None = None
    payload: dict[str, Any] | None = None
    staged: list[_Staged] = field(default_factory=list)
    kept: bool = False

    @property
    def file_count(self) -> int:
        return len(self.staged)

    @property
    def channel_limits(self) -> ChannelLimits | None:
        """The channel's limits once the payload says this is a reply (the default kind); a
        note, or files streaming before the payload part, only meet the core's limits."""
        if self.payload is None or self.payload.get("kind", "reply") == "note":
            return None
        return self.reply_limits

    def planned(self) -> list[StoredUpload]:
        """The staged files as they will be stored by :meth:`keep` (their final paths)."""
        return [
            StoredUpload(item.filename, item.content_type, item.size, item.sha256, self._final(item))
            for item in self.staged
        ]

    async def keep(self) -> list[StoredUpload]:
        """Move every staged file into the content-addressed store; call once checks pass."""
        stored = await asyncio.to_thread(self._promote)
        self.kept = True
        return stored

    def _final(self, item: _Staged) -> Path:
        return self.root / "attachments" / item.sha256[:2] / item.sha256

    def _promote(self) -> list[StoredUpload]:
        for item in self.staged:
            final = self._final(item)
            if final.exists():  # same bytes already stored: content addressing dedupes
                item.temp.unlink(missing_ok=True)
            else:
                final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                os.replace(item.temp, final)
        return self.planned()

    def discard(self) -> None:
        for item in self.staged:
            item.temp.unlink(missing_ok=True)


def clean_filename(name: str | None) -> str:
    """A filename safe to store and to put in a Content-Disposition header.

    Browsers escape '"' and line breaks in multipart filenames as %22/%0A/%0D (WHATWG) and
    some clients (aiohttp) percent-encode every non-ASCII byte, so a name is percent-decoded
    when that yields valid UTF-8.
    """
    name = name or ""
    if "%" in name:
        with contextlib.suppress(UnicodeDecodeError):
            name = unquote(name, errors="strict")
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if base in ("", ".", ".."):
        base = "file"
    return base[:500]


@contextlib.asynccontextmanager
async def receive_upload(
    reader: MultipartReader,
    data_dir: Path,
    *,
    max_total_bytes: int,
    reply_limits: ChannelLimits | None = None,
) -> AsyncIterator[Upload]:
    """Read a whole multipart message (payload part + up to ``MAX_FILES`` file parts, their
    sizes together at most ``max_total_bytes``; a reply's files within ``reply_limits``).

    Raises :class:`UploadError` (or :class:`~bridgekit.inbox.capabilities.CapabilityError`)
    for anything refused. Inside the ``async with`` block the caller validates
    ``upload.payload`` and calls ``await upload.keep()``; leaving the block without keeping
    (or with an exception) removes every staged file.
    """
    upload = Upload(data_dir, reply_limits)
    incoming = data_dir / "attachments" / "incoming"
    try:
        try:
            async with asyncio.timeout(UPLOAD_TIMEOUT_SECONDS):
                await asyncio.to_thread(_prepare, incoming)
                await _read_parts(reader, upload, incoming, max_total_bytes)
        except (ConnectionError, ClientPayloadError):
            raise UploadError("the upload was interrupted before it was complete") from None
        except (ValueError, HttpProcessingError) as exc:
            raise UploadError(f"the multipart body is malformed: {exc}") from None
        except TimeoutError:
            raise UploadError(
                f"the upload took longer than {_duration(UPLOAD_TIMEOUT_SECONDS)} and was cancelled",
                status=408,
            ) from None
        yield upload
    finally:
        if not upload.kept:
            await asyncio.to_thread(upload.discard)


async def _read_parts(reader: MultipartReader, upload: Upload, incoming: Path, max_total: int) -> None:
    while True:
        part = await reader.next()
        if part is None:
            return
        if not isinstance(part, BodyPartReader):
            raise UploadError("nested multipart bodies are not accepted")
        if part.name == PAYLOAD_PART and part.filename is None:
            if upload.payload is not None:
                raise UploadError("only one payload part is allowed")
            upload.payload = await _read_payload(part)
            if (limits := upload.channel_limits) is not None:  # files staged before it
                limits.check_count(upload.file_count)
                for item in upload.staged:
                    limits.check_file(item.filename, item.content_type, item.size)
        elif part.filename is not None:
            if (limits := upload.channel_limits) is not None:
                limits.check_count(upload.file_count + 1)
            if upload.file_count >= MAX_FILES:
                raise UploadError(f"at most {MAX_FILES} files can be attached to one message")
            await _stage_file(part, upload, incoming, max_total)
        elif part.name is None:
            raise UploadError("the multipart body is malformed: a part has no name")
        else:
            raise UploadError(f"unexpected form field {part.name!r}: send a payload part and files")


async def _read_payload(part: BodyPartReader) -> dict[str, Any]:
    data = bytearray()
    while chunk := await part.read_chunk(CHUNK_BYTES):
        data.extend(chunk)
        if len(data) > MAX_PAYLOAD_BYTES:
            raise UploadError("the payload part is too large", status=413)
    try:
        payload = parse_json(bytes(data).decode(part.get_charset("utf-8")))
    except (ValueError, LookupError) as exc:
        raise UploadError(f"the payload part must be JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise UploadError("the payload part must be a JSON object")
    return payload


async def _stage_file(part: BodyPartReader, upload: Upload, incoming: Path, max_total: int) -> None:
    filename = clean_filename(part.filename)
    content_type = part.headers.get(hdrs.CONTENT_TYPE, DEFAULT_CONTENT_TYPE).strip() or DEFAULT_CONTENT_TYPE
    if not storable(content_type):  # header bytes that are not UTF-8 arrive as lone surrogates
        raise UploadError(f"the Content-Type of {filename} is not valid text")
    limits = upload.channel_limits
    max_bytes = MAX_FILE_BYTES
    if limits is not None:
        limits.check_kind(filename, content_type)
        max_bytes = min(max_bytes, limits.max_bytes(content_type))
    staged = _Staged(filename, content_type[:200], incoming / f"{uuid.uuid4().hex}.part")
    # Registered before the first byte so a failure at any point removes the partial file.
    upload.staged.append(staged)
    hasher = hashlib.sha256()
    earlier = sum(item.size for item in upload.staged)
    fh = await _in_thread(create_private_file, staged.temp)  # 0600, like every stored file
    try:
        while chunk := await part.read_chunk(CHUNK_BYTES):
            staged.size += len(chunk)
            if staged.size > max_bytes:
                if limits is not None:
                    limits.check_size(filename, content_type, staged.size)
                limit = human_size(MAX_FILE_BYTES)
                raise UploadError(
                    f"{filename} is larger than the limit of {limit}",
                    status=413,
                    code="file_too_large",
                    details={"filename": filename, "limit": limit},
                )
            if earlier + staged.size > max_total:
                limit = human_size(max_total)
                raise UploadError(
                    f"the files together are larger than the limit of {limit}",
                    status=413,
                    code="files_too_large",
                    details={"limit": limit},
                )
            await _in_thread(_write_chunk, fh, hasher, chunk)
        await _in_thread(_sync, fh)
    finally:
        await _in_thread(fh.close)
    staged.sha256 = hasher.hexdigest()


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    """``asyncio.to_thread`` that, when cancelled (the upload timed out), still lets the
    thread finish before re-raising: the file is then never closed or unlinked while a
    write to it is running, and no file appears after the cleanup removed it."""
    task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise


def _prepare(incoming: Path) -> None:
    """Create the staging folder and sweep what a killed process left there (a crash mid-upload
    skips the cleanup): only files far older than any upload still allowed to run."""
    incoming.mkdir(parents=True, exist_ok=True, mode=0o700)
    cutoff = time.time() - 2 * max(UPLOAD_TIMEOUT_SECONDS, STALE_AFTER_SECONDS)
    for leftover in incoming.glob("*.part"):
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()


def _write_chunk(fh: IO[bytes], hasher: Any, chunk: bytes) -> None:
    hasher.update(chunk)
    fh.write(chunk)


def _sync(fh: IO[bytes]) -> None:
    fh.flush()
    os.fsync(fh.fileno())


def _duration(seconds: float) -> str:
    value, unit = (seconds / 60, "minute") if seconds >= 60 else (seconds, "second")
    return f"{value:g} {unit}" + ("" if value == 1 else "s")
