"""bridgekit_ingest for SMTP deliveries: routing, chat fields, automation, E2, E11, DSNs."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from bridgekit_email_forward import ingest as ingest_module
from bridgekit_email_forward.automated import mark_automatic
from bridgekit_email_forward.ingest import ingest
from bridgekit_email_forward.plugin import EmailForwardPlugin

from bridgekit.exceptions import MalformedDelivery, SignatureError
from bridgekit.model import DeliveryStatus, InboxSlot, IngestResult, Integration, RawDelivery

MAILS = Path(__file__).parent / "mails"
ADDRESS = "acme@in.bridgekit.test"
INTEGRATION = Integration(id=7, name="acme", channel="email", settings={"address": ADDRESS})


def delivery(raw: bytes, *, mail_from: str = "owner+caf_=acme=in.bridgekit.test@gmail.com") -> RawDelivery:
    return RawDelivery(
        integration="acme",
        method="SMTP",
        path=ADDRESS,
        headers={"mail-from": mail_from, "rcpt-to": ADDRESS, "x-peer": "127.0.0.1"},
        query={},
        body=raw,
    )


def load(name: str) -> bytes:
    return (MAILS / name).read_bytes()


def test_channel_declaration_e6_slot_and_limits() -> None:
    """E6: closed email chats open a new chat and managers cannot reopen them; P3 slot."""
    [spec] = EmailForwardPlugin().bridgekit_channels()
    assert (spec.name, spec.title, spec.inbox_slot) == ("email", "Email", InboxSlot.EMAIL)
    assert spec.closed_chat_policy == "new_chat"
    assert spec.capabilities.manager_can_reopen is False
    assert spec.capabilities.reports_reads is False
    assert spec.capabilities.max_attachments >= 4


def test_e3_e7_customer_mail_becomes_a_chat_message() -> None:
    """E3: subject -> chat title; E7: sender stored as an unverified, shared email contact."""
    [msg] = ingest(INTEGRATION, delivery(load("ko_outlook_ks_c_5601.eml"))).messages
    assert msg.title == "[주문문의] 똠양꿍 밀키트 배송 문의"
    assert msg.sender.kind == "email"
    assert msg.sender.value == "hong.gildong@example.co.kr"
    assert msg.sender.name == "홍길동"
    assert msg.sender.verified is False
    assert msg.sender.shared is True
    assert (
        msg.event_id == msg.thread_key == "<SL2P216MB1834A1B2C3D4E5F6@SL2P216MB1834.KORP216.PROD.OUTLOOK.COM>"
    )
    assert msg.text == "안녕하세요.\n똠양꿍 밀키트를 주문했는데 아직 배송이 안 됐어요.\n확인 부탁드립니다."
    assert msg.automated is False
    assert [a.filename for a in msg.attachments] == ["견적서_똠양꿍.pdf"]
    assert msg.meta["message_id"] == msg.thread_key
    assert msg.meta["attachments_total"] == 1
    assert msg.meta["attachments_not_loaded"] == 0


def test_e5_reply_threads_on_in_reply_to_and_references() -> None:
    """E5: a customer's reply names our Message-ID first, then its References newest first."""
    [msg] = ingest(INTEGRATION, delivery(load("ko_gmail_utf8.eml"))).messages
    assert list(msg.thread_refs) == [
        "<bk.c1a2b3c4d5e6.out-9@mail.brand.co.kr>",
        "<CAKorea123first@mail.gmail.com>",
    ]
    assert msg.meta["references"] == [
        "<CAKorea123first@mail.gmail.com>",
        "<bk.c1a2b3c4d5e6.out-9@mail.brand.co.kr>",
    ]


def test_routing_uses_the_envelope_recipient_not_the_to_header() -> None:
    """Forwarded mail keeps ``To: support@brand.co.kr``; the envelope decides the integration."""
    raw = load("ko_outlook_ks_c_5601.eml")
    assert b"To: support@brand.co.kr" in raw
    assert ingest(INTEGRATION, delivery(raw)).messages
    other = RawDelivery("acme", "SMTP", "someone@else.test", {"rcpt-to": "someone@else.test"}, {}, raw)
    with pytest.raises(MalformedDelivery):
        ingest(INTEGRATION, other)


def test_http_requests_are_refused_as_unauthenticated() -> None:
    with pytest.raises(SignatureError):
        ingest(INTEGRATION, RawDelivery("acme", "POST", "/hooks/acme", {}, {}, b"{}"))


def test_unparseable_mail_is_malformed() -> None:
    with pytest.raises(MalformedDelivery):
        ingest(INTEGRATION, delivery(b"\x00\x01 not a mail"))


def test_e11_only_four_attachments_load_and_the_rest_are_counted() -> None:
    [msg] = ingest(INTEGRATION, delivery(load("six_attachments.eml"))).messages
    assert [a.filename for a in msg.attachments] == [f"photo{i}.png" for i in range(1, 5)]
    assert msg.meta["attachments_total"] == 6
    assert msg.meta["attachments_not_loaded"] == 2
    assert msg.meta["attachment_names"][-1] == "photo6.png"


def test_e2_gmail_forwarding_confirmation_is_a_readable_normal_message() -> None:
    """E2: the admin reads the code in the inbox (text untrimmed); a machine wrote it, so it
    is automated: no bot ever answers forwarding-noreply@google.com."""
    raw = load("gmail_forwarding_confirmation.eml")
    for variant in (raw, raw.replace(b"MIME-Version", b"Auto-Submitted: auto-generated\r\nMIME-Version", 1)):
        [msg] = ingest(INTEGRATION, delivery(variant)).messages
        assert msg.automated is True
        assert msg.meta["confirmation_code"] == "482913657"
        assert msg.meta["forwarding_confirmation"]["requested_by"] == "kim.owner@gmail.com"
        assert "Confirmation code: 482913657" in msg.text
        assert "https://mail-settings.google.com/mail/vf-" in msg.text


@pytest.mark.parametrize(
    "header",
    [
        b"Auto-Submitted: auto-replied",
        b"Auto-Submitted: auto-generated; owner-email=x@y",
        b"Precedence: bulk",
        b"Precedence: junk",
        b"Precedence: list",
        b"Precedence: auto_reply",
        b"X-Autoreply: yes",
        b"X-Autorespond: Out of office",
        b"X-Auto-Response-Suppress: All",
    ],
)
def test_auto_replies_are_kept_but_flagged_automated(header: bytes) -> None:
    raw = load("ko_gmail_utf8.eml").replace(b"MIME-Version: 1.0", header + b"\r\nMIME-Version: 1.0", 1)
    [msg] = ingest(INTEGRATION, delivery(raw)).messages
    assert msg.automated is True
    assert msg.meta["automated_reason"]


def test_auto_submitted_no_is_a_person() -> None:
    raw = load("ko_gmail_utf8.eml").replace(
        b"MIME-Version: 1.0", b"Auto-Submitted: no\r\nMIME-Version: 1.0", 1
    )
    [msg] = ingest(INTEGRATION, delivery(raw)).messages
    assert msg.automated is False


def test_out_of_office_fixture_and_empty_envelope_sender() -> None:
    [ooo] = ingest(INTEGRATION, delivery(load("auto_reply_ko.eml"))).messages
    assert ooo.automated is True
    assert ooo.text == "3월 11일까지 휴가 중입니다. 복귀 후 답변드리겠습니다."
    [bounce] = ingest(INTEGRATION, delivery(load("ko_gmail_utf8.eml"), mail_from="")).messages
    assert bounce.automated is True


def test_dsn_for_our_reply_marks_it_failed_with_the_diagnostic() -> None:
    result = ingest(INTEGRATION, delivery(load("dsn_bounce.eml"), mail_from=""))
    assert result.messages == ()
    [update] = result.status_updates
    assert update.provider_message_id == "<bk.c1a2b3c4d5e6.out-42@mail.brand.co.kr>"
    assert update.status is DeliveryStatus.FAILED
    assert update.reason is not None
    assert "550 5.1.1" in update.reason
    assert "User unknown" in update.reason


def test_dsn_for_someone_elses_mail_is_an_automated_message() -> None:
    raw = load("dsn_bounce.eml").replace(b"<bk.c1a2b3c4d5e6.out-42@", b"<other.42@")
    result = ingest(INTEGRATION, delivery(raw, mail_from=""))
    assert result.status_updates == ()
    [msg] = result.messages
    assert msg.automated is True
    assert msg.meta["delivery_report"]["recipients"][0]["status"] == "5.1.1"


def test_missing_message_id_gets_a_stable_event_id() -> None:
    raw = load("no_message_id.eml")
    [a] = ingest(INTEGRATION, delivery(raw)).messages
    [b] = ingest(INTEGRATION, delivery(raw)).messages
    assert a.event_id == b.event_id
    assert a.event_id.endswith("@no-message-id.invalid>")
    assert a.meta["message_id_synthesised"] is True


async def test_large_mail_is_parsed_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A big mail must not block the loop: the hook parses it in a worker thread."""
    big_part = (
        b"--six\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename=big.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + (b"QUFB" * 19 + b"\r\n") * 40000 + b"--six--"
    )
    big = load("six_attachments.eml").replace(b"--six--", big_part)
    threads: list[str] = []
    real_ingest = ingest_module.ingest

    def spy(integration: Integration, d: RawDelivery) -> IngestResult:
        threads.append(threading.current_thread().name)
        return real_ingest(integration, d)

    monkeypatch.setattr(ingest_module, "ingest", spy)
    result = await EmailForwardPlugin().bridgekit_ingest(INTEGRATION, delivery(big))
    assert result.messages[0].meta["attachments_total"] == 7
    assert threads
    assert threads[0] != threading.main_thread().name
    await asyncio.sleep(0)


def test_mark_automatic_sets_rfc3834_headers() -> None:
    from email.message import EmailMessage

    msg = mark_automatic(EmailMessage())
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert mark_automatic(msg, "auto-replied")["Auto-Submitted"] == "auto-replied"
    with pytest.raises(ValueError, match="Auto-Submitted"):
        mark_automatic(msg, "no")
