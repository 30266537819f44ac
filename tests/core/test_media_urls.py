"""Outbound media URLs (issue 12 item 1): what providers download a reply's files from.

One core route serves them: ``/media/{attachment id}/{expires}/{signature}/{name}``, signed
with a key of the server's own, scoped to one attachment, expiring. Everything wrong is the
same bare 404. Active content (HTML, SVG) is never served inline.
"""

from __future__ import annotations

import stat
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

import bridgekit
from bridgekit.config import Config, parse_config
from bridgekit.exceptions import ConfigError
from bridgekit.model import DeliveryResult, Integration, OutboundAttachment, OutboundMessage
from bridgekit.testing.harness import TEST_OUTBOX, RunningBridge
from tests.conftest import integration
from tests.inbox.messages_helpers import customer_writes
from tests.support.sandbox import SandboxProvider
from tests.support.testchannel import TestChannelPlugin

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
HTML = b"<html><script>fetch('/api/v1/chats').then(r => r.text()).then(alert)</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>'


class MediaChannel(TestChannelPlugin):
    """The test channel, remembering the attachments (and their URLs) it was given."""

    __test__ = False

    def __init__(self) -> None:
        super().__init__()
        self.attachments: list[OutboundAttachment] = []

    @bridgekit.hookimpl
    async def bridgekit_deliver(self, integration: Integration, message: OutboundMessage) -> DeliveryResult:
        self.attachments.extend(message.attachments)
        result: DeliveryResult = await TestChannelPlugin.bridgekit_deliver(self, integration, message)
        return result


@pytest.fixture
def channel() -> MediaChannel:
    return MediaChannel()


@pytest.fixture
async def running(make_bridge, sandbox_url: str, channel: MediaChannel) -> RunningBridge:
    started: RunningBridge = await make_bridge(
        plugins={"testchat": channel}, integrations={"acme": integration(sandbox_url)}
    )
    return started


async def send_files(
    running: RunningBridge, channel: MediaChannel, files: list[tuple[str, str, bytes]]
) -> dict[str, OutboundAttachment]:
    """A manager's reply with ``files``; the attachments the plugin got, by file name."""
    chat_id = await customer_writes(running)
    await running.reply(chat_id, "files", files=files)
    await running.wait_for(lambda: len(channel.attachments) >= len(files))
    return {a.filename: a for a in channel.attachments}


async def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    """As a provider does: no credentials."""
    async with aiohttp.ClientSession() as client, client.get(url) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def test_a_reply_file_reaches_the_plugin_with_a_public_url_serving_it(
    running: RunningBridge, channel: MediaChannel
) -> None:
    sent = await send_files(running, channel, [("photo.png", "image/png", PNG)])
    photo = sent["photo.png"]
    assert photo.url is not None
    assert photo.url.startswith(f"{running.url}/media/{photo.id}/")
    # Names the content by id only: no stored path, no digest, no content type in the URL.
    assert photo.path.name not in photo.url
    assert "image" not in photo.url.split("/media/")[1]
    status, headers, body = await fetch(photo.url)
    assert (status, body) == (200, PNG)
    assert headers["Content-Type"] == "image/png"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Disposition"].startswith("inline;")
    assert headers["Cache-Control"].startswith("private")
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


async def test_an_image_labelled_jpg_is_served_as_image_jpeg(
    running: RunningBridge, channel: MediaChannel
) -> None:
    """Providers compare the Content-Type with the bytes (Naver refuses a mismatch)."""
    jpeg = b"\xff\xd8\xff\xe0" + bytes(32)
    sent = await send_files(running, channel, [("scan.jpg", "image/jpg", jpeg)])
    url = sent["scan.jpg"].url
    assert url is not None
    status, headers, body = await fetch(url)
    assert (status, body, headers["Content-Type"]) == (200, jpeg, "image/jpeg")


@pytest.mark.parametrize(
    ("name", "content_type", "data"), [("page.html", "text/html", HTML), ("logo.svg", "image/svg+xml", SVG)]
)
async def test_html_and_svg_are_downloads_never_pages(
    running: RunningBridge, channel: MediaChannel, name: str, content_type: str, data: bytes
) -> None:
    sent = await send_files(running, channel, [(name, content_type, data)])
    url = sent[name].url
    assert url is not None
    status, headers, body = await fetch(url)
    assert (status, body) == (200, data)
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"].startswith("attachment;")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


async def test_a_url_opens_its_own_attachment_only_and_only_until_it_expires(
    running: RunningBridge, channel: MediaChannel
) -> None:
    sent = await send_files(
        running, channel, [("a.png", "image/png", PNG), ("secret.png", "image/png", PNG[::-1])]
    )
    mine, other = sent["a.png"], sent["secret.png"]
    assert mine.url is not None
    base, attachment_id, expires, signature, name = mine.url.rsplit("/", 4)
    assert int(attachment_id) == mine.id
    not_found = await fetch(f"{running.url}/media/0/0/x/x")
    assert not_found[0] == 404
    forged = [
        f"{base}/{other.id}/{expires}/{signature}/{name}",  # another attachment, my signature
        f"{base}/{attachment_id}/{int(expires) + 3600}/{signature}/{name}",  # a later expiry
        f"{base}/{attachment_id}/{expires}/{signature[:-2]}AA/{name}",  # a changed signature
        f"{base}/{attachment_id}/{expires}/{signature}x/{name}",
        f"{base}/%2e%2e%2fbridgekit.db/{expires}/{signature}/{name}",  # a path instead of an id
        f"{base}/99999999999/{expires}/{signature}/{name}",
    ]
    for url in forged:
        status, _, body = await fetch(url)
        assert (status, body) == (404, not_found[2]), url
    # the file name is decoration: the right signature opens the attachment whatever it says
    for decoration in ("other.png", "..%2f..%2fsecrets%2fmedia_url.key"):
        assert (await fetch(f"{base}/{attachment_id}/{expires}/{signature}/{decoration}"))[2] == PNG

    expired = running.bridge.media_urls.path(mine.id, "a.png", now=time.time() - 3601)
    status, _, body = await fetch(f"{running.url}{expired}")
    assert (status, body) == (404, not_found[2])
    fresh = running.bridge.media_urls.path(mine.id, "a.png")
    assert (await fetch(f"{running.url}{fresh}"))[:1] == (200,)


async def test_the_media_key_is_the_servers_own_and_private(
    running: RunningBridge, channel: MediaChannel
) -> None:
    await send_files(running, channel, [("a.png", "image/png", PNG)])
    secrets_dir = running.bridge.data_dir / "secrets"
    key_file = secrets_dir / "media_url.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    assert len(key_file.read_bytes()) == 32
    # not derived from any integration secret: the test channel's secrets are not in it
    assert b"s3cret" not in key_file.read_bytes()


async def test_urls_use_the_configured_public_url_and_there_is_none_without_it(
    make_bridge, sandbox_url: str, channel: MediaChannel, sandbox: SandboxProvider
) -> None:
    running: RunningBridge = await make_bridge(
        plugins={"testchat": channel},
        integrations={"acme": integration(sandbox_url)},
        config=Config(outbox=TEST_OUTBOX, public_url="https://support.example.com/"),
    )
    sent = await send_files(running, channel, [("a.png", "image/png", PNG)])
    assert sent["a.png"].url is not None
    assert sent["a.png"].url.startswith(f"https://support.example.com/media/{sent['a.png'].id}/")
    assert running.bridge.public_url == "https://support.example.com"
    # without [server] public_url no provider could reach a URL: plugins get None and say so
    running.bridge.config = replace(running.bridge.config, public_url=None)
    assert running.bridge.media_url(sent["a.png"].id, "a.png") is None


def test_media_url_ttl_is_configurable(tmp_path: Path) -> None:
    assert parse_config({}, source=tmp_path / "b.toml").media_url_ttl == 3600
    assert parse_config({"server": {"media_url_ttl": 600}}, source=tmp_path / "b.toml").media_url_ttl == 600
    with pytest.raises(ConfigError, match="media_url_ttl"):
        parse_config({"server": {"media_url_ttl": 0}}, source=tmp_path / "b.toml")
