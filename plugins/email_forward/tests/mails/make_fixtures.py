# ruff: noqa: RUF001, RUF002, E501
"""Write the raw test mails in this folder (run: python make_fixtures.py).

Each mail is assembled byte by byte the way the named client writes it, because Python's
``email`` package would label and fold things its own (correct) way: Outlook's
``ks_c_5601-1987`` label on CP949 bytes, Windows ISO-2022-JP carrying NEC row 13, Shift_JIS
with IBM extensions, encoded words split in the middle of a character, raw 8-bit headers,
RFC 2231 continuations. The expected decoded values are asserted in
``test_email_forward_parse.py``.
"""

from __future__ import annotations

import base64
import quopri
from pathlib import Path

HERE = Path(__file__).parent
CRLF = b"\r\n"


def b64_word(charset: str, data: bytes) -> str:
    return f"=?{charset}?B?{base64.b64encode(data).decode()}?="


def b64_lines(data: bytes) -> bytes:
    enc = base64.b64encode(data)
    return CRLF.join(enc[i : i + 76] for i in range(0, len(enc), 76))


def qp(data: bytes) -> bytes:
    return quopri.encodestring(data.replace(CRLF, b"\n")).replace(b"\n", CRLF)


def sjis_to_jis(data: bytes) -> bytes:
    """cp932 bytes -> Windows-style ISO-2022-JP (CP50221: half-width kana via ESC ( I)."""
    out = bytearray()
    mode = "ascii"
    i = 0
    while i < len(data):
        b = data[i]
        if b < 0x80:
            if mode != "ascii":
                out += b"\x1b(B"
                mode = "ascii"
            out.append(b)
            i += 1
        elif 0xA1 <= b <= 0xDF:
            if mode != "kana":
                out += b"\x1b(I"
                mode = "kana"
            out.append(b - 0x80)
            i += 1
        else:
            s1, s2 = b, data[i + 1]
            if mode != "jis":
                out += b"\x1b$B"
                mode = "jis"
            row = (s1 - 0x81 if s1 <= 0x9F else s1 - 0xC1) * 2 + 0x21
            if s2 >= 0x9F:
                out += bytes((row + 1, s2 - 0x7E))
            else:
                out += bytes((row, s2 - 0x1F - (1 if s2 >= 0x80 else 0)))
            i += 2
    if mode != "ascii":
        out += b"\x1b(B"
    return bytes(out)


def jis(text: str) -> bytes:
    return CRLF.join(sjis_to_jis(line.encode("cp932")) for line in text.split("\n"))


def mail(headers: list[str | bytes], body: bytes) -> bytes:
    head = CRLF.join(h.encode() if isinstance(h, str) else h for h in headers)
    return head + CRLF + CRLF + body + CRLF


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def ko_outlook() -> bytes:
    """Outlook (Windows, Korean): ks_c_5601-1987 labels on CP949 text (똠 is not EUC-KR)."""
    cs = "ks_c_5601-1987"
    text = (
        "안녕하세요.\r\n똠양꿍 밀키트를 주문했는데 아직 배송이 안 됐어요.\r\n확인 부탁드립니다.\r\n\r\n"
        "-----Original Message-----\r\nFrom: 고객지원 <support@brand.co.kr>\r\n"
        "Sent: Tuesday, March 5, 2024 2:31 PM\r\nTo: 홍길동 <hong.gildong@example.co.kr>\r\n"
        "Subject: 주문 확인\r\n\r\n주문이 확인되었습니다.\r\n"
    )
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=ks_c_5601-1987">'
        "</head><body><p>안녕하세요.</p><p>똠양꿍 밀키트를 주문했는데 아직 배송이 안 됐어요.</p>"
        '<div id="divRplyFwdMsg"><b>From:</b> 고객지원</div><p>주문이 확인되었습니다.</p></body></html>'
    )
    body = CRLF.join(
        [
            b"--_004_outer_",
            b'Content-Type: multipart/alternative; boundary="_000_alt_"',
            b"",
            b"--_000_alt_",
            f'Content-Type: text/plain; charset="{cs}"'.encode(),
            b"Content-Transfer-Encoding: base64",
            b"",
            b64_lines(text.encode("cp949")),
            b"",
            b"--_000_alt_",
            f'Content-Type: text/html; charset="{cs}"'.encode(),
            b"Content-Transfer-Encoding: quoted-printable",
            b"",
            qp(html.encode("cp949")),
            b"",
            b"--_000_alt_--",
            b"",
            b"--_004_outer_",
            f'Content-Type: application/pdf; name="{b64_word(cs, "견적서_똠양꿍.pdf".encode("cp949"))}"'.encode(),
            f"Content-Description: {b64_word(cs, '견적서_똠양꿍.pdf'.encode('cp949'))}".encode(),
            f'Content-Disposition: attachment; filename="{b64_word(cs, "견적서_똠양꿍.pdf".encode("cp949"))}";'
            f" size={len(PDF)}".encode(),
            b"Content-Transfer-Encoding: base64",
            b"",
            b64_lines(PDF),
            b"",
            b"--_004_outer_--",
        ]
    )
    return mail(
        [
            f'From: "{b64_word(cs, "홍길동".encode("cp949"))}" <Hong.GilDong@Example.co.kr>',
            "To: support@brand.co.kr",
            f"Subject: {b64_word(cs, '[주문문의] 똠양꿍 밀키트 배송 문의'.encode('cp949'))}",
            "Thread-Topic: =?ks_c_5601-1987?B?W8HWua65rsDHXQ==?=",
            "Date: Wed, 6 Mar 2024 09:12:45 +0000",
            "Message-ID: <SL2P216MB1834A1B2C3D4E5F6@SL2P216MB1834.KORP216.PROD.OUTLOOK.COM>",
            "Accept-Language: ko-KR, en-US",
            "Content-Language: ko-KR",
            "X-MS-Has-Attach: yes",
            'Content-Type: multipart/mixed; boundary="_004_outer_"',
            "MIME-Version: 1.0",
        ],
        body,
    )


def ko_naver() -> bytes:
    """Old Korean webmail: EUC-KR label on CP949 text (뷁), a raw 8-bit EUC-KR name."""
    text = (
        "배송지 변경 요청드립니다.\r\n새 주소: 서울시 강남구 테헤란로 1 (뷁빌딩)\r\n\r\n"
        '-----Original Message-----\r\nFrom: "고객지원"<support@brand.co.kr>\r\n'
        "To: <kim.cs@naver.com>;\r\nCc:\r\nSent: 2024-03-05 (화) 14:31:00\r\nSubject: 주문 확인\r\n\r\n"
        "주문이 확인되었습니다.\r\n"
    )
    return mail(
        [
            b'From: "' + "김철수".encode("cp949") + b'" <kim.cs@naver.com>',
            "To: <support@brand.co.kr>",
            f"Subject: {b64_word('EUC-KR', 'RE: 배송지 변경 (뷁빌딩)'.encode('cp949'))}",
            "Date: Wed, 06 Mar 2024 18:20:01 +0900",
            "Message-ID: <2b9c7e1f4a6d8e0c1b3a5f7e9d2c4b6a@cweb003.nm.nfra.io>",
            "In-Reply-To: <bk.c1a2b3c4d5e6.out-7@mail.brand.co.kr>",
            "MIME-Version: 1.0",
            'Content-Type: text/plain; charset="EUC-KR"',
            "Content-Transfer-Encoding: quoted-printable",
            "X-Mailer: NAVER Mail",
        ],
        qp(text.encode("cp949")),
    )


def ko_gmail() -> bytes:
    """Gmail (Korean UI), UTF-8; subject split mid-character; RFC 2231 filename."""
    subject = "Re: 환불 요청드립니다 (주문번호 2024-0312)".encode()
    cut = 11  # inside a three-byte Hangul character
    text = (
        "네, 환불 계좌는 국민은행 123-45-6789 입니다.\n감사합니다.\n김민지 드림\n\n"
        "2024년 3월 12일 (화) 오후 3:05, 고객지원 <support@brand.co.kr>님이 작성:\n\n"
        "> 안녕하세요 고객님,\n> 환불 계좌를 알려주세요.\n>\n"
    )
    html = (
        '<div dir="ltr">네, 환불 계좌는 국민은행 123-45-6789 입니다.<div>감사합니다.</div>'
        '<div>김민지 드림</div></div><br><div class="gmail_quote"><div class="gmail_attr">'
        "2024년 3월 12일 (화) 오후 3:05, 고객지원 님이 작성:</div><blockquote>안녕하세요 고객님,"
        "</blockquote></div>"
    )
    name = "영수증 사진.jpg".encode()
    body = CRLF.join(
        [
            b"--000000000000a1b2c3",
            b'Content-Type: multipart/alternative; boundary="000000000000d4e5f6"',
            b"",
            b"--000000000000d4e5f6",
            b'Content-Type: text/plain; charset="UTF-8"',
            b"Content-Transfer-Encoding: quoted-printable",
            b"",
            qp(text.encode()),
            b"--000000000000d4e5f6",
            b'Content-Type: text/html; charset="UTF-8"',
            b"Content-Transfer-Encoding: quoted-printable",
            b"",
            qp(html.encode()),
            b"--000000000000d4e5f6--",
            b"--000000000000a1b2c3",
            b"Content-Type: image/jpeg; name*=UTF-8''" + "".join(f"%{c:02X}" for c in name).encode(),
            b"Content-Disposition: attachment; filename*=UTF-8''"
            + "".join(f"%{c:02X}" for c in name).encode(),
            b"Content-Transfer-Encoding: base64",
            b"X-Attachment-Id: f_lt1",
            b"Content-ID: <f_lt1>",
            b"",
            b64_lines(b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"),
            b"--000000000000a1b2c3--",
        ]
    )
    return mail(
        [
            "MIME-Version: 1.0",
            "Date: Tue, 12 Mar 2024 15:20:33 +0900",
            "References: <CAKorea123first@mail.gmail.com> <bk.c1a2b3c4d5e6.out-9@mail.brand.co.kr>",
            "In-Reply-To: <bk.c1a2b3c4d5e6.out-9@mail.brand.co.kr>",
            "Message-ID: <CAKorea456reply+XyZ=abc@mail.gmail.com>",
            f"Subject: {b64_word('UTF-8', subject[:cut])}\r\n {b64_word('UTF-8', subject[cut:])}",
            f"From: {b64_word('UTF-8', '김민지'.encode())} <minji.kim@gmail.com>",
            "To: =?UTF-8?B?6rOg6rCd7KeA7JuQ?= <support@brand.co.kr>",
            'Content-Type: multipart/mixed; boundary="000000000000a1b2c3"',
        ],
        body,
    )


def ja_iso2022jp() -> bytes:
    """Outlook/Thunderbird (Windows, Japanese): ISO-2022-JP 7bit with NEC row 13 and
    half-width katakana (CP50221)."""
    subject = "【至急】注文①の返品について㈱ヤマダ"
    text = (
        "お世話になっております。㈱ヤマダの山田です。\n"
        "注文①の商品が届きましたが、ｻｲｽﾞが違いました。\n返品の手続きを教えてください。\n\n"
        "2024年3月5日(火) 14:31 サポート <support@brand.jp>:\n"
        "> お問い合わせありがとうございます。\n"
    )
    return mail(
        [
            f"From: {b64_word('ISO-2022-JP', sjis_to_jis('山田 太郎'.encode('cp932')))} <Taro.Yamada@Example.co.jp>",
            "To: support@brand.jp",
            f"Subject: {b64_word('ISO-2022-JP', sjis_to_jis(subject.encode('cp932')))}",
            "Date: Thu, 7 Mar 2024 10:00:00 +0900",
            "Message-ID: <20240307100000.1A2B.TARO@example.co.jp>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=ISO-2022-JP",
            "Content-Transfer-Encoding: 7bit",
            "X-Mailer: Microsoft Outlook 16.0",
        ],
        jis(text),
    )


def ja_shift_jis() -> bytes:
    """Shift_JIS label, Windows-only characters (髙, ①, ～), Outlook ja quote header,
    RFC 2231 continuation filename in Shift_JIS."""
    text = (
        "髙橋です。\r\n見積書①を添付します。納期は３月～４月でお願いします。\r\n\r\n"
        "差出人: サポート <support@brand.jp>\r\n送信日時: 2024年3月5日 14:31\r\n"
        "宛先: 髙橋 一郎 <ichiro.takahashi@example.jp>\r\n件名: お見積り\r\n\r\nご依頼ありがとうございます。\r\n"
    )
    fname = "見積書①_髙橋.xlsx".encode("cp932")
    pct = "".join(f"%{c:02X}" for c in fname)
    half = len(pct) // 2
    half -= half % 3
    body = CRLF.join(
        [
            b"--sjis-boundary",
            b"Content-Type: text/plain; charset=Shift_JIS",
            b"Content-Transfer-Encoding: 8bit",
            b"",
            text.encode("cp932"),
            b"--sjis-boundary",
            b"Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            b"Content-Disposition: attachment;",
            f" filename*0*=shift_jis''{pct[:half]};".encode(),
            f" filename*1*={pct[half:]}".encode(),
            b"Content-Transfer-Encoding: base64",
            b"",
            b64_lines(b"PK\x03\x04fake-xlsx"),
            b"--sjis-boundary--",
        ]
    )
    return mail(
        [
            f"From: {b64_word('Shift_JIS', '髙橋 一郎'.encode('cp932'))} <ichiro.takahashi@example.jp>",
            "To: support@brand.jp",
            f"Subject: {b64_word('Shift_JIS', 'Re: お見積り①（髙橋）'.encode('cp932'))}",
            "Date: Fri, 8 Mar 2024 11:30:00 +0900",
            "Message-ID: <sjis.20240308113000@example.jp>",
            "MIME-Version: 1.0",
            'Content-Type: multipart/mixed; boundary="sjis-boundary"',
        ],
        body,
    )


def gmail_confirmation() -> bytes:
    """What Gmail sends to a new forwarding address (E2)."""
    text = (
        "kim.owner@gmail.com has requested to automatically forward mail to your email address\n"
        "acme@in.bridgekit.test.\nConfirmation code: 482913657\n\n"
        "To allow kim.owner@gmail.com to automatically forward mail to your address, please click the\n"
        "link below to confirm the request:\n\n"
        "https://mail-settings.google.com/mail/vf-%5BANGjdJ8example%5D-cWJqUeXaMpLe-Xz\n\n"
        "If you click the link and it appears to be broken, please copy and paste it into a new\n"
        "browser window.\n\nThanks for using Gmail!\n"
    )
    return mail(
        [
            "From: Gmail Team <forwarding-noreply@google.com>",
            "To: acme@in.bridgekit.test",
            "Subject: (#482913657) Gmail Forwarding Confirmation - Receive Mail from kim.owner@gmail.com",
            "Date: Mon, 4 Mar 2024 01:02:03 -0800",
            "Message-ID: <000000000000fwdconf482913657@google.com>",
            "MIME-Version: 1.0",
            'Content-Type: text/plain; charset="UTF-8"; format=flowed; delsp=yes',
            "Content-Transfer-Encoding: base64",
        ],
        b64_lines(text.encode()),
    )


def dsn_bounce() -> bytes:
    """A delivery-status notification for one of bridgekit's own replies."""
    body = CRLF.join(
        [
            b"--dsn-b",
            b"Content-Type: text/plain; charset=us-ascii",
            b"",
            b"This is the mail system at host mx.brand.co.kr.",
            b"",
            b"I'm sorry to have to inform you that your message could not",
            b"be delivered to one or more recipients.",
            b"",
            b"--dsn-b",
            b"Content-Type: message/delivery-status",
            b"",
            b"Reporting-MTA: dns; mx.brand.co.kr",
            b"Arrival-Date: Wed,  6 Mar 2024 10:00:00 +0900 (KST)",
            b"",
            b"Final-Recipient: rfc822; nobody@example.co.kr",
            b"Original-Recipient: rfc822;nobody@example.co.kr",
            b"Action: failed",
            b"Status: 5.1.1",
            b"Remote-MTA: dns; mx.example.co.kr",
            b"Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.co.kr>: Recipient address",
            b"    rejected: User unknown in virtual mailbox table",
            b"",
            b"--dsn-b",
            b"Content-Type: text/rfc822-headers",
            b"",
            b"From: =?UTF-8?B?6rOg6rCd7KeA7JuQ?= <support@brand.co.kr>",
            b"To: nobody@example.co.kr",
            b"Subject: Re: test",
            b"Message-ID: <bk.c1a2b3c4d5e6.out-42@mail.brand.co.kr>",
            b"",
            b"--dsn-b--",
        ]
    )
    return mail(
        [
            "From: MAILER-DAEMON@mx.brand.co.kr (Mail Delivery System)",
            "To: acme@in.bridgekit.test",
            "Subject: Undelivered Mail Returned to Sender",
            "Date: Wed,  6 Mar 2024 10:00:05 +0900 (KST)",
            "Message-Id: <20240306010005.ABCDE1234@mx.brand.co.kr>",
            "Auto-Submitted: auto-replied",
            "MIME-Version: 1.0",
            'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn-b"',
        ],
        body,
    )


def auto_reply() -> bytes:
    """An out-of-office answer (RFC 3834)."""
    return mail(
        [
            f"From: {b64_word('UTF-8', '박영희'.encode())} <younghee.park@example.com>",
            "To: support@brand.co.kr",
            f"Subject: {b64_word('UTF-8', '[자동응답] 휴가 중입니다'.encode())}",
            "Date: Thu, 7 Mar 2024 09:00:00 +0900",
            "Message-ID: <ooo.20240307@example.com>",
            "Auto-Submitted: auto-replied",
            "X-Autoreply: yes",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=UTF-8",
            "Content-Transfer-Encoding: 8bit",
        ],
        "3월 11일까지 휴가 중입니다. 복귀 후 답변드리겠습니다.".encode(),
    )


def six_attachments() -> bytes:
    """Six files: four load into the chat, two do not (E11)."""
    parts = [
        b"--six",
        b"Content-Type: text/plain; charset=UTF-8",
        b"Content-Transfer-Encoding: 8bit",
        b"",
        "사진 6장 보냅니다.".encode(),
    ]
    for i in range(1, 7):
        parts += [
            b"--six",
            b"Content-Type: image/png",
            f'Content-Disposition: attachment; filename="photo{i}.png"'.encode(),
            b"Content-Transfer-Encoding: base64",
            b"",
            b64_lines(PNG),
        ]
    parts.append(b"--six--")
    return mail(
        [
            "From: Lee <lee@example.com>",
            "To: support@brand.co.kr",
            "Subject: photos",
            "Date: Thu, 7 Mar 2024 09:00:00 +0900",
            "Message-ID: <six.attachments@example.com>",
            "MIME-Version: 1.0",
            'Content-Type: multipart/mixed; boundary="six"',
        ],
        CRLF.join(parts),
    )


def no_message_id() -> bytes:
    return mail(
        [
            "From: plain@example.com",
            "To: support@brand.co.kr",
            "Subject: no id",
            "Date: Thu, 7 Mar 2024 09:00:00 +0900",
            "Content-Type: text/plain; charset=us-ascii",
        ],
        b"Hello, this mail has no Message-ID.",
    )


def html_newsletter() -> bytes:
    """An HTML-only mail with a table, CSS, a script, a remote image and an inline image."""
    html = (
        "<html><head><style>td { color: #333; }</style>"
        "<script>alert('x')</script></head><body>"
        '<table class="order"><tr><td style="font-weight:bold">상품</td><td>수량</td></tr>'
        "<tr><td>똠양꿍</td><td>2</td></tr></table>"
        '<img src="https://tracker.example.net/open.gif?u=1" width="1" height="1">'
        '<img src="cid:logo@brand" alt="logo">'
        '<a href="https://shop.example.com/" onclick="steal()">주문 보기</a>'
        '<a href="javascript:alert(1)">x</a>'
        "</body></html>"
    )
    body = CRLF.join(
        [
            b"--rel",
            b"Content-Type: text/html; charset=UTF-8",
            b"Content-Transfer-Encoding: base64",
            b"",
            b64_lines(html.encode()),
            b"--rel",
            b"Content-Type: image/png",
            b"Content-ID: <logo@brand>",
            b"Content-Disposition: inline",
            b"Content-Transfer-Encoding: base64",
            b"",
            b64_lines(PNG),
            b"--rel--",
        ]
    )
    return mail(
        [
            "From: Shop <orders@shop.example.com>",
            "To: support@brand.co.kr",
            "Subject: =?UTF-8?B?7KO866y4IOuCtOyXrQ==?=",
            "Date: Thu, 7 Mar 2024 09:00:00 +0900",
            "Message-ID: <html.only@shop.example.com>",
            "MIME-Version: 1.0",
            'Content-Type: multipart/related; boundary="rel"',
        ],
        body,
    )


FIXTURES = {
    "ko_outlook_ks_c_5601.eml": ko_outlook,
    "ko_naver_euc_kr.eml": ko_naver,
    "ko_gmail_utf8.eml": ko_gmail,
    "ja_iso2022jp_windows.eml": ja_iso2022jp,
    "ja_shift_jis_windows.eml": ja_shift_jis,
    "gmail_forwarding_confirmation.eml": gmail_confirmation,
    "dsn_bounce.eml": dsn_bounce,
    "auto_reply_ko.eml": auto_reply,
    "six_attachments.eml": six_attachments,
    "no_message_id.eml": no_message_id,
    "html_only.eml": html_newsletter,
}


def main() -> None:
    for name, build in FIXTURES.items():
        (HERE / name).write_bytes(build())


if __name__ == "__main__":
    main()
