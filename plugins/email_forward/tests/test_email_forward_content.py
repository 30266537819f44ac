"""Mail that is damaged, misaddressed, machine-written or has too many files, over real SMTP
into a running bridgekit (issue 12, item 9): what managers see, and that no bot answers
a machine."""

from __future__ import annotations

import asyncio
import base64

from bridgekit_email_forward.parse import parse_mail
from bridgekit_email_forward.plugin import EmailForwardPlugin
from bridgekit_email_forward.sandbox import SmtpSink
from test_email_forward_smtp import ACME, MakeBridge, email_integration, load, send, start

from tests.support.bots import EchoBot, GreeterBot

GOOD = "안녕하세요. 주문 확인 부탁드립니다.\n" * 3
REST = "두 번째 단락입니다. 배송은 언제 되나요?\n" * 3


def mail(*, sender: str = "Kim <kim@example.com>", subject: str, body: bytes, extra: bytes = b"") -> bytes:
    return (
        (
            f"From: {sender}\r\nTo: support@brand.co.kr\r\nSubject: {subject}\r\n"
            f"Message-ID: <{abs(hash((sender, subject)))}@example.com>\r\n"
            "Date: Thu, 7 Mar 2024 10:00:00 +0900\r\nMIME-Version: 1.0\r\n"
        ).encode()
        + extra
        + body
    )


def damaged_mail() -> bytes:
    encoded = base64.b64encode((GOOD + REST).encode()).decode()
    lines = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
    lines[2] = lines[2][:10] + "*" + lines[2][11:]  # one line of six is damaged
    # The subject's last encoded word lost a character too (33 base64 characters).
    word = base64.b64encode("주문 문의 드립니다".encode()).decode()
    subject = f"=?UTF-8?B?{word[:-4]}A?="
    body = (
        b"Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + "\r\n".join(lines).encode()
        + b"\r\n"
    )
    return mail(subject=subject, body=body)


async def test_damaged_base64_keeps_what_decodes_marks_the_gap_and_decodes_the_subject(
    make_bridge: MakeBridge, sink: SmtpSink
) -> None:
    running, _, port = await start(make_bridge, sink)
    assert (await send(port, damaged_mail())).startswith("2.0.0")
    [chat] = await running.chats()
    assert chat["title"].startswith("주문 문의 드립니")
    [message] = await running.messages(chat["id"])
    text = message["text"]
    assert text.startswith("안녕하세요. 주문 확인 부탁드립니다.\n안녕하세요. 주문 확인 부탁드립니다.\n")
    assert "[…]" in text
    assert text.endswith("두 번째 단락입니다. 배송은 언제 되나요?\n두 번째 단락입니다. 배송은 언제 되나요?")
    assert "\ufffd" not in text
    assert any("could not be decoded" in n for n in message["notices"])


async def test_from_without_an_address_falls_back_to_the_envelope_sender_and_says_so(
    make_bridge: MakeBridge, sink: SmtpSink
) -> None:
    running, _, port = await start(make_bridge, sink)
    raw = mail(sender="broken", subject="Refund", body=b"Content-Type: text/plain\r\n\r\nPlease refund.\r\n")
    await send(port, raw, mail_from="kim@example.com")
    [chat] = await running.chats()
    [message] = await running.messages(chat["id"])
    assert message["text"] == "Please refund."
    [notice] = message["notices"]
    assert "'broken'" in notice
    assert "kim@example.com" in notice
    await running.reply(chat["id"], "Refunded.")
    [sent] = await sink.wait_for(1)
    assert sent.rcpt_tos == ["kim@example.com"]


async def test_no_bot_ever_answers_gmails_confirmation_auto_submitted_or_null_sender_mail(
    make_bridge: MakeBridge, sink: SmtpSink
) -> None:
    plugin = EmailForwardPlugin()
    running = await make_bridge(
        plugins={"email_forward": plugin, "echo": EchoBot(), "greeter": GreeterBot()},
        integrations={"acme": email_integration(ACME, sink)},
    )
    port = plugin.smtp.port_for(ACME)
    await send(port, load("gmail_forwarding_confirmation.eml"))
    auto = mail(
        subject="Out of office",
        body=b"Content-Type: text/plain\r\n\r\nI am away.\r\n",
        extra=b"Auto-Submitted: auto-replied\r\n",
    )
    await send(port, auto)
    await send(port, mail(sender="Lee <lee@example.com>", subject="Hi", body=b"\r\nHello?\r\n"), mail_from="")
    assert len(await running.chats()) == 3  # all three are in the inbox for managers
    # A person's mail still gets both bots' answers: the bots are running.
    await send(port, mail(sender="Park <park@example.com>", subject="Order", body=b"\r\nWhere is it?\r\n"))
    sent = await sink.wait_for(2)
    await asyncio.sleep(0.5)  # time for any wrong reply to leave too
    assert [s.rcpt_tos for s in sink.received] == [["park@example.com"], ["park@example.com"]]
    assert len(sent) == 2


async def test_attachments_over_the_limit_are_listed_with_a_reason(
    make_bridge: MakeBridge, sink: SmtpSink
) -> None:
    running, _, port = await start(make_bridge, sink)
    raw = load("six_attachments.eml")
    await send(port, raw)
    [chat] = await running.chats()
    [message] = await running.messages(chat["id"])
    assert len(message["attachments"]) == 4
    sizes = {a.filename: len(a.data) for a in parse_mail(raw).attachments}
    assert message["dropped_attachments"] == [
        {"filename": "photo5.png", "size": sizes["photo5.png"], "reason": "too_many"},
        {"filename": "photo6.png", "size": sizes["photo6.png"], "reason": "too_many"},
    ]


def test_a_damaged_line_costs_only_that_line_and_no_guessed_charset() -> None:
    """Only the body is damaged here: the lines around the damage keep their Korean text
    (no CJK guess turns the whole part into the wrong script)."""
    encoded = base64.b64encode((GOOD + REST).encode()).decode()
    lines = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
    lines[2] = lines[2][:10] + "*" + lines[2][11:]
    body = (
        b"Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + "\r\n".join(lines).encode()
        + b"\r\n"
    )
    parsed = parse_mail(mail(subject="=?UTF-8?B?7KO866y4?=", body=body))
    assert parsed.subject == "주문"
    assert parsed.text.startswith(GOOD.split("\n")[0] + "\n" + GOOD.split("\n")[1] + "\n")
    assert parsed.text.endswith(REST.strip("\n").rsplit("\n", 1)[-1])
    assert "[…]" in parsed.text
    assert parsed.damaged_parts == ("text/plain: invalid base64",)
