"""Mail holding text no database column can take (issue 12, item 8): a NUL in the subject, the
body or the display name, undecodable bytes in a header. PostgreSQL refused the NUL, so the
forwarder got 451 on every retry and the mail never reached a manager."""

from __future__ import annotations

import base64

from bridgekit_email_forward.sandbox import SmtpSink
from sqlalchemy import func, select
from test_email_forward_smtp import MakeBridge, send, start

from bridgekit.storage import schema as s

NUL_SUBJECT = "=?utf-8?b?" + base64.b64encode("주문\x00문의".encode()).decode() + "?="
MAIL = (
    b"From: =?utf-8?b?" + base64.b64encode("홍\x00길동".encode()) + b"?= <hong@example.co.kr>\r\n"
    b"To: support@brand.co.kr\r\n"
    b"Subject: " + NUL_SUBJECT.encode() + b"\r\n"
    b"X-Junk: caf\xe9\r\n"
    b"Message-ID: <nul.1@example.co.kr>\r\n"
    b"Content-Type: text/plain; charset=UTF-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n"
    + base64.b64encode("배송\x00언제 되나요?\n".encode())
    + b"\r\n"
)


async def test_mail_with_nul_characters_is_accepted_and_shown_without_them(
    make_bridge: MakeBridge, sink: SmtpSink
) -> None:
    running, _plugin, port = await start(make_bridge, sink)
    reply = await send(port, MAIL)
    assert reply.startswith("2.0.0")  # queued, not 451
    (chat,) = await running.chats()
    assert chat["title"] == "주문문의"
    (message,) = await running.messages(chat["id"])
    assert message["text"].startswith("배송언제 되나요?")
    assert message["author_name"] == "홍길동"
    async with running.bridge.db.read() as conn:
        kept = (await conn.execute(select(func.count()).select_from(s.raw_deliveries))).scalar_one()
    assert kept == 1  # one accepted row, no "error" rows from retries
