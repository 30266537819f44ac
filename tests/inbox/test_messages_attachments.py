"""Attachments on managers' messages (I14): 10 per message, a size limit, a time limit,
streamed to disk, delivered to the channel plugin, downloadable."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.payload import AsyncIterablePayload

import bridgekit
from bridgekit.config import Config
from bridgekit.inbox import uploads
from bridgekit.model import DeliveryResult, Integration, OutboundMessage
from bridgekit.storage import schema as s
from bridgekit.testing.harness import TEST_OUTBOX, RunningBridge
from tests.conftest import integration
from tests.inbox.messages_helpers import anonymous, customer_writes, rows
from tests.support.sandbox import SandboxProvider
from tests.support.testchannel import TestChannelPlugin


class RecordingChannel(TestChannelPlugin):
    """The test channel, also remembering the attachments ``bridgekit_deliver`` was given."""

    __test__ = False

    def __init__(self) -> None:
        super().__init__()
        self.delivered: list[tuple[str, list[tuple[str, str, int, bytes]]]] = []

    @bridgekit.hookimpl
    async def bridgekit_deliver(self, integration: Integration, message: OutboundMessage) -> DeliveryResult:
        files = [(a.filename, a.content_type, a.size, a.path.read_bytes()) for a in message.attachments]
        self.delivered.append((message.text, files))
        result: DeliveryResult = await TestChannelPlugin.bridgekit_deliver(self, integration, message)
        return result


@pytest.fixture
def channel() -> RecordingChannel:
    return RecordingChannel()


@pytest.fixture
async def running(make_bridge, sandbox_url: str, channel: RecordingChannel) -> RunningBridge:
    # A tiny request-body limit: uploads must stream past it instead of being read whole.
    started: RunningBridge = await make_bridge(
        plugins={"testchat": channel},
        integrations={"acme": integration(sandbox_url)},
        config=Config(outbox=TEST_OUTBOX, max_body_bytes=4096),
    )
    return started


def form(payload: dict[str, object], files: list[tuple[str, str, bytes]]) -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("payload", json.dumps(payload), content_type="application/json")
    for name, content_type, body in files:
        data.add_field("files", body, filename=name, content_type=content_type)
    return data


async def post_form(running: RunningBridge, chat_id: int, data: object) -> tuple[int, dict[str, object]]:
    async with running.session.post(f"{running.url}/api/v1/chats/{chat_id}/messages", data=data) as resp:
        return resp.status, await resp.json()


def stored_files(running: RunningBridge) -> list[Path]:
    root = running.bridge.data_dir / "attachments"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_i14_ten_files_reach_bridgekit_deliver_and_can_be_downloaded(
    running: RunningBridge, channel: RecordingChannel, sandbox: SandboxProvider
) -> None:
    chat_id = await customer_writes(running)
    files = [(f"invoice-{n}.pdf", "application/pdf", f"%PDF-{n} ".encode() * 3000) for n in range(9)]
    files.append(('사진 "1".png', "image/png", b"\x89PNG" + bytes(range(256)) * 40))
    status, posted = await post_form(
        running, chat_id, form({"kind": "reply", "text": "Your documents"}, files)
    )
    assert status == 201, posted
    await running.wait_for(lambda: sandbox.texts == ["Your documents"])

    (delivered,) = channel.delivered
    assert delivered == ("Your documents", [(n, t, len(b), b) for n, t, b in files])
    attachments = await rows(running, s.attachments)
    assert [(a.message_id, a.filename, a.size) for a in attachments] == [
        (posted["id"], n, len(b)) for n, _, b in files
    ]
    assert all(
        a.sha256 == hashlib.sha256(b).hexdigest() for a, (_, _, b) in zip(attachments, files, strict=True)
    )
    assert {Path(a.storage_path).parent.parent for a in attachments} == {
        running.bridge.data_dir / "attachments"
    }
    assert not list((running.bridge.data_dir / "attachments" / "incoming").iterdir())

    (message,) = [m for m in await running.messages(chat_id) if m["id"] == posted["id"]]
    assert [a["filename"] for a in message["attachments"]] == [n for n, _, _ in files]
    last = message["attachments"][-1]
    async with running.session.get(f"{running.url}/api/v1/attachments/{last['id']}") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "image/png"
        assert "filename*=UTF-8''%EC%82%AC%EC%A7%84%20%221%22.png" in resp.headers["Content-Disposition"]
        assert resp.headers["Content-Disposition"].startswith("attachment;")
        assert await resp.read() == files[-1][2]
    async with running.session.get(f"{running.url}/api/v1/attachments/999999") as resp:
        assert resp.status == 404


async def test_i14_an_eleventh_file_is_refused_and_nothing_is_stored(
    running: RunningBridge, sandbox: SandboxProvider
) -> None:
    chat_id = await customer_writes(running)
    before = stored_files(running)
    files = [(f"f{n}.txt", "text/plain", f"file {n}".encode()) for n in range(11)]
    status, answer = await post_form(running, chat_id, form({"text": "too many"}, files))
    assert (status, answer) == (422, {"error": "Testchat takes at most 10 attachments per message"})
    assert stored_files(running) == before
    assert await rows(running, s.attachments) == []
    assert [m["kind"] for m in await running.messages(chat_id)] == ["customer"]
    assert sandbox.calls == []


async def test_i14_a_file_over_the_size_limit_is_refused(
    running: RunningBridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "MAX_FILE_BYTES", 102_400)  # stands in for 1 GB
    chat_id = await customer_writes(running)
    files = [("ok.txt", "text/plain", b"fine"), ("video.mp4", "video/mp4", b"\0" * 102_401)]
    status, answer = await post_form(running, chat_id, form({"text": "big"}, files))
    assert status == 413
    assert answer == {
        "error": "video.mp4 is larger than the limit of 100 KB",
        "code": "file_too_large",
        "details": {"filename": "video.mp4", "limit": "100 KB"},
    }
    assert stored_files(running) == []
    assert await rows(running, s.attachments) == []

    files = [("exact.bin", "application/octet-stream", b"\1" * 102_400)]  # the limit itself is fine
    status, posted = await post_form(running, chat_id, form({"text": "just fits"}, files))
    assert status == 201, posted


async def test_i14_an_upload_slower_than_the_time_limit_fails_and_leaves_no_partial_file(
    running: RunningBridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "UPLOAD_TIMEOUT_SECONDS", 1)  # stands in for 5 minutes
    chat_id = await customer_writes(running)
    seen_partial: list[Path] = []

    async def trickle() -> AsyncIterator[bytes]:
        for _ in range(12):
            yield b"x" * 1024
            await asyncio.sleep(0.25)
            seen_partial.extend(stored_files(running))

    writer = aiohttp.MultipartWriter("form-data")
    writer.append_json({"kind": "note", "text": "slow"}).set_content_disposition("form-data", name="payload")
    part = writer.append_payload(AsyncIterablePayload(trickle(), content_type="application/zip"))
    part.set_content_disposition("form-data", name="files", filename="slow.zip")
    try:
        status, answer = await post_form(running, chat_id, writer)
    except aiohttp.ClientError:  # the server may also drop a client that is still sending
        status, answer = 408, {"error": "(connection dropped) took longer than 1 second"}
    assert status == 408
    assert "took longer than 1 second" in str(answer["error"])
    assert any(p.suffix == ".part" for p in seen_partial)  # it was really streaming to disk...
    assert stored_files(running) == []  # ...and the partial file is gone
    assert await rows(running, s.attachments) == []
    assert [m["kind"] for m in await running.messages(chat_id)] == ["customer"]


async def test_i14_a_note_with_files_keeps_them_internal(
    running: RunningBridge, sandbox: SandboxProvider, channel: RecordingChannel
) -> None:
    chat_id = await customer_writes(running)
    status, posted = await post_form(
        running, chat_id, form({"kind": "note", "text": ""}, [("log.txt", "text/plain", b"stack trace")])
    )
    assert status == 201
    await asyncio.sleep(0.3)
    assert channel.delivered == []
    assert sandbox.calls == []
    (message,) = [m for m in await running.messages(chat_id) if m["id"] == posted["id"]]
    assert message["kind"] == "note"
    assert [a["filename"] for a in message["attachments"]] == ["log.txt"]


@pytest.mark.parametrize(
    ("parts", "error"),
    [
        ([("files", "a.txt", b"x")], "needs a 'payload' part"),
        ([("payload", None, b"[1]")], "payload part must be a JSON object"),
        ([("payload", None, b"{bad")], "payload part must be JSON"),
        ([("payload", None, b"{}"), ("comment", None, b"hi")], "unexpected form field 'comment'"),
    ],
)
async def test_i14_malformed_multipart_messages_are_refused(
    running: RunningBridge, parts: list[tuple[str, str | None, bytes]], error: str
) -> None:
    chat_id = await customer_writes(running)
    data = aiohttp.FormData(default_to_multipart=True)
    for name, filename, body in parts:
        # Text fields as str: aiohttp's FormData names a bytes field's file after the field.
        data.add_field(name, body if filename else body.decode(), filename=filename)
    status, answer = await post_form(running, chat_id, data)
    assert status == 400
    assert error in str(answer["error"])
    assert stored_files(running) == []


async def test_i11_i14_the_customer_link_serves_reply_files_but_not_note_files(
    running: RunningBridge,
) -> None:
    chat_id = await customer_writes(running)
    status, reply = await post_form(
        running, chat_id, form({"text": "Your invoice"}, [("invoice.pdf", "application/pdf", b"%PDF-1")])
    )
    assert status == 201
    status, note = await post_form(
        running, chat_id, form({"kind": "note", "text": "log"}, [("debug.log", "text/plain", b"secret")])
    )
    assert status == 201
    by_message = {a.message_id: a.id for a in await rows(running, s.attachments)}
    links = await running.api("GET", f"/chats/{chat_id}/links")
    path = links["customer_link"].removeprefix(running.bridge.config.base_url)

    status, page = await anonymous(running, "GET", path)
    assert [m["text"] for m in page["messages"]] == ["hello", "Your invoice"]
    (shown,) = page["messages"][-1]["attachments"]
    assert shown["url"] == f"{path}/attachments/{by_message[reply['id']]}"
    status, body = await anonymous(running, "GET", shown["url"])
    assert (status, body) == (200, b"%PDF-1")
    status, _ = await anonymous(running, "GET", f"{path}/attachments/{by_message[note['id']]}")
    assert status == 404


async def test_i14_files_left_by_a_crashed_upload_are_swept(running: RunningBridge) -> None:
    incoming = running.bridge.data_dir / "attachments" / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    stale, recent = incoming / "crashed.part", incoming / "in-progress.part"
    stale.write_bytes(b"half a file")
    recent.write_bytes(b"someone is uploading")
    old = time.time() - 3 * uploads.STALE_AFTER_SECONDS
    os.utime(stale, (old, old))
    chat_id = await customer_writes(running)
    status, _ = await post_form(running, chat_id, form({"text": "x"}, [("a.txt", "text/plain", b"a")]))
    assert status == 201
    assert not stale.exists()
    assert recent.exists()


@pytest.mark.parametrize(
    ("content_type", "body", "error"),
    [
        ("multipart/form-data", b"garbage", "malformed"),
        ("multipart/form-data; boundary=xyz", b"garbage", "malformed"),
        (
            "multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="payload"\r\n\r\n{"text": "a"}\r\n--xyz',
            "malformed",
        ),
        (
            "multipart/form-data; boundary=xyz",
            b"--xyz\r\nContent-Type: multipart/mixed; boundary=abc\r\n\r\n"
            b"--abc\r\n\r\nx\r\n--abc--\r\n--xyz--\r\n",
            "nested multipart",
        ),
        # A file's Content-Type in bytes that are not UTF-8 cannot be stored: refused, not a 500.
        (
            "multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="payload"\r\n\r\n'
            b'{"kind": "note", "text": "a"}\r\n'
            b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n'
            b"Content-Type: text/plain\xff\xfe\r\n\r\nhello\r\n--xyz--\r\n",
            "Content-Type of a.txt",
        ),
        (
            "multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="payload"\r\n\r\n'
            b'{"kind": "note", "text": "a"}\r\n'
            b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n'
            b'Content-Type: text/plain; charset="\xff"\r\n\r\nhello\r\n--xyz--\r\n',
            "Content-Type of a.txt",
        ),
    ],
)
async def test_i14_broken_multipart_bodies_are_a_clear_400(
    running: RunningBridge, content_type: str, body: bytes, error: str
) -> None:
    chat_id = await customer_writes(running)
    async with running.session.post(
        f"{running.url}/api/v1/chats/{chat_id}/messages", data=body, headers={"Content-Type": content_type}
    ) as resp:
        assert resp.status == 400
        assert error in (await resp.json())["error"]
    assert [m["kind"] for m in await running.messages(chat_id)] == ["customer"]
