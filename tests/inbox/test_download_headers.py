"""Every route that serves stored bytes answers with the same safe headers (issue 12 item 2).

An uploaded ``.html`` or ``.svg`` must never render as a page of our origin: no sniffing, an
``application/octet-stream`` download, a sandboxing CSP. Routes: the manager API's attachment
download, the customer link's attachment download, a message's raw delivery (the core's
``/media/...`` route is in tests/core/test_media_urls.py, the email source view in the
email plugin's tests).
"""

from __future__ import annotations

import aiohttp
import pytest

from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from tests.conftest import integration
from tests.inbox.messages_helpers import customer_writes, rows

HTML = b"<html><script>alert(document.domain)</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
ACTIVE = [("page.html", "text/html", HTML), ("logo.svg", "image/svg+xml", SVG)]
SAFE = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


@pytest.fixture
async def running(make_bridge, sandbox_url: str, channel_plugin) -> RunningBridge:
    started: RunningBridge = await make_bridge(
        plugins={"testchat": channel_plugin}, integrations={"acme": integration(sandbox_url)}
    )
    return started


def assert_download(headers: dict[str, str], content_type: str = "application/octet-stream") -> None:
    assert headers["Content-Type"] == content_type
    assert headers["Content-Disposition"].startswith("attachment;")
    for name, value in SAFE.items():
        assert headers[name] == value


@pytest.mark.parametrize(("name", "content_type", "data"), ACTIVE)
async def test_manager_and_customer_attachment_downloads_neutralise_active_types(
    running: RunningBridge, name: str, content_type: str, data: bytes
) -> None:
    chat_id = await customer_writes(running)
    await running.reply(chat_id, "see file", files=[(name, content_type, data)])
    (attachment,) = await rows(running, s.attachments)

    async with running.session.get(f"{running.url}/api/v1/attachments/{attachment.id}") as resp:
        assert (resp.status, await resp.read()) == (200, data)
        assert_download(dict(resp.headers))

    links = await running.api("GET", f"/chats/{chat_id}/links")
    path = links["customer_link"].removeprefix(running.bridge.config.base_url)
    async with (
        aiohttp.ClientSession() as customer,  # no manager token: the customer's browser
        customer.get(f"{running.url}{path}/attachments/{attachment.id}") as resp,
    ):
        assert (resp.status, await resp.read()) == (200, data)
        assert_download(dict(resp.headers))
        assert resp.headers["Cache-Control"] == "no-store"  # the customer link's own rule


async def test_passive_files_keep_their_type_and_images_stay_downloads_for_managers(
    running: RunningBridge,
) -> None:
    chat_id = await customer_writes(running)
    files = [("a.pdf", "application/pdf", b"%PDF-1.4"), ("b.png", "image/png", b"\x89PNG\r\n\x1a\n")]
    await running.reply(chat_id, "files", files=files)
    for attachment, (_, content_type, _) in zip(await rows(running, s.attachments), files, strict=True):
        async with running.session.get(f"{running.url}/api/v1/attachments/{attachment.id}") as resp:
            assert_download(dict(resp.headers), content_type)


async def test_the_raw_delivery_is_an_unsniffed_download(running: RunningBridge) -> None:
    chat_id = await customer_writes(running, text="<html><script>alert(1)</script>")
    (message,) = await running.messages(chat_id)
    async with running.session.get(f"{running.url}/api/v1/messages/{message['id']}/raw") as resp:
        assert resp.status == 200
        assert b"<script>" in await resp.read()
        assert_download(dict(resp.headers))
