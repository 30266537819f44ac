"""End to end through a running bridgekit: Meta's handshake and signed webhooks in, the
manager's reply out through the outbox, Meta's read receipt back (I5, I9, I13, I19, P1-P3)."""

from __future__ import annotations

from typing import Any

from bridgekit_instagram.plugin import InstagramPlugin
from bridgekit_instagram.sandbox import MetaSandbox
from ig_helpers import secrets_for, settings_for

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32


async def test_customer_dm_reaches_inbox_and_manager_reply_reaches_instagram(
    make_bridge: Any, meta: MetaSandbox
) -> None:
    running = await make_bridge(
        plugins={"instagram": InstagramPlugin()},
        integrations={
            "acme": {"channel": "instagram", "settings": settings_for(meta), "secrets": secrets_for(meta)}
        },
    )
    hook = f"{running.url}/hooks/acme"

    # Meta subscribes the callback URL only if the challenge comes back verbatim
    check = await meta.verify_callback(hook)
    assert (check.status, check.body) == (200, meta.last_challenge)
    assert (await meta.verify_callback(hook, verify_token="guess")).status == 401

    # a forged delivery is refused and leaves nothing behind
    forged = meta.encode(meta.envelope(meta.text_event("U1", "forged")))
    assert (await meta.post_webhook(hook, forged, signature="sha256=" + "0" * 64)).status == 401
    assert (await meta.post_webhook(hook, forged, signed=False)).status == 401
    assert await running.chats() == []

    # the customer's first message, signed by "Meta", opens an Instagram chat
    meta.add_profile("U1", name="김민지", username="minji.k")
    picture = meta.add_media(PNG, "image/png", name="photo.png")
    first = await meta.deliver(
        hook,
        meta.text_event("U1", "안녕하세요, 배송 문의드려요", mid="mid-first"),
        meta.attachment_event("U1", [("image", picture)], mid="mid-photo"),
    )
    assert first.status == 200
    chats = await running.wait_for(running.chats)
    (chat,) = chats
    assert chat["channel"] == "instagram"
    assert chat["mark"] == "instagram"
    messages = await running.messages(chat["id"])
    assert [m["text"] for m in messages] == ["안녕하세요, 배송 문의드려요", ""]
    assert messages[1]["attachments"][0]["content_type"] == "image/png"

    # Meta redelivers and echoes our own sends: neither adds anything
    again = meta.encode(meta.envelope(meta.text_event("U1", "안녕하세요, 배송 문의드려요", mid="mid-first")))
    assert (await meta.post_webhook(hook, again)).status == 200
    assert (await meta.deliver(hook, meta.echo_event("U1", "from the phone app"))).status == 200
    assert len(await running.messages(chat["id"])) == 2

    # the manager answers from the inbox; the outbox delivers through the Send API
    await running.reply(chat["id"], "내일 출고됩니다. 감사합니다!")
    await running.wait_for(lambda: meta.sent)
    (sent,) = meta.sent
    assert sent.recipient_id == "U1"
    assert sent.text == "내일 출고됩니다. 감사합니다!"
    assert sent.messaging_type == "RESPONSE"

    async def reply_row() -> dict[str, Any] | None:
        rows = await running.messages(chat["id"])
        out = [m for m in rows if m["direction"] == "outbound"]
        return out[0] if out and out[0]["provider_message_id"] else None

    row = await running.wait_for(reply_row)
    assert row["provider_message_id"] == sent.message_id

    # the customer reads it: Meta's messaging_seen marks the reply read (I19)
    assert (await meta.deliver(hook, meta.read_event("U1", sent.message_id))).status == 200

    async def read_status() -> bool:
        rows = await running.messages(chat["id"])
        return any(m["delivery_status"] == "read" for m in rows if m["direction"] == "outbound")

    assert await running.wait_for(read_status)


async def test_manager_image_reply_is_fetched_by_meta_from_the_core_media_url(
    make_bridge: Any, meta: MetaSandbox
) -> None:
    """Meta downloads a reply's attachment from bridgekit's signed ``/media/...`` URL; the old
    plugin route that served uploads inline is gone."""
    running = await make_bridge(
        plugins={"instagram": InstagramPlugin()},
        integrations={
            "acme": {"channel": "instagram", "settings": settings_for(meta), "secrets": secrets_for(meta)}
        },
    )
    hook = f"{running.url}/hooks/acme"
    assert (await meta.deliver(hook, meta.text_event("U1", "사진 부탁드려요", mid="mid-1"))).status == 200
    (chat,) = await running.wait_for(running.chats)
    await running.reply(chat["id"], "", files=[("receipt.png", "image/png", PNG)])
    (sent,) = await running.wait_for(lambda: meta.sent)
    assert sent.attachment_type == "image"
    assert sent.attachment_url.startswith(f"{running.url}/media/")
    assert sent.attachment_content == PNG  # Meta could download it
    async with running.session.get(f"{running.url}/plugins/instagram/media/x/receipt.png") as resp:
        assert resp.status == 404


async def test_deeply_nested_json_webhook_is_a_400(make_bridge: Any, meta: MetaSandbox) -> None:
    """Issue 12 item 10: 5,000 levels of nesting crashed the JSON parser (500, redelivered)."""
    running = await make_bridge(
        plugins={"instagram": InstagramPlugin()},
        integrations={
            "acme": {"channel": "instagram", "settings": settings_for(meta), "secrets": secrets_for(meta)}
        },
    )
    answer = await meta.post_webhook(f"{running.url}/hooks/acme", b"[" * 5000 + b"]" * 5000)
    assert answer.status == 400
    assert "depth" in answer.body
    assert await running.chats() == []
