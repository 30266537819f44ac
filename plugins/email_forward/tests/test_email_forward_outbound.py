"""bridgekit_deliver: replies by SMTP to a local relay sink (E5, E8, E10), DKIM, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path

import dkim
import pytest
import pytest_asyncio
from bridgekit_email_forward.compose import (
    ConversationEntry,
    compose_forwarded_conversation,
    own_chat_token,
    reply_subject,
)
from bridgekit_email_forward.domain import DomainVerifier, dkim_dns_record, verification_record
from bridgekit_email_forward.parse import parse_mail
from bridgekit_email_forward.plugin import EmailForwardPlugin
from bridgekit_email_forward.sandbox import DnsServer, SmtpSink

from bridgekit.exceptions import PermanentDeliveryError, TransientDeliveryError
from bridgekit.model import Contact, Integration, OutboundAttachment, OutboundMessage

KEY = (Path(__file__).parent / "keys" / "dkim_test_key.pem").read_text()
ADDRESS = "acme@in.bridgekit.test"


@pytest_asyncio.fixture
async def dns_server() -> AsyncIterator[DnsServer]:
    server = DnsServer()
    await server.start()
    yield server
    await server.stop()


def integration(sink: SmtpSink, **extra: object) -> Integration:
    settings: dict[str, object] = {
        "address": ADDRESS,
        "relay_host": "127.0.0.1",
        "relay_port": sink.port,
        "relay_tls": "none",
        "relay_timeout": 5,
        "default_from": "ACME 고객센터 <support@bridgekit.test>",
        **extra,
    }
    return Integration(
        id=3, name="acme", channel="email", settings=settings, secrets={"dkim_private_key": KEY}
    )


def outbound(**overrides: object) -> OutboundMessage:
    values: dict[str, object] = {
        "message_id": 11,
        "chat_id": 5,
        "idempotency_key": "0c9f2a64-1b7e-4c55-9d59-3c2b8f5a9e01",
        "recipient": Contact(kind="email", value="hong.gildong@example.co.kr", name="홍길동", verified=False),
        "thread_key": "<SL2P216MB1834@OUTLOOK.COM>",
        "text": "안녕하세요 홍길동 고객님,\n내일 발송됩니다.",
        "title": "[주문문의] 똠양꿍 밀키트 배송 문의",
        "author_name": "Minji Kim",
        "reply_context": {
            "message_id": "<CAKorea456reply@mail.gmail.com>",
            "references": ["<CAKorea123first@mail.gmail.com>", "<bk.abc.out-1@bridgekit.test>"],
            "subject": "[주문문의] 똠양꿍 밀키트 배송 문의",
        },
    }
    values.update(overrides)
    return OutboundMessage(**values)  # type: ignore[arg-type]


async def test_e5_reply_goes_to_the_one_customer_threaded(sink: SmtpSink) -> None:
    """E5: To is the customer only (no Cc/Bcc), Re: subject, In-Reply-To/References thread."""
    plugin = EmailForwardPlugin()
    result = await plugin.bridgekit_deliver(integration(sink), outbound())
    [mail] = sink.received
    msg = mail.message
    assert mail.rcpt_tos == ["hong.gildong@example.co.kr"]
    assert mail.mail_from == ADDRESS  # bounces come back to our own SMTP server
    assert msg["To"] == "hong.gildong@example.co.kr"
    assert msg["Cc"] is None
    assert msg["Bcc"] is None
    assert msg["Subject"] == "Re: [주문문의] 똠양꿍 밀키트 배송 문의"
    assert msg["In-Reply-To"] == "<CAKorea456reply@mail.gmail.com>"
    assert msg["References"].split() == [
        "<CAKorea123first@mail.gmail.com>",
        "<bk.abc.out-1@bridgekit.test>",
        "<CAKorea456reply@mail.gmail.com>",
    ]
    # E8 before verification: the channel's default sender; replies come back to bridgekit.
    assert parseaddr(msg["From"]) == ("ACME 고객센터", "support@bridgekit.test")
    assert msg["Reply-To"] == ADDRESS
    assert msg["Message-ID"] == result.provider_message_id == result.thread_key
    assert msg["Message-ID"].startswith("<bk.")
    assert msg["Message-ID"].endswith(".0c9f2a64-1b7e-4c55-9d59-3c2b8f5a9e01@bridgekit.test>")
    assert own_chat_token(msg["Message-ID"]) is not None
    assert msg.get_content().replace("\r\n", "\n").strip() == "안녕하세요 홍길동 고객님,\n내일 발송됩니다."
    # A customer's reply to it threads back: our id is what their In-Reply-To will carry.
    assert parse_mail(mail.data).message_id == result.thread_key


async def test_a_bots_reply_is_marked_auto_submitted_and_a_managers_is_not(sink: SmtpSink) -> None:
    """Loops: bridgekit's own automatic mails carry Auto-Submitted (RFC 3834)."""
    plugin = EmailForwardPlugin()
    await plugin.bridgekit_deliver(integration(sink), outbound(author_kind="bot"))
    await plugin.bridgekit_deliver(
        integration(sink), outbound(idempotency_key="second", author_kind="manager")
    )
    bot, manager = (m.message for m in sink.received)
    assert bot["Auto-Submitted"] == "auto-replied"
    assert manager["Auto-Submitted"] is None


async def test_retry_reuses_the_same_message_id(sink: SmtpSink) -> None:
    plugin = EmailForwardPlugin()
    first = await plugin.bridgekit_deliver(integration(sink), outbound())
    second = await plugin.bridgekit_deliver(integration(sink), outbound(attempt=2))
    assert first.provider_message_id == second.provider_message_id


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("배송 문의", "Re: 배송 문의"),
        ("Re: 배송 문의", "Re: 배송 문의"),
        ("RE: 배송 문의", "RE: 배송 문의"),
        ("회신: 배송 문의", "회신: 배송 문의"),
        ("Re[2]: 見積り", "Re[2]: 見積り"),
        ("返信: 見積り", "返信: 見積り"),
        ("Fwd: 배송", "Re: Fwd: 배송"),
        ("", "Re:"),
    ],
)
def test_reply_subject_has_no_double_re(title: str, expected: str) -> None:
    assert reply_subject(title) == expected


async def test_e10_first_mail_uses_the_subject_as_given(sink: SmtpSink) -> None:
    """E10: a manager's first email (no customer mail yet) carries the manager's subject."""
    plugin = EmailForwardPlugin()
    await plugin.bridgekit_deliver(integration(sink), outbound(title="주문하신 상품 안내", reply_context={}))
    msg = sink.received[0].message
    assert msg["Subject"] == "주문하신 상품 안내"
    assert msg["In-Reply-To"] is None
    assert msg["References"] is None


async def test_attachments_are_sent_from_their_paths(sink: SmtpSink, tmp_path: Path) -> None:
    pdf = tmp_path / "f.pdf"
    pdf.write_bytes(b"%PDF-1.4 test")
    att = OutboundAttachment(filename="견적서.pdf", content_type="application/pdf", size=13, path=pdf)
    await EmailForwardPlugin().bridgekit_deliver(integration(sink), outbound(attachments=(att,)))
    msg = sink.received[0].message
    [part] = list(msg.iter_attachments())
    assert part.get_filename() == "견적서.pdf"
    assert part.get_content() == b"%PDF-1.4 test"


async def test_e8_verified_domain_sends_as_manager_with_valid_dkim(
    sink: SmtpSink, dns_server: DnsServer
) -> None:
    """E8: after DNS verification, From is manager-name@verified-domain, DKIM-signed."""
    name, value = verification_record("brand.co.kr", "tok-123")
    dns_server.set(name, [value])
    dkim_name, dkim_value = dkim_dns_record("bk1", "brand.co.kr", KEY)
    dns_server.set(dkim_name, [dkim_value])
    settings = {
        "domain": "brand.co.kr",
        "domain_verification_token": "tok-123",
        "dns_resolver": dns_server.address,
        "dkim_selector": "bk1",
    }
    plugin = EmailForwardPlugin()
    result = await plugin.bridgekit_deliver(integration(sink, **settings), outbound())
    mail = sink.received[0]
    msg = mail.message
    assert parseaddr(msg["From"]) == ("Minji Kim", "minji.kim@brand.co.kr")
    assert msg["Reply-To"] is None
    assert result.provider_message_id is not None
    assert result.provider_message_id.endswith("@brand.co.kr>")
    assert msg["DKIM-Signature"] is not None
    assert "d=brand.co.kr" in msg["DKIM-Signature"]
    assert dkim.verify(mail.data, dnsfunc=dns_server.lookup)
    tampered = mail.data.replace(b"To: hong.gildong@example.co.kr", b"To: someone.else@example.co.kr")
    assert tampered != mail.data
    assert not dkim.verify(tampered, dnsfunc=dns_server.lookup)


async def test_e8_unverified_when_the_txt_record_is_missing_or_wrong(
    sink: SmtpSink, dns_server: DnsServer
) -> None:
    dns_server.set("_bridgekit.brand.co.kr", ["bridgekit-verification=someone-else"])
    settings = {
        "domain": "brand.co.kr",
        "domain_verification_token": "tok-123",
        "dns_resolver": dns_server.address,
    }
    await EmailForwardPlugin().bridgekit_deliver(integration(sink, **settings), outbound())
    msg = sink.received[0].message
    assert parseaddr(msg["From"])[1] == "support@bridgekit.test"
    assert msg["DKIM-Signature"] is None


async def test_a_record_published_after_a_failed_check_is_used_after_the_negative_ttl(
    dns_server: DnsServer,
) -> None:
    """A send does not ask DNS each time: a missing record is remembered for five minutes,
    then a freshly published one is picked up; a verified answer is kept for an hour."""
    now = [0.0]
    verifier = DomainVerifier(ttl=3600, negative_ttl=300, clock=lambda: now[0])
    name, value = verification_record("brand.co.kr", "tok-9")
    assert await verifier.is_verified("brand.co.kr", "tok-9", dns_server.address) is False
    dns_server.set(name, [value])
    now[0] = 299.0
    assert await verifier.is_verified("brand.co.kr", "tok-9", dns_server.address) is False  # remembered
    now[0] = 301.0
    assert await verifier.is_verified("brand.co.kr", "tok-9", dns_server.address) is True
    dns_server.set(name, [])
    now[0] = 301.0 + 3599
    assert await verifier.is_verified("brand.co.kr", "tok-9", dns_server.address) is True  # kept an hour
    now[0] = 301.0 + 3601
    assert await verifier.is_verified("brand.co.kr", "tok-9", dns_server.address) is False


async def test_manager_address_mapping_for_hangul_names(sink: SmtpSink, dns_server: DnsServer) -> None:
    name, value = verification_record("brand.co.kr", "t")
    dns_server.set(name, [value])
    settings = {
        "domain": "brand.co.kr",
        "domain_verification_token": "t",
        "dns_resolver": dns_server.address,
        "manager_addresses": {"김민지": "minji"},
    }
    await EmailForwardPlugin().bridgekit_deliver(
        integration(sink, **settings), outbound(author_name="김민지")
    )
    assert parseaddr(sink.received[0].message["From"]) == ("김민지", "minji@brand.co.kr")


async def test_relay_4xx_is_transient(sink: SmtpSink) -> None:
    sink.fail_with("451 4.3.0 Try again later")
    with pytest.raises(TransientDeliveryError, match="451"):
        await EmailForwardPlugin().bridgekit_deliver(integration(sink), outbound())


async def test_relay_5xx_is_permanent_with_the_servers_text(sink: SmtpSink) -> None:
    sink.fail_with("550 5.1.1 <hong.gildong@example.co.kr>: User unknown", at="RCPT")
    with pytest.raises(PermanentDeliveryError, match="User unknown"):
        await EmailForwardPlugin().bridgekit_deliver(integration(sink), outbound())


async def test_unreachable_relay_is_transient(sink: SmtpSink) -> None:
    await sink.stop()
    with pytest.raises(TransientDeliveryError):
        await EmailForwardPlugin().bridgekit_deliver(integration(sink), outbound())


async def test_non_email_recipient_is_permanent(sink: SmtpSink) -> None:
    with pytest.raises(PermanentDeliveryError):
        await EmailForwardPlugin().bridgekit_deliver(
            integration(sink), outbound(recipient=Contact(kind="phone", value="+821012345678"))
        )


def test_e9_forwarded_conversation_keeps_originals_and_hides_notes() -> None:
    """E9: a readable transcript; customer originals attached whole; internal notes left out."""
    raw = (Path(__file__).parent / "mails" / "six_attachments.eml").read_bytes()
    t0 = datetime(2024, 3, 7, 9, 0, tzinfo=UTC)
    msg = compose_forwarded_conversation(
        [
            ConversationEntry("Lee", "inbound", t0, "사진 6장 보냅니다.", raw=raw),
            ConversationEntry("Minji Kim", "note", t0.replace(minute=1), "VIP 고객"),
            ConversationEntry("Minji Kim", "outbound", t0.replace(minute=2), "확인했습니다."),
        ],
        from_="support@bridgekit.test",
        to="partner@example.com",
        title="photos",
        message_id="<bk.x.fwd-1@bridgekit.test>",
        date=t0,
        note="검토 부탁드립니다.",
    )
    assert msg["To"] == "partner@example.com"
    assert msg["Subject"] == "Fwd: photos"
    body = msg.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert text.index("검토 부탁드립니다.") < text.index("사진 6장") < text.index("확인했습니다.")
    assert "VIP" not in text
    [original] = [p for p in msg.iter_attachments() if p.get_content_type() == "message/rfc822"]
    inner = original.get_content()
    assert len(list(inner.iter_attachments())) == 6  # the two the chat did not load travel too
