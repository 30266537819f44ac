"""End to end through a running bridgekit: the sandbox TalkTalk posts webhooks, a manager replies.

Customer's first message -> chat marked Naver (I9) -> manager reply through the outbox ->
received by the sandbox TalkTalk, shown as "sent" and never "read" (I19). TalkTalk's echo
of that reply adds nothing; a wrong token is a 401 that stores nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from bridgekit_naver.plugin import NaverPlugin
from bridgekit_naver.sandbox import TalkTalkSandbox, sample_png
from sqlalchemy import select

from bridgekit.core import schema as s
from bridgekit.model import Contact, OutboundAttachment, OutboundMessage
from bridgekit.testing.harness import RunningBridge

KEY = "ct_e2e_authorization_key"
TOKEN = "pt_e2e_7c9d2f0b5a1e4c38"
USER = "5KcCQTARWKNKv1IOvXwYQw"


@pytest.fixture
async def naver() -> AsyncIterator[TalkTalkSandbox]:
    sandbox = TalkTalkSandbox(authorization_key=KEY, path_token=TOKEN)
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


@pytest.fixture
async def running(
    make_bridge: Callable[..., Awaitable[RunningBridge]], naver: TalkTalkSandbox
) -> AsyncIterator[RunningBridge]:
    plugin = NaverPlugin()
    bridge = await make_bridge(
        plugins={"naver": plugin},
        integrations={
            "acme": {
                "channel": "naver",
                "settings": {"api_base": naver.api_base, "allowed_ips": ["127.0.0.0/8", "::1"]},
                "secrets": {"authorization_key": KEY, "path_token": TOKEN},
            }
        },
    )
    naver.callback_url = f"{bridge.url}/hooks/acme"
    yield bridge
    await plugin.aclose()


async def only_chat(running: RunningBridge) -> dict[str, Any]:
    chats = await running.wait_for(running.chats)
    assert len(chats) == 1
    chat: dict[str, Any] = chats[0]
    return chat


async def test_first_message_to_reply_round_trip_i9_i19(
    running: RunningBridge, naver: TalkTalkSandbox
) -> None:
    answer = await naver.post_webhook(naver.open_event(USER, inflow="list"))
    assert answer.status == 200
    assert await running.chats() == []  # opening the window is not a message

    answer = await naver.post_webhook(naver.text_event(USER, "사이즈 교환 가능한가요?"))
    assert answer.status == 200
    chat = await only_chat(running)
    assert chat["channel"] == "naver"
    assert chat["mark"]  # I9: the chat carries its messenger's mark
    [inbound] = await running.messages(chat["id"])
    assert inbound["direction"] == "inbound"
    assert inbound["text"] == "사이즈 교환 가능한가요?"

    await running.reply(chat["id"], "네, 가능합니다. 주문번호를 알려주세요.")
    await running.wait_for(lambda: naver.sends)
    assert naver.sends == [
        {"event": "send", "user": USER, "textContent": {"text": "네, 가능합니다. 주문번호를 알려주세요."}}
    ]

    async def reply_settled() -> list[dict[str, Any]]:
        msgs = await running.messages(chat["id"])
        return [
            m
            for m in msgs
            if m["direction"] == "outbound" and m["delivery_status"] not in ("pending", "sending")
        ]

    [outbound] = await running.wait_for(reply_settled)
    assert outbound["delivery_status"] == "sent"  # I19: never "read" on Naver

    # TalkTalk echoes the partner's own send back: it must not become a customer message.
    assert (
        await naver.post_webhook(naver.echo_event(USER, "네, 가능합니다. 주문번호를 알려주세요."))
    ).status == 200
    assert (await naver.post_webhook(naver.action_event(USER, "typingOn"))).status == 200
    messages = await running.messages(chat["id"])
    assert [m["direction"] for m in messages] == ["inbound", "outbound"]
    assert len(naver.sends) == 1  # and nothing was sent back out


async def test_redelivered_body_is_stored_once(running: RunningBridge, naver: TalkTalkSandbox) -> None:
    body = naver.encode(naver.text_event(USER, "주문번호 20240501-001"))
    assert (await naver.post_webhook(body)).status == 200
    assert (await naver.post_webhook(body)).status == 200
    chat = await only_chat(running)
    assert [m["text"] for m in await running.messages(chat["id"])] == ["주문번호 20240501-001"]


async def test_the_path_token_is_not_stored_with_the_delivery(
    running: RunningBridge, naver: TalkTalkSandbox
) -> None:
    """Issue 12 item 3: the token verifies the delivery in memory; the stored query has it redacted."""
    assert (await naver.post_webhook(naver.text_event(USER, "배송 언제 되나요?"))).status == 200
    await only_chat(running)
    r = s.raw_deliveries
    async with running.bridge.db.read() as conn:
        [(query, headers)] = (await conn.execute(select(r.c.query, r.c.headers))).all()
    assert query == {"token": "[redacted]"}
    assert TOKEN not in json.dumps(query) + json.dumps(headers)


async def test_customer_image_arrives_as_an_attachment(
    running: RunningBridge, naver: TalkTalkSandbox
) -> None:
    png = sample_png(2, 2)
    url = naver.host_image(png, "image/png", name="size.png")
    assert (await naver.post_webhook(naver.image_event(USER, url))).status == 200
    chat = await only_chat(running)
    [message] = await running.messages(chat["id"])
    assert message["attachments"] == [
        {
            "id": message["attachments"][0]["id"],
            "filename": "size.png",
            "content_type": "image/png",
            "size": len(png),
        }
    ]


@pytest.mark.parametrize("token", ["wrong", ""], ids=["wrong", "missing"])
async def test_wrong_or_missing_token_is_401_and_stores_nothing(
    running: RunningBridge, naver: TalkTalkSandbox, token: str
) -> None:
    answer = await naver.post_webhook(naver.text_event(USER, "spoofed"), token=token)
    assert answer.status == 401
    assert await running.chats() == []


async def test_image_url_signed_by_another_process_is_served_by_the_bridge(
    running: RunningBridge, naver: TalkTalkSandbox, tmp_path: Path
) -> None:
    """The upload's image URL works whichever bridgekit process Naver's download reaches.

    A separate plugin instance (standing in for another worker process) signs the URL; the
    running bridge's instance has never seen that message and still serves the file, found
    through the bridge's integrations. Naver downloads it and the image goes out by id.
    """
    png = sample_png(5, 5)
    path = tmp_path / "label.png"
    path.write_bytes(png)
    [integration] = running.bridge.integrations_for("naver")
    worker = NaverPlugin()
    try:
        acme = replace(integration, settings={**integration.settings, "public_url": running.url})
        attachment = OutboundAttachment("label.png", "image/png", len(png), path)
        message = OutboundMessage(1, 1, "k-1", Contact("naver", USER), USER, "", attachments=(attachment,))
        await worker.bridgekit_deliver(acme, message)
    finally:
        await worker.aclose()
    [upload] = naver.uploads
    assert upload.image_url.startswith(f"{running.url}/naver/media/")
    assert upload.data == png
    assert naver.sends == [{"event": "send", "user": USER, "imageContent": {"imageId": upload.image_id}}]
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"{running.url}/naver/media/forged.token") as resp,
    ):
        assert resp.status == 404


async def test_deeply_nested_json_webhook_is_a_400(running: RunningBridge, naver: TalkTalkSandbox) -> None:
    """Issue 12 item 10: 5,000 levels of nesting crashed the JSON parser (500, redelivered)."""
    answer = await naver.post_webhook(b"[" * 5000 + b"]" * 5000)
    assert answer.status == 400
    assert b"depth" in answer.body
    assert await running.chats() == []
