"""A client hanging up mid-request (a provider giving up, a phone losing signal) is routine:
one info line, never an error with a traceback, and nothing stored from the half request.

The bridge serves as ``bridgekit serve`` does: handlers run on after the client leaves (the
test server would cancel them) and see ``ConnectionResetError`` at their next body read."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from tests.conftest import integration, signed
from tests.inbox.messages_helpers import rows
from tests.support.testchannel import TestChannelPlugin


@pytest.fixture
async def running(make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin) -> RunningBridge:
    started: RunningBridge = await make_bridge(
        plugins={"testchat": channel_plugin},
        integrations={"acme": integration(sandbox_url)},
        cancel_handlers_on_disconnect=False,
    )
    return started


async def hang_up_after(running: RunningBridge, head: str, start_of_body: bytes) -> None:
    """Send the request head (announcing a large body) and a little of the body, then leave."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", running.server.port)
    writer.write(f"{head}\r\nHost: bridgekit.test\r\nContent-Length: 100000\r\n\r\n".encode() + start_of_body)
    await writer.drain()
    await asyncio.sleep(0.2)  # the handler is reading the body now
    writer.transport.abort()


async def test_clients_that_hang_up_mid_request_are_one_quiet_line(
    running: RunningBridge, caplog: pytest.LogCaptureFixture
) -> None:
    body, headers = signed({"id": "ev-1", "user": "u-1", "text": "hello"})
    assert (await running.post_hook("acme", body, headers))[0] == 200
    (chat,) = await running.chats()
    link = (await running.api("GET", f"/chats/{chat['id']}/links"))["customer_link"]
    customer_path = link.removeprefix(running.bridge.config.base_url)
    token = running.session.headers["Authorization"]
    caplog.set_level(logging.INFO)

    await hang_up_after(
        running, "POST /hooks/acme HTTP/1.1\r\nContent-Type: application/json", b'{"events": ['
    )
    await hang_up_after(
        running,
        f"POST /api/v1/chats/{chat['id']}/messages HTTP/1.1\r\nAuthorization: {token}\r\n"
        "Content-Type: application/json",
        b'{"text": "half a re',
    )
    await hang_up_after(
        running,
        f"POST /api/v1/chats/{chat['id']}/messages HTTP/1.1\r\nAuthorization: {token}\r\n"
        "Content-Type: multipart/form-data; boundary=XX",
        b'--XX\r\nContent-Disposition: form-data; name="payload"\r\n\r\n{"text": "a file"}\r\n'
        b'--XX\r\nContent-Disposition: form-data; name="file"; filename="scan.pdf"\r\n\r\n%PDF-1.7',
    )
    await hang_up_after(
        running, f"POST {customer_path}/messages HTTP/1.1\r\nContent-Type: application/json", b'{"text": "Hel'
    )
    await asyncio.sleep(0.3)

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]
    left = [r.getMessage() for r in caplog.records if " left during " in r.getMessage()]
    # The interrupted upload is answered by the upload reader itself (400), quietly too.
    assert left == [
        "client 127.0.0.1 left during POST /hooks/{integration}",
        "client 127.0.0.1 left during POST /api/v1/chats/{chat_id}/messages",
        "client 127.0.0.1 left during POST /c/{token}/messages",  # never the link's secret token
    ]
    assert len(await rows(running, s.messages)) == 1  # only the customer's first message
    assert len(await rows(running, s.raw_deliveries)) == 1
    assert len(await rows(running, s.attachments)) == 0
    assert (await running.api("GET", "/channels"))[0]["name"] == "testchat"  # still serving
