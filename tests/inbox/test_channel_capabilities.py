"""Each shipped channel's ``Capabilities`` are enforced at the API (issue 13): a reply or a
started chat the channel could not deliver is refused with a 4xx naming the limit, and
nothing is stored or queued — no message, no outbox row, no attachment, no file left in
``data_dir/attachments`` — instead of a 201 that fails later in the outbox.

Every case runs against the real plugin with its sandbox, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from bridgekit_email_forward.plugin import EmailForwardPlugin
from bridgekit_email_forward.sandbox import SmtpSink
from bridgekit_instagram.plugin import InstagramPlugin
from bridgekit_instagram.sandbox import MetaSandbox
from bridgekit_line.plugin import LinePlugin
from bridgekit_line.sandbox import LineSandbox
from bridgekit_naver.plugin import NaverPlugin
from bridgekit_naver.sandbox import TalkTalkSandbox
from sqlalchemy import func, select

import bridgekit
from bridgekit.flow import MessageEvent
from bridgekit.model import Capabilities
from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from bridgekit.text_units import UTF8_BYTES
from tests.conftest import integration, signed
from tests.support.sandbox import SandboxProvider
from tests.support.testchannel import TestChannelPlugin

MB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@dataclass(frozen=True)
class Limits:
    """What one channel refuses, and the contact a manager may start a chat with."""

    title: str
    contact: dict[str, str]
    max_attachments: int
    oversized: tuple[str, str, int]  # filename, content type, size just over the limit
    too_big: str  # the 413's message
    too_long: str  # a text over the channel's length
    too_long_status: int
    too_long_error: str
    unsupported: tuple[str, str, str] | None  # filename, content type, the 422's message


LONG_FOR_CORE = "x" * 50_001  # channels that split long texts meet only the core's limit
CORE_TOO_LONG = "text is longer than 50000 characters"

CHANNELS: dict[str, Limits] = {
    "line": Limits(
        title="LINE",
        contact={"kind": "line", "value": "U" + "1" * 32},
        max_attachments=10,
        oversized=("photo.png", "image/png", 10 * MB + 1),
        too_big="LINE takes images of at most 10 MB; photo.png is larger",
        # 12,501 emoji are 25,002 UTF-16 units: over LINE's 5 messages of 5,000, though
        # 12,501 characters would fit.
        too_long="😀" * 12_501,
        too_long_status=422,
        too_long_error="LINE takes at most 25000 characters (UTF-16 code units: an emoji counts 2) "
        "per message; this text is 25002",
        unsupported=None,
    ),
    "instagram": Limits(
        title="Instagram",
        contact={"kind": "instagram", "value": "1784140000000001"},
        max_attachments=10,
        oversized=("photo.jpg", "image/jpeg", 8 * MB + 1),
        too_big="Instagram takes images of at most 8 MB; photo.jpg is larger",
        too_long=LONG_FOR_CORE,
        too_long_status=400,
        too_long_error=CORE_TOO_LONG,
        unsupported=None,
    ),
    "naver": Limits(
        title="Naver TalkTalk",
        contact={"kind": "naver", "value": "5KcCQTARWKNKv1IOvXwYQw"},
        max_attachments=10,
        oversized=("photo.gif", "image/gif", 20 * MB + 1),
        too_big="Naver TalkTalk takes attachments of at most 20 MB; photo.gif is larger",
        too_long=LONG_FOR_CORE,
        too_long_status=400,
        too_long_error=CORE_TOO_LONG,
        unsupported=(
            "invoice.pdf",
            "application/pdf",
            "Naver TalkTalk can only send image/gif, image/jpeg, image/jpg, image/png attachments; "
            "invoice.pdf is application/pdf",
        ),
    ),
    "email": Limits(
        title="Email",
        contact={"kind": "email", "value": "minji@customer.test"},
        max_attachments=10,
        oversized=("scan.tiff", "image/tiff", 25 * MB + 1),
        too_big="Email takes attachments of at most 25 MB; scan.tiff is larger",
        too_long=LONG_FOR_CORE,
        too_long_status=400,
        too_long_error=CORE_TOO_LONG,
        unsupported=None,
    ),
    # The test channel declares the remaining kinds of limits: fewer files, a text length in
    # UTF-8 bytes, no images.
    "testchat": Limits(
        title="Testchat",
        contact={"kind": "testchat", "value": "u-1"},
        max_attachments=2,
        oversized=("notes.txt", "text/plain", 1001),
        too_big="Testchat takes attachments of at most 1000 bytes; notes.txt is larger",
        too_long="안녕하세요",  # 5 characters, 15 bytes
        too_long_status=422,
        too_long_error="Testchat takes at most 12 bytes of UTF-8 per message; this text is 15",
        unsupported=("photo.png", "image/png", "Testchat cannot send images (photo.png is image/png)"),
    ),
}

TEST_CAPABILITIES = Capabilities(
    max_attachments=2,
    max_attachment_bytes=1000,
    max_text_length=12,
    text_unit=UTF8_BYTES,
    supports_images=False,
    start_chat_with=("testchat",),
)


@contextlib.asynccontextmanager
async def bridge_with(
    channel: str, make_bridge: Callable[..., Awaitable[RunningBridge]]
) -> AsyncIterator[RunningBridge]:
    """A running bridgekit with the real ``channel`` plugin talking to its sandbox."""
    if channel == "line":
        async with LineSandbox() as line:
            plugin = LinePlugin()
            try:
                yield await make_bridge(
                    plugins={"line": plugin},
                    integrations={
                        "acme": {
                            "channel": "line",
                            "settings": line.integration_settings(),
                            "secrets": line.integration_secrets(),
                        }
                    },
                )
            finally:
                await plugin.aclose()
    elif channel == "instagram":
        meta = MetaSandbox()
        await meta.start()
        plugin_ig = InstagramPlugin()
        try:
            yield await make_bridge(
                plugins={"instagram": plugin_ig},
                integrations={
                    "acme": {
                        "channel": "instagram",
                        "settings": {"graph_base": meta.url, "ig_user_id": meta.ig_user_id},
                        "secrets": {
                            "app_secret": meta.app_secret,
                            "verify_token": meta.verify_token,
                            "access_token": meta.access_token,
                        },
                    }
                },
            )
        finally:
            await plugin_ig.aclose()
            await meta.stop()
    elif channel == "naver":
        talktalk = TalkTalkSandbox(authorization_key="ct_key", path_token="pt_token")
        await talktalk.start()
        plugin_nv = NaverPlugin()
        try:
            yield await make_bridge(
                plugins={"naver": plugin_nv},
                integrations={
                    "acme": {
                        "channel": "naver",
                        "settings": {"api_base": talktalk.api_base, "allowed_ips": ["127.0.0.0/8"]},
                        "secrets": {"authorization_key": "ct_key", "path_token": "pt_token"},
                    }
                },
            )
        finally:
            await plugin_nv.aclose()
            await talktalk.stop()
    elif channel == "email":
        relay = SmtpSink()
        await relay.start()
        try:
            yield await make_bridge(
                plugins={"email_forward": EmailForwardPlugin()},
                integrations={
                    "acme": {
                        "channel": "email",
                        "settings": {
                            "address": "support@acme.test",
                            "smtp_host": "127.0.0.1",
                            "smtp_port": 0,
                            "relay_host": "127.0.0.1",
                            "relay_port": relay.port,
                            "relay_tls": "none",
                        },
                    }
                },
            )
        finally:
            await relay.stop()
    else:
        sandbox = SandboxProvider()
        server = aiohttp.web.AppRunner(sandbox.app())
        await server.setup()
        site = aiohttp.web.TCPSite(server, "127.0.0.1", 0)
        await site.start()
        port = server.addresses[0][1]
        try:
            yield await make_bridge(
                plugins={"testchat": TestChannelPlugin(capabilities=TEST_CAPABILITIES)},
                integrations={"acme": integration(f"http://127.0.0.1:{port}")},
            )
        finally:
            await server.cleanup()


async def stored(running: RunningBridge) -> dict[str, Any]:
    """Everything a refused request must not add to: rows and files."""
    async with running.bridge.db.read() as conn:
        counts = {
            table.name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            for table in (s.chats, s.messages, s.attachments)
        }
        counts["outbox messages"] = sorted(
            (await conn.execute(select(s.outbox.c.message_id))).scalars().all()
        )
    root = running.bridge.data_dir / "attachments"
    counts["files"] = sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.exists() else []
    return counts


async def settled(running: RunningBridge, chat_id: int) -> None:
    """Wait until the outbox is done with the chat's first message (sent, or failed when
    the sandbox does not know the contact), so that only a refused request could change rows."""

    async def done() -> bool:
        return all(
            m["delivery_status"] in ("sent", "delivered", "failed") for m in await running.messages(chat_id)
        )

    await running.wait_for(done)


async def post(
    running: RunningBridge, chat_id: int, payload: dict[str, Any], files: list[tuple[str, str, bytes]]
) -> tuple[int, Any]:
    data = aiohttp.FormData()
    data.add_field("payload", json.dumps(payload), content_type="application/json")
    for name, content_type, body in files:
        data.add_field("files", body, filename=name, content_type=content_type)
    async with running.session.post(f"{running.url}/api/v1/chats/{chat_id}/messages", data=data) as resp:
        return resp.status, await resp.json()


async def start_chat(running: RunningBridge, body: dict[str, Any]) -> tuple[int, Any]:
    async with running.session.post(
        f"{running.url}/api/v1/chats", json={"integration": "acme", **body}
    ) as resp:
        return resp.status, await resp.json()


def small_file(limits: Limits, n: int) -> tuple[str, str, bytes]:
    if limits.unsupported is not None and limits.unsupported[1] == "application/pdf":
        return (f"photo-{n}.png", "image/png", PNG)  # Naver sends images only
    return (f"note-{n}.txt", "text/plain", b"note %d" % n)


@pytest.mark.parametrize("channel", sorted(CHANNELS))
async def test_a_reply_or_chat_beyond_the_channel_capabilities_is_refused_and_nothing_is_stored(
    channel: str, make_bridge: Callable[..., Awaitable[RunningBridge]]
) -> None:
    limits = CHANNELS[channel]
    async with bridge_with(channel, make_bridge) as running:
        status, started = await start_chat(running, {"contact": limits.contact, "text": "Hello"})
        assert status == 201, started
        chat_id = started["chat_id"]
        await settled(running, chat_id)
        before = await stored(running)
        assert before["messages"] == 1

        async def refused(answer: tuple[int, Any], expected: tuple[int, str]) -> None:
            assert (answer[0], answer[1]["error"]) == expected
            # a file over the channel's size has the code the browser translates
            assert answer[1].get("code") == ("file_too_large" if expected[0] == 413 else None)
            assert await stored(running) == before

        # One file too many: refused as it arrives, before it is staged.
        files = [small_file(limits, n) for n in range(limits.max_attachments + 1)]
        too_many = f"{limits.title} takes at most {limits.max_attachments} attachments per message"
        await refused(await post(running, chat_id, {"text": "files"}, files), (422, too_many))

        # A file one byte over the channel's size for its kind.
        name, content_type, size = limits.oversized
        big = [(name, content_type, PNG + b"\0" * (size - len(PNG)))]
        await refused(await post(running, chat_id, {"text": "big"}, big), (413, limits.too_big))

        # A text over the channel's length, counted in its unit: as a reply, as a started chat.
        expected = (limits.too_long_status, limits.too_long_error)
        await refused(await post(running, chat_id, {"text": limits.too_long}, []), expected)
        async with running.session.post(
            f"{running.url}/api/v1/chats/{chat_id}/messages", json={"text": limits.too_long}
        ) as resp:
            await refused((resp.status, await resp.json()), expected)
        other = {**limits.contact, "value": limits.contact["value"] + "2"}
        await refused(await start_chat(running, {"contact": other, "text": limits.too_long}), expected)

        # A kind of file the channel cannot send.
        if limits.unsupported is not None:
            name, content_type, message = limits.unsupported
            await refused(
                await post(running, chat_id, {"text": "kind"}, [(name, content_type, PNG)]), (422, message)
            )

        # A contact the channel cannot start a chat with.
        phone = {"kind": "phone", "value": "+821012345678"}
        reaches = limits.contact["kind"]
        await refused(
            await start_chat(running, {"contact": phone, "text": "Hi"}),
            (422, f"acme reaches customers by {reaches}, not phone"),
        )


async def test_notes_are_not_limited_by_the_channel_and_a_reply_within_it_is_sent(
    make_bridge: Callable[..., Awaitable[RunningBridge]], tmp_path: Path
) -> None:
    """The limits are the channel's, not the inbox's: a note keeps what the channel would refuse."""
    async with bridge_with("testchat", make_bridge) as running:
        status, started = await start_chat(running, {"contact": CHANNELS["testchat"].contact, "text": "Hi"})
        assert status == 201, started
        chat_id = started["chat_id"]
        files = [
            ("a.png", "image/png", PNG),
            ("b.txt", "text/plain", b"x" * 2000),
            ("c.txt", "text/plain", b"c"),
        ]
        status, note = await post(running, chat_id, {"kind": "note", "text": "안녕하세요 긴 메모"}, files)
        assert status == 201, note
        # Files streaming before the payload part are held to the channel once it says "reply".
        data = aiohttp.FormData()
        data.add_field("files", PNG, filename="early.png", content_type="image/png")
        data.add_field("payload", json.dumps({"text": "late payload"}), content_type="application/json")
        before = await stored(running)
        async with running.session.post(f"{running.url}/api/v1/chats/{chat_id}/messages", data=data) as resp:
            assert (resp.status, await resp.json()) == (
                422,
                {"error": "Testchat cannot send images (early.png is image/png)"},
            )
        assert await stored(running) == before
        # Exactly at the limits is fine: 12 bytes, 2 files of 1000 bytes.
        status, reply = await post(
            running,
            chat_id,
            {"text": "안녕하세요"[:4]},
            [("a.txt", "text/plain", b"a" * 1000), ("b.txt", "text/plain", b"b")],
        )
        assert status == 201, reply


async def test_line_holds_only_what_it_sends_as_images_to_its_image_size(
    make_bridge: Callable[..., Awaitable[RunningBridge]],
) -> None:
    """LINE sends JPEG/PNG as image messages (10 MB at most) and any other file as a link: a
    GIF over 10 MB is accepted, a PNG of the same size is not."""
    async with bridge_with("line", make_bridge) as running:
        status, started = await start_chat(running, {"contact": CHANNELS["line"].contact, "text": "Hello"})
        assert status == 201, started
        body = PNG + b"\0" * (10 * MB + 1 - len(PNG))
        status, answer = await post(
            running, started["chat_id"], {"text": "png"}, [("a.png", "image/png", body)]
        )
        assert (status, answer) == (
            413,
            {
                "error": "LINE takes images of at most 10 MB; a.png is larger",
                "code": "file_too_large",
                "details": {"filename": "a.png", "limit": "10 MB"},
            },
        )
        status, answer = await post(
            running, started["chat_id"], {"text": "gif"}, [("a.gif", "image/gif", body)]
        )
        assert status == 201, answer


class LongWindedBot:
    """Answers every customer with a text the channel cannot take, then with one it can."""

    @bridgekit.hookimpl
    def bridgekit_message_received(self, event: MessageEvent) -> None:
        event.reply("안녕하세요 고객님")  # 25 bytes of UTF-8: over Testchat's 12
        event.reply("OK")


async def test_a_bot_reply_beyond_the_channel_capabilities_is_not_queued_and_managers_see_why(
    make_bridge: Callable[..., Awaitable[RunningBridge]], sandbox_url: str, sandbox: SandboxProvider
) -> None:
    running = await make_bridge(
        plugins={"testchat": TestChannelPlugin(capabilities=TEST_CAPABILITIES), "bot": LongWindedBot()},
        integrations={"acme": integration(sandbox_url)},
    )
    body, headers = signed({"id": "ev-1", "user": "u-1", "name": "Kim", "text": "hi"})
    assert (await running.post_hook("acme", body, headers))[0] == 200
    (chat,) = await running.chats()
    await running.wait_for(lambda: sandbox.texts == ["OK"])

    async def three() -> list[dict[str, Any]] | None:
        messages = await running.messages(chat["id"])
        return messages if len(messages) == 3 else None

    _inbound, note, reply = await running.wait_for(three)
    assert (note["direction"], note["author_name"]) == ("note", "bot")
    assert note["text"] == (
        "Reply from bot not sent: Testchat takes at most 12 bytes of UTF-8 per message; this text is 25"
    )
    assert (reply["direction"], reply["text"]) == ("outbound", "OK")
    async with running.bridge.db.read() as conn:
        queued = (await conn.execute(select(s.outbox.c.message_id))).scalars().all()
    assert queued == [reply["id"]]
