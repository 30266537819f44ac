"""The SMTP listener on a real socket, in front of a real running bridgekit (E1, E3, E5, E11).

Customer mail is forwarded with aiosmtplib to the plugin's aiosmtpd server on 127.0.0.1;
manager replies leave through the outbox to a local relay sink.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from bridgekit_email_forward.plugin import EmailForwardPlugin
from bridgekit_email_forward.sandbox import SmtpSink, forward_mail

from bridgekit.testing.harness import RunningBridge

MAILS = Path(__file__).parent / "mails"
ACME = "acme@in.bridgekit.test"
BETA = "beta@in.bridgekit.test"
FORWARDER = "owner+caf_=acme=in.bridgekit.test@gmail.com"

MakeBridge = Callable[..., Awaitable[RunningBridge]]


def email_integration(address: str, sink: SmtpSink, **extra: Any) -> dict[str, Any]:
    return {
        "channel": "email",
        "settings": {
            "address": address,
            "smtp_host": "127.0.0.1",
            "smtp_port": 0,
            "relay_host": "127.0.0.1",
            "relay_port": sink.port,
            "relay_tls": "none",
            "default_from": "ACME Support <support@bridgekit.test>",
            **extra,
        },
    }


async def start(
    make_bridge: MakeBridge, sink: SmtpSink, plugin: EmailForwardPlugin | None = None, **extra: Any
) -> tuple[RunningBridge, EmailForwardPlugin, int]:
    plugin = plugin or EmailForwardPlugin()
    running = await make_bridge(
        plugins={"email_forward": plugin},
        integrations={
            "acme": email_integration(ACME, sink, **extra),
            "beta": email_integration(BETA, sink, **extra),
        },
    )
    return running, plugin, plugin.smtp.port_for(ACME)


def load(name: str) -> bytes:
    return (MAILS / name).read_bytes()


async def send(port: int, raw: bytes, rcpt: str | list[str] = ACME, mail_from: str = FORWARDER) -> str:
    return await forward_mail(raw, host="127.0.0.1", port=port, mail_from=mail_from, rcpt_to=rcpt)


async def test_e1_e3_e5_forwarded_mail_opens_a_chat_and_the_reply_threads_back(
    make_bridge: MakeBridge, sink: SmtpSink
) -> None:
    """The whole loop: forwarded mail -> chat titled by the subject -> manager reply by SMTP
    -> the customer's answer to that reply lands in the same chat."""
    running, plugin, port = await start(make_bridge, sink)
    assert plugin.smtp.port_for(BETA) == port  # both integrations share one listener

    reply = await send(port, load("ko_outlook_ks_c_5601.eml"))
    assert reply.startswith("2.0.0")
    chats = await running.chats()
    assert len(chats) == 1
    chat = chats[0]
    assert chat["title"] == "[주문문의] 똠양꿍 밀키트 배송 문의"
    assert chat["integration"] == "acme"
    assert chat["channel"] == "email"
    [first] = await running.messages(chat["id"])
    assert first["direction"] == "inbound"
    assert first["author_name"] == "홍길동"
    assert first["text"].startswith("안녕하세요.\n똠양꿍")
    assert [a["filename"] for a in first["attachments"]] == ["견적서_똠양꿍.pdf"]

    await running.reply(chat["id"], "내일 발송됩니다.")
    [sent] = await sink.wait_for(1)
    msg = sent.message
    assert sent.rcpt_tos == ["hong.gildong@example.co.kr"]
    assert msg["To"] == "hong.gildong@example.co.kr"
    assert msg["Cc"] is None
    assert msg["Subject"] == "Re: [주문문의] 똠양꿍 밀키트 배송 문의"
    assert msg["In-Reply-To"] == "<SL2P216MB1834A1B2C3D4E5F6@SL2P216MB1834.KORP216.PROD.OUTLOOK.COM>"
    assert msg["References"] == msg["In-Reply-To"]
    our_id = msg["Message-ID"]

    async def delivered() -> bool:
        rows = await running.messages(chat["id"])
        return any(r["delivery_status"] == "sent" and r["provider_message_id"] == our_id for r in rows)

    await running.wait_for(delivered)

    # The customer answers from a client that keeps only In-Reply-To.
    answer = (
        b"From: =?UTF-8?B?7ZmN6ri464+Z?= <hong.gildong@example.co.kr>\r\n"
        b"To: support@brand.co.kr\r\nSubject: RE: [=?UTF-8?B?7KO866y466y47J2Y?=]\r\n"
        b"Message-ID: <answer.1@example.co.kr>\r\nIn-Reply-To: " + our_id.encode() + b"\r\n"
        b"Date: Thu, 7 Mar 2024 10:00:00 +0900\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
        + "감사합니다!".encode()
        + b"\r\n"
    )
    await send(port, answer)
    assert len(await running.chats()) == 1
    texts = [m["text"] for m in await running.messages(chat["id"])]
    assert texts == [first["text"], "내일 발송됩니다.", "감사합니다!"]


async def test_redelivery_is_acknowledged_and_stored_once(make_bridge: MakeBridge, sink: SmtpSink) -> None:
    running, _, port = await start(make_bridge, sink)
    raw = load("ja_iso2022jp_windows.eml")
    await send(port, raw)
    await send(port, raw)
    [chat] = await running.chats()
    assert chat["title"] == "【至急】注文①の返品について㈱ヤマダ"
    assert len(await running.messages(chat["id"])) == 1


async def test_routing_by_rcpt_to_with_a_shared_listener(make_bridge: MakeBridge, sink: SmtpSink) -> None:
    """Two integrations, one port: the envelope recipient decides, not the To: header."""
    running, _, port = await start(make_bridge, sink)
    await send(port, load("ko_gmail_utf8.eml"), rcpt=BETA.upper())
    [chat] = await running.chats()
    assert chat["integration"] == "beta"


async def test_unknown_recipient_is_refused_with_550_5_1_1(make_bridge: MakeBridge, sink: SmtpSink) -> None:
    running, _, port = await start(make_bridge, sink)
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as info:
        await send(port, load("ko_gmail_utf8.eml"), rcpt="nobody@in.bridgekit.test")
    [refusal] = info.value.recipients
    assert refusal.code == 550
    assert refusal.message.startswith("5.1.1")
    assert await running.chats() == []


async def test_lines_longer_than_1000_bytes_are_accepted(make_bridge: MakeBridge, sink: SmtpSink) -> None:
    running, _, port = await start(make_bridge, sink)
    long_line = "가" * 3000
    raw = (
        b"From: Long <long@example.com>\r\nTo: support@brand.co.kr\r\nSubject: long\r\n"
        b"Message-ID: <long.1@example.com>\r\nContent-Type: text/html; charset=UTF-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n<p>" + long_line.encode() + b"</p>\r\n"
    )
    assert len(raw.split(b"\r\n")[-2]) > 1000
    await send(port, raw)
    [chat] = await running.chats()
    [message] = await running.messages(chat["id"])
    assert message["text"] == long_line


async def test_oversized_mail_gets_a_clear_552(make_bridge: MakeBridge, sink: SmtpSink) -> None:
    running, _, port = await start(make_bridge, sink, max_message_bytes=50_000)
    raw = load("ko_gmail_utf8.eml") + b"x" * 60_000 + b"\r\n"
    with pytest.raises(aiosmtplib.SMTPResponseException) as info:
        await send(port, raw)
    assert info.value.code == 552
    assert "50000" in info.value.message
    assert await running.chats() == []


class _BrokenIngest(EmailForwardPlugin):
    """An ingest failure of ours (a bug, a full disk...) must not bounce the customer's mail."""

    async def bridgekit_ingest(self, integration: Any, delivery: Any) -> Any:
        raise RuntimeError("disk full")


async def test_our_own_failure_answers_451_so_the_forwarder_retries(
    make_bridge: MakeBridge, sink: SmtpSink
) -> None:
    running, _, port = await start(make_bridge, sink, plugin=_BrokenIngest())
    with pytest.raises(aiosmtplib.SMTPDataError) as info:
        await send(port, load("ko_gmail_utf8.eml"))
    assert info.value.code == 451
    assert await running.chats() == []


async def test_unparseable_mail_is_kept_and_acknowledged(make_bridge: MakeBridge, sink: SmtpSink) -> None:
    """Malformed input is durable (kept raw by the core) and answered 250: retrying won't help."""
    running, _, port = await start(make_bridge, sink)
    reply = await send(port, b"\x00\x01 not a mail at all\r\n")
    assert reply.startswith("2.0.0")
    assert await running.chats() == []


async def test_e11_chat_gets_four_attachments(make_bridge: MakeBridge, sink: SmtpSink) -> None:
    running, _, port = await start(make_bridge, sink)
    await send(port, load("six_attachments.eml"))
    [chat] = await running.chats()
    [message] = await running.messages(chat["id"])
    assert [a["filename"] for a in message["attachments"]] == [f"photo{i}.png" for i in range(1, 5)]


async def test_bounce_of_our_reply_marks_it_failed(make_bridge: MakeBridge, sink: SmtpSink) -> None:
    """A DSN for a sent reply shows on that reply as failed with the relay's diagnostic."""
    running, _, port = await start(make_bridge, sink)
    await send(port, load("ko_outlook_ks_c_5601.eml"))
    [chat] = await running.chats()
    await running.reply(chat["id"], "답변입니다")
    [sent] = await sink.wait_for(1)
    our_id = sent.message["Message-ID"]

    async def is_sent() -> bool:
        return any(r["delivery_status"] == "sent" for r in await running.messages(chat["id"]))

    await running.wait_for(is_sent)
    dsn = load("dsn_bounce.eml").replace(b"<bk.c1a2b3c4d5e6.out-42@mail.brand.co.kr>", our_id.encode())
    await send(port, dsn, mail_from="")
    rows = await running.messages(chat["id"])
    mine = [r for r in rows if r["provider_message_id"] == our_id]
    assert mine[0]["delivery_status"] == "failed"
    assert "User unknown" in mine[0]["delivery_error"]
    assert len(await running.chats()) == 1
