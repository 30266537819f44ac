"""The email plugin through the manager API of a running bridgekit: the original view (E4),
a reply after close (E6), forwarding a conversation (E9) and writing first (E10)."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from bridgekit_email_forward.plugin import EmailForwardPlugin
from bridgekit_email_forward.sandbox import SmtpSink
from sqlalchemy import update
from test_email_forward_smtp import ACME, MakeBridge, email_integration, load, send, start

import bridgekit
from bridgekit.model import ChannelSpec, Contact, InboundMessage, IngestResult, Integration, RawDelivery
from bridgekit.storage import schema as s


async def test_e4_original_view_is_sanitised_and_sandboxed_and_the_source_is_exact(
    make_bridge: MakeBridge, relay: SmtpSink
) -> None:
    running, _plugin, port = await start(make_bridge, relay)
    raw = load("ko_outlook_ks_c_5601.eml")
    await send(port, raw)
    (chat,) = await running.chats()
    (message,) = await running.messages(chat["id"])
    url = f"{running.url}/api/v1/email/messages/{message['id']}/original"
    async with running.session.get(url) as resp:
        assert resp.status == 200
        page = await resp.text()
        csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp or "script-src 'none'" in csp
    assert "<script" not in page.lower()
    assert "똠양꿍" in page
    async with running.session.get(url, params={"format": "source"}) as resp:
        assert "Subject:" in await resp.text()
    async with running.session.get(f"{running.url}/api/v1/messages/{message['id']}/raw") as resp:
        assert await resp.read() == raw


async def test_the_source_and_raw_views_are_never_sniffed_or_rendered(
    make_bridge: MakeBridge, relay: SmtpSink
) -> None:
    """Issue 12 item 2: a mail whose source is an HTML page must not run as one on our origin."""
    running, _plugin, port = await start(make_bridge, relay)
    raw = (
        b"From: mallory@example.com\r\nTo: support@example.com\r\nSubject: hi\r\n"
        b"Message-ID: <sniff@example.com>\r\nContent-Type: text/html\r\n\r\n"
        b"<html><script>alert(document.cookie)</script></html>\r\n"
    )
    await send(port, raw)
    (chat,) = await running.chats()
    (message,) = await running.messages(chat["id"])
    source = f"{running.url}/api/v1/email/messages/{message['id']}/original?format=source"
    async with running.session.get(source) as resp:
        assert resp.status == 200
        assert "<script>alert(document.cookie)</script>" in await resp.text()
        assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert resp.headers["Content-Disposition"].startswith("inline;")
    async with running.session.get(f"{running.url}/api/v1/messages/{message['id']}/raw") as resp:
        assert await resp.read() == raw
        assert resp.headers["Content-Type"] == "application/octet-stream"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Content-Disposition"].startswith("attachment;")


async def test_e6_a_reply_to_a_closed_chat_opens_a_new_chat(make_bridge: MakeBridge, relay: SmtpSink) -> None:
    running, _plugin, port = await start(make_bridge, relay)
    await send(port, load("ko_outlook_ks_c_5601.eml"))
    (chat,) = await running.chats()
    await running.reply(chat["id"], "처리되었습니다.")
    [sent] = await relay.wait_for(1)
    our_id = sent.message["Message-ID"]
    await running.wait_for(
        lambda: _sent(running, chat["id"]),
    )
    async with running.bridge.db.write() as conn:
        await conn.execute(update(s.chats).where(s.chats.c.id == chat["id"]).values(state="closed"))

    answer = (
        b"From: <hong.gildong@example.co.kr>\r\nTo: support@brand.co.kr\r\nSubject: RE: again\r\n"
        b"Message-ID: <after.close@example.co.kr>\r\nIn-Reply-To: " + our_id.encode() + b"\r\n"
        b"Content-Type: text/plain; charset=UTF-8\r\n\r\none more question\r\n"
    )
    await send(port, answer)
    chats = {c["id"]: c for c in await running.chats()}
    assert len(chats) == 2
    assert chats[chat["id"]]["state"] == "closed"
    (new_chat,) = [c for c in chats.values() if c["id"] != chat["id"]]
    assert new_chat["state"] == "open"
    assert new_chat["customer_id"] == chat["customer_id"]
    assert [m["text"] for m in await running.messages(new_chat["id"])] == ["one more question"]


async def _sent(running, chat_id: int) -> bool:  # type: ignore[no-untyped-def]
    return any(m["delivery_status"] == "sent" for m in await running.messages(chat_id))


async def test_e9_a_conversation_is_forwarded_with_the_original_mail(
    make_bridge: MakeBridge, relay: SmtpSink
) -> None:
    running, _plugin, port = await start(make_bridge, relay)
    await send(port, load("ko_outlook_ks_c_5601.eml"))
    (chat,) = await running.chats()
    await running.note(chat["id"], "internal: VIP")
    url = f"{running.url}/api/v1/email/chats/{chat['id']}/forward"
    async with running.session.post(url, json={"to": "legal@partner.example", "note": "FYI"}) as resp:
        assert resp.status == 200
    [forwarded] = await relay.wait_for(1)
    assert forwarded.rcpt_tos == ["legal@partner.example"]
    mail = message_from_bytes(forwarded.data, policy=default_policy)
    assert mail["Subject"] == "Fwd: [주문문의] 똠양꿍 밀키트 배송 문의"
    body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "FYI" in body
    assert "internal: VIP" not in body  # notes stay internal
    assert any(part.get_content_type() == "message/rfc822" for part in mail.iter_attachments())
    notes = [m["text"] for m in await running.messages(chat["id"]) if m["direction"] == "note"]
    assert "Conversation forwarded to legal@partner.example" in notes

    async with running.session.post(url, json={"to": "not an address"}) as resp:
        assert resp.status == 400


async def test_e10_a_manager_writes_first_and_the_customers_answer_threads(
    make_bridge: MakeBridge, relay: SmtpSink
) -> None:
    running, _plugin, port = await start(make_bridge, relay)
    async with running.session.post(
        f"{running.url}/api/v1/chats",
        json={
            "integration": "acme",
            "title": "주문하신 상품 안내",
            "text": "내일 도착 예정입니다.",
            "contact": {"kind": "email", "value": "kim@example.co.kr", "name": "김민지"},
        },
    ) as resp:
        assert resp.status == 201
        created = await resp.json()
    [sent] = await relay.wait_for(1)
    assert sent.rcpt_tos == ["kim@example.co.kr"]
    assert sent.message["Subject"] == "주문하신 상품 안내"  # as given: a first mail, not a reply
    assert sent.message["In-Reply-To"] is None
    our_id = sent.message["Message-ID"]

    async def recorded() -> bool:
        # The send's Message-ID threads answers once the outbox has recorded it; a customer
        # answering within the same millisecond is the test's speed, not a person's.
        rows = await running.messages(created["chat_id"])
        return any(r["delivery_status"] == "sent" and r["provider_message_id"] == our_id for r in rows)

    await running.wait_for(recorded)

    answer = (
        b"From: <kim@example.co.kr>\r\nTo: support@brand.co.kr\r\n"
        b"Subject: =?UTF-8?B?UmU6IOyjvOusuO2VmOyLoCDsg4Htkogg7JWI64K0?=\r\n"
        b"Message-ID: <kim.answer@example.co.kr>\r\nIn-Reply-To: "
        + sent.message["Message-ID"].encode()
        + b"\r\n"
        b"Content-Type: text/plain; charset=UTF-8\r\n\r\n" + "감사합니다".encode() + b"\r\n"
    )
    await send(port, answer)
    (chat,) = await running.chats()
    assert chat["id"] == created["chat_id"]
    assert [m["text"] for m in await running.messages(chat["id"])] == ["내일 도착 예정입니다.", "감사합니다"]


class OtherChannel:
    """Any other messenger: its webhook bodies are JSON, not mail."""

    @bridgekit.hookimpl
    def bridgekit_channels(self) -> list[ChannelSpec]:
        return [ChannelSpec(name="other", title="Other")]

    @bridgekit.hookimpl
    def bridgekit_ingest(self, integration: Integration, delivery: RawDelivery) -> IngestResult:
        sender = Contact("other", "u-1")
        return IngestResult(messages=[InboundMessage("ev-1", sender, "u-1", delivery.body.decode())])


@pytest.mark.parametrize("which", ["other channel", "no such message", "huge id"])
async def test_the_original_view_of_a_message_that_is_no_email_is_a_404(
    make_bridge: MakeBridge, relay: SmtpSink, which: str
) -> None:
    """Issue 12 item 10: asked for a message of another channel it answered 500."""
    running = await make_bridge(
        plugins={"email_forward": EmailForwardPlugin(), "other": OtherChannel()},
        integrations={"acme": email_integration(ACME, relay), "chat": {"channel": "other"}},
    )
    status, _ = await running.post_hook("chat", b'{"text": "hello"}')
    assert status == 200
    (chat,) = await running.chats()
    (message,) = await running.messages(chat["id"])
    message_id = {"other channel": message["id"], "no such message": 4711, "huge id": 2**40}[which]
    url = f"{running.url}/api/v1/email/messages/{message_id}/original"
    async with running.session.get(url) as resp:
        assert resp.status == 404
        assert (await resp.json())["error"] == "no original mail for this message"
