"""End to end through a running bridgekit: LINE sandbox -> signed webhook -> chat ->
manager reply -> the customer's LINE (I5, I9, I19; ARCHITECTURE "Data flow")."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from bridgekit_line.plugin import LinePlugin
from bridgekit_line.sandbox import LineSandbox

from bridgekit.testing.harness import RunningBridge

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 32 + b"\xff\xd9"


@pytest.fixture
async def bridge_and_line(
    make_bridge: Callable[..., Awaitable[RunningBridge]],
) -> AsyncIterator[tuple[RunningBridge, LineSandbox]]:
    async with LineSandbox() as line:
        plugin = LinePlugin()
        running = await make_bridge(
            plugins={"line": plugin},
            integrations={
                "acme": {
                    "channel": "line",
                    "settings": line.integration_settings(),
                    "secrets": line.integration_secrets(),
                }
            },
        )
        yield running, line
        await plugin.aclose()


async def _chat(running: RunningBridge) -> dict[str, Any]:
    chats = await running.wait_for(running.chats)
    assert len(chats) == 1
    chat: dict[str, Any] = chats[0]
    return chat


async def test_first_message_opens_a_line_chat_and_the_reply_reaches_line(
    bridge_and_line: tuple[RunningBridge, LineSandbox],
) -> None:
    running, line = bridge_and_line
    user = line.add_user("Mina Tanaka")
    hook = f"{running.url}/hooks/acme"

    response = await line.webhooks.post(hook, [line.webhooks.text(user, "Hello, is my order shipped?")])
    assert response.status == 200

    chat = await _chat(running)
    assert chat["channel"] == "line"
    assert chat["mark"] == "LINE"  # I9
    messages = await running.messages(chat["id"])
    assert [(m["direction"], m["text"]) for m in messages] == [("inbound", "Hello, is my order shipped?")]

    await running.reply(chat["id"], "Hi Mina, it left the warehouse today.")
    await running.wait_for(lambda: line.sent)
    (sent,) = line.sent
    assert (sent.to, sent.text) == (user, "Hi Mina, it left the warehouse today.")
    assert sent.via == "reply"  # answered within the reply token's life: free for the shop

    async def delivered() -> Any:
        return [m for m in await running.messages(chat["id"]) if m["delivery_status"] == "sent"]

    (outbound,) = await running.wait_for(delivered)
    assert outbound["provider_message_id"] == sent.id  # shows "sent", never "read" (I19)


async def test_redelivery_and_forgery_add_nothing(bridge_and_line: tuple[RunningBridge, LineSandbox]) -> None:
    running, line = bridge_and_line
    user = line.add_user("Mina")
    hook = f"{running.url}/hooks/acme"
    events = [line.webhooks.text(user, "only once please"), line.webhooks.image(user, JPEG)]

    assert (await line.webhooks.post(hook, events)).status == 200
    assert (await line.webhooks.post(hook, events, redelivery=True)).status == 200
    assert (
        await line.webhooks.post(hook, [line.webhooks.text(user, "forged")], signature="AAAA")
    ).status == 401
    assert (await line.webhooks.verify_ping(hook)).status == 200

    chat = await _chat(running)
    messages = await running.messages(chat["id"])
    assert [m["text"] for m in messages] == ["only once please", "[Image]"]
    assert messages[1]["attachments"][0]["content_type"] == "image/jpeg"
    assert messages[1]["attachments"][0]["size"] == len(JPEG)


async def test_manager_image_is_downloaded_by_line_from_the_core_https_media_url(
    make_bridge: Callable[..., Awaitable[RunningBridge]], tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    """LINE takes media only from public HTTPS URLs and downloads them itself: the reply's
    image goes out as bridgekit's signed ``/media/...`` URL, and LINE gets the exact bytes."""
    async with LineSandbox(download_media=True, client_ssl=tls[1]) as line:
        plugin = LinePlugin()
        running = await make_bridge(
            plugins={"line": plugin},
            integrations={
                "acme": {
                    "channel": "line",
                    "settings": line.integration_settings(),
                    "secrets": line.integration_secrets(),
                }
            },
            tls=tls,
        )
        try:
            user = line.add_user("Mina")
            assert running.url.startswith("https://")
            await line.webhooks.post(f"{running.url}/hooks/acme", [line.webhooks.text(user, "photo?")])
            chat = await _chat(running)
            await running.reply(chat["id"], "here", files=[("label.jpg", "image/jpeg", JPEG)])
            await running.wait_for(lambda: len(line.sent) == 2)
            text, image = line.sent
            assert text.text == "here"
            url = image.message["originalContentUrl"]
            assert url.startswith(f"{running.url}/media/")
            assert image.message["previewImageUrl"] == url
            await running.wait_for(lambda: bool(line.downloads))  # LINE fetches after accepting
            assert line.downloads == {url: JPEG}
        finally:
            await plugin.aclose()


async def test_a_manager_starts_a_line_chat_by_user_id_never_by_phone(
    bridge_and_line: tuple[RunningBridge, LineSandbox],
) -> None:
    """E10 on LINE: a push reaches a LINE user id; LINE cannot send to a phone number, so
    such a chat is refused at once (422) instead of being accepted and failing later."""
    running, line = bridge_and_line
    user = line.add_user("Mina Tanaka")
    url = f"{running.url}/api/v1/chats"
    by_phone = {
        "integration": "acme",
        "text": "Your order shipped",
        "contact": {"kind": "phone", "value": "+81 90 1234 5678"},
    }

    async with running.session.post(url, json=by_phone) as resp:
        assert resp.status == 422
        assert "reaches customers by line, not phone" in (await resp.json())["error"]
    assert await running.chats() == []

    by_user_id = {**by_phone, "contact": {"kind": "line", "value": user, "shared": False}}
    async with running.session.post(url, json=by_user_id) as resp:
        assert resp.status == 201
    await running.wait_for(lambda: line.sent)
    (sent,) = line.sent
    assert (sent.to, sent.via, sent.message["text"]) == (user, "push", "Your order shipped")
