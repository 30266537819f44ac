"""End to end through a running bridgekit: the sandbox TalkTalk posts webhooks, a manager replies.

Customer's first message -> chat marked Naver (I9) -> manager reply through the outbox ->
received by the sandbox TalkTalk, shown as "sent" and never "read" (I19). TalkTalk's echo
of that reply adds nothing; a wrong token is a 401 that stores nothing. Behind a reverse proxy in
``[server] trusted_proxies``, ``allowed_ips`` checks the address the proxy forwarded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from bridgekit_naver.plugin import NaverPlugin
from bridgekit_naver.sandbox import TalkTalkSandbox, sample_png
from sqlalchemy import select

from bridgekit.config import Config
from bridgekit.storage import schema as s
from bridgekit.testing.harness import TEST_OUTBOX, RunningBridge

KEY = "ct_e2e_authorization_key"
TOKEN = "pt_e2e_7c9d2f0b5a1e4c38"
USER = "5KcCQTARWKNKv1IOvXwYQw"

# Behind a reverse proxy: TalkTalk's servers as the proxy forwards them, and someone else.
NAVER = "117.52.141.200"  # within the range the allow-list below names
ELSEWHERE = "203.0.113.9"


@pytest.fixture
async def naver() -> AsyncIterator[TalkTalkSandbox]:
    sandbox = TalkTalkSandbox(authorization_key=KEY, path_token=TOKEN)
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


@asynccontextmanager
async def served(
    make_bridge: Callable[..., Awaitable[RunningBridge]],
    naver: TalkTalkSandbox,
    allowed_ips: list[str],
    **options: Any,
) -> AsyncIterator[RunningBridge]:
    """bridgekit with the Naver integration ``acme``, TalkTalk's webhooks pointed at it."""
    plugin = NaverPlugin()
    bridge = await make_bridge(
        plugins={"naver": plugin},
        integrations={
            "acme": {
                "channel": "naver",
                "settings": {"api_base": naver.api_base, "allowed_ips": allowed_ips},
                "secrets": {"authorization_key": KEY, "path_token": TOKEN},
            }
        },
        **options,
    )
    naver.callback_url = f"{bridge.url}/hooks/acme"
    try:
        yield bridge
    finally:
        await plugin.aclose()


@pytest.fixture
async def running(
    make_bridge: Callable[..., Awaitable[RunningBridge]], naver: TalkTalkSandbox
) -> AsyncIterator[RunningBridge]:
    async with served(make_bridge, naver, ["127.0.0.0/8", "::1"]) as bridge:
        yield bridge


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


async def test_manager_image_is_downloaded_by_naver_from_the_core_media_url(
    running: RunningBridge, naver: TalkTalkSandbox
) -> None:
    """Naver's Image Upload API fetches the reply's image from bridgekit's own signed URL."""
    assert (await naver.post_webhook(naver.text_event(USER, "사진 보내주세요"))).status == 200
    chat = await only_chat(running)
    png = sample_png(5, 5)
    await running.reply(chat["id"], "", files=[("label.png", "image/png", png)])
    [upload] = await running.wait_for(lambda: naver.uploads)
    assert upload.image_url.startswith(f"{running.url}/media/")
    assert upload.data == png
    assert upload.content_type == "image/png"
    await running.wait_for(lambda: naver.sends)
    assert naver.sends == [{"event": "send", "user": USER, "imageContent": {"imageId": upload.image_id}}]


def old_naver_grant(path_token: str, path: Path, content_type: str) -> str:
    """A grant as the removed ``/naver/media/`` route accepted: signed with a key derived from
    the integration's path token, which anyone holding the webhook URL (or a copy of
    ``raw_deliveries.query``) knows."""
    key = hmac.new(path_token.encode(), b"bridgekit-naver-media-v1", hashlib.sha256).digest()
    payload = json.dumps(
        {"i": "acme", "p": str(path), "t": content_type, "e": int(time.time()) + 600}, separators=(",", ":")
    ).encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    b64 = [base64.urlsafe_b64encode(part).decode().rstrip("=") for part in (payload, mac)]
    return ".".join(b64)


async def test_grant_forged_from_the_path_token_reads_no_file(
    running: RunningBridge, naver: TalkTalkSandbox
) -> None:
    """Issue 12 item 1: the path token used to sign media grants for any readable path (the
    database, the customer-link key). No such route exists any more, whatever is asked for."""
    assert (await naver.post_webhook(naver.text_event(USER, "hello"))).status == 200
    chat = await only_chat(running)
    await running.api("GET", f"/chats/{chat['id']}/links")  # creates the customer-link key
    link_key = running.bridge.data_dir / "secrets" / "customer_link.key"
    assert link_key.exists()
    targets = [link_key, running.bridge.data_dir / "secrets" / "media_url.key"]
    database = running.bridge.config.database_url.removeprefix("sqlite+aiosqlite:///")
    if database != running.bridge.config.database_url:
        targets.append(Path(database))
    async with aiohttp.ClientSession() as client:
        for target in targets:
            token = old_naver_grant(TOKEN, target, "text/plain")
            async with client.get(f"{running.url}/naver/media/{token}") as resp:
                body = await resp.read()
                assert resp.status == 404
                assert target.read_bytes()[:16] not in body
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"{running.url}/naver/media/forged.token") as resp,
    ):
        assert resp.status == 404


async def test_friend_open_and_leave_go_to_the_timeline_and_open_no_chat(
    running: RunningBridge, naver: TalkTalkSandbox
) -> None:
    """Issue 12, item 17: not messages, on both databases."""
    assert (await naver.post_webhook(naver.friend_event(USER, on=True))).status == 200
    opened = naver.open_event(USER, inflow="button", referer="https://smartstore.naver.com/acme/1")
    assert (await naver.post_webhook(opened)).status == 200
    assert (await naver.post_webhook(opened)).status == 200  # redelivered: one timeline row
    assert await running.chats() == []  # looking at the chat window opens no chat

    assert (await naver.post_webhook(naver.text_event(USER, "재고 있나요?"))).status == 200
    assert (await naver.post_webhook(naver.leave_event(USER))).status == 200
    chat = await only_chat(running)
    assert [m["text"] for m in await running.messages(chat["id"])] == ["재고 있나요?"]
    panel = await running.api("GET", f"/customers/{chat['customer_id']}")
    events = list(reversed(panel["events"]))
    assert [e["name"] for e in events] == ["follow", "open", "leave"]
    assert events[1]["properties"]["options"]["referer"] == "https://smartstore.naver.com/acme/1"


async def test_fields_of_the_wrong_type_are_400_and_kept_raw(
    running: RunningBridge, naver: TalkTalkSandbox
) -> None:
    """Issue 12, item 10: ``"text": {}`` was stored as an empty message."""
    event = naver.text_event(USER, "x")
    event["textContent"]["text"] = {}
    result = await naver.post_webhook(event)
    assert result.status == 400
    assert b"wrong type" in result.body
    assert await running.chats() == []
    async with running.bridge.db.read() as conn:
        rows = (await conn.execute(select(s.raw_deliveries.c.status))).scalars().all()
    assert list(rows) == ["malformed"]


async def test_deeply_nested_json_webhook_is_a_400(running: RunningBridge, naver: TalkTalkSandbox) -> None:
    """Issue 12 item 10: 5,000 levels of nesting crashed the JSON parser (500, redelivered)."""
    answer = await naver.post_webhook(b"[" * 5000 + b"]" * 5000)
    assert answer.status == 400
    assert b"depth" in answer.body
    assert await running.chats() == []


async def test_a_long_reply_interrupted_by_a_503_resumes_without_resending(
    running: RunningBridge, naver: TalkTalkSandbox
) -> None:
    """The outbox's retry sends only the part that failed: the first part is recorded on the
    outbox row (not in the plugin's memory) the moment Naver accepted it."""
    assert (await naver.post_webhook(naver.text_event(USER, "주문 내역 전체를 보내주세요"))).status == 200
    chat = await only_chat(running)
    text = "가" * 10_000 + "나" * 10  # two TalkTalk messages
    naver.fail_next(status=503, after=1)
    await running.reply(chat["id"], text)

    async def settled() -> list[dict[str, Any]]:
        return [
            m
            for m in await running.messages(chat["id"])
            if m["direction"] == "outbound" and m["delivery_status"] == "sent"
        ]

    await running.wait_for(settled)
    assert [s["textContent"]["text"] for s in naver.sends] == ["가" * 10_000, "나" * 10]
    async with running.bridge.db.read() as conn:
        progress = (await conn.execute(select(s.outbox.c.progress))).scalar_one()
    assert progress == {"parts_sent": ["", ""]}  # TalkTalk gives no message ids


@pytest.fixture
async def behind_proxy(
    make_bridge: Callable[..., Awaitable[RunningBridge]], naver: TalkTalkSandbox
) -> AsyncIterator[RunningBridge]:
    """TalkTalk's own range in ``allowed_ips``; the test client (127.0.0.1) plays the proxy."""
    proxy = (ipaddress.ip_network("127.0.0.1/32"),)
    config = Config(outbox=TEST_OUTBOX, trusted_proxies=proxy)
    async with served(make_bridge, naver, ["117.52.141.192/27"], config=config) as bridge:
        yield bridge


async def post_via(naver: TalkTalkSandbox, text: str, forwarded_for: str, source: str = "127.0.0.1") -> int:
    body = naver.encode(naver.text_event(USER, text))
    headers = {"Content-Type": "application/json;charset=UTF-8", "X-Forwarded-For": forwarded_for}
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(naver.webhook_url(None, None), data=body, headers=headers) as resp,
    ):
        return resp.status


async def test_talktalk_through_a_trusted_proxy_passes_the_allow_list_and_others_do_not(
    behind_proxy: RunningBridge, naver: TalkTalkSandbox
) -> None:
    assert await post_via(naver, "via the proxy, from TalkTalk", NAVER) == 200
    # Someone else through the same proxy is refused, like a direct request from there.
    assert await post_via(naver, "via the proxy, from elsewhere", ELSEWHERE) == 401
    # A request that does not come from the proxy cannot claim to be TalkTalk.
    assert await post_via(naver, "forged", NAVER, source="127.0.0.2") == 401
    chats = await behind_proxy.wait_for(behind_proxy.chats)
    [chat] = chats
    texts = [m["text"] for m in await behind_proxy.messages(chat["id"])]
    assert texts == ["via the proxy, from TalkTalk"]
