# ruff: noqa: RUF001
"""Decoding of real-looking Korean and Japanese mail in every charset clients send (E3, E7).

The fixtures in ``mails/`` are written by ``mails/make_fixtures.py`` byte for byte the way
the named client writes them; each test asserts what a manager would read in the inbox.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bridgekit_email_forward.charsets import (
    decode_bytes,
    decode_header_value,
    decode_iso2022jp,
    normalise_charset,
)
from bridgekit_email_forward.parse import (
    UnparseableMail,
    normalise_message_id,
    parse_mail,
    synthetic_message_id,
)
from bridgekit_email_forward.quotes import trim_reply

MAILS = Path(__file__).parent / "mails"


def load(name: str) -> bytes:
    return (MAILS / name).read_bytes()


@pytest.mark.parametrize(
    ("fixture", "subject", "name", "address", "text"),
    [
        (
            "ko_outlook_ks_c_5601.eml",
            "[주문문의] 똠양꿍 밀키트 배송 문의",
            "홍길동",
            "hong.gildong@example.co.kr",
            "안녕하세요.\n똠양꿍 밀키트를 주문했는데 아직 배송이 안 됐어요.\n확인 부탁드립니다.",
        ),
        (
            "ko_naver_euc_kr.eml",
            "RE: 배송지 변경 (뷁빌딩)",
            "김철수",
            "kim.cs@naver.com",
            "배송지 변경 요청드립니다.\n새 주소: 서울시 강남구 테헤란로 1 (뷁빌딩)",
        ),
        (
            "ko_gmail_utf8.eml",
            "Re: 환불 요청드립니다 (주문번호 2024-0312)",
            "김민지",
            "minji.kim@gmail.com",
            "네, 환불 계좌는 국민은행 123-45-6789 입니다.\n감사합니다.\n김민지 드림",
        ),
        (
            "ja_iso2022jp_windows.eml",
            "【至急】注文①の返品について㈱ヤマダ",
            "山田 太郎",
            "taro.yamada@example.co.jp",
            "お世話になっております。㈱ヤマダの山田です。\n注文①の商品が届きましたが、ｻｲｽﾞが違いました。\n"
            "返品の手続きを教えてください。",
        ),
        (
            "ja_shift_jis_windows.eml",
            "Re: お見積り①（髙橋）",
            "髙橋 一郎",
            "ichiro.takahashi@example.jp",
            "髙橋です。\n見積書①を添付します。納期は３月～４月でお願いします。",
        ),
    ],
)
def test_e3_e7_subject_sender_and_text_decode_exactly(
    fixture: str, subject: str, name: str, address: str, text: str
) -> None:
    """E3/E7: the chat title, the customer's name and the message read as the customer wrote them."""
    mail = parse_mail(load(fixture))
    assert mail.subject == subject
    assert mail.from_name == name
    assert mail.from_addr == address
    assert trim_reply(mail.text) == text


def test_outlook_rfc2047_filename_in_ks_c_5601() -> None:
    """Outlook's encoded-word file names (CP949 under the ks_c_5601-1987 label) decode."""
    mail = parse_mail(load("ko_outlook_ks_c_5601.eml"))
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("견적서_똠양꿍.pdf", "application/pdf")
    ]
    assert mail.attachments[0].data.startswith(b"%PDF-1.4")


def test_rfc2231_filenames_utf8_and_shift_jis_continuations() -> None:
    gmail = parse_mail(load("ko_gmail_utf8.eml"))
    assert [a.filename for a in gmail.attachments] == ["영수증 사진.jpg"]
    sjis = parse_mail(load("ja_shift_jis_windows.eml"))
    assert [a.filename for a in sjis.attachments] == ["見積書①_髙橋.xlsx"]
    assert sjis.attachments[0].data == b"PK\x03\x04fake-xlsx"


def test_message_ids_and_thread_headers_are_normalised() -> None:
    mail = parse_mail(load("ko_gmail_utf8.eml"))
    assert mail.message_id == "<CAKorea456reply+XyZ=abc@mail.gmail.com>"
    assert mail.in_reply_to == ("<bk.c1a2b3c4d5e6.out-9@mail.brand.co.kr>",)
    assert mail.references == ("<CAKorea123first@mail.gmail.com>", "<bk.c1a2b3c4d5e6.out-9@mail.brand.co.kr>")
    assert mail.date is not None
    assert mail.date.isoformat() == "2024-03-12T15:20:33+09:00"


def test_missing_message_id_gets_a_stable_synthetic_one() -> None:
    raw = load("no_message_id.eml")
    assert parse_mail(raw).message_id is None
    assert synthetic_message_id(raw) == synthetic_message_id(raw)
    assert synthetic_message_id(raw) != synthetic_message_id(raw + b"x")


def test_normalise_message_id() -> None:
    assert normalise_message_id("  <abc@x.example> ") == "<abc@x.example>"
    assert normalise_message_id("abc@x.example") == "<abc@x.example>"
    assert normalise_message_id("") is None
    long_id = normalise_message_id("<" + "a" * 400 + "@x>")
    assert long_id is not None
    assert len(long_id) < 120


def test_html_only_mail_becomes_readable_text() -> None:
    mail = parse_mail(load("html_only.eml"))
    assert mail.subject == "주문 내역"
    assert "똠양꿍 2" in mail.text
    assert "alert" not in mail.text


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"\x00\x01garbage without any header"])
def test_garbage_is_unparseable(raw: bytes) -> None:
    with pytest.raises(UnparseableMail):
        parse_mail(raw)


# --- charsets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("ks_c_5601-1987", "cp949"),
        ("EUC-KR", "cp949"),
        ("Shift_JIS", "cp932"),
        ("ISO-2022-JP", "iso-2022-jp-ms"),
        ("x-unknown", None),
        ("utf8", "utf-8"),
        ("iso-8859-1", "cp1252"),
    ],
)
def test_charset_labels_map_to_what_clients_really_write(label: str, codec: str | None) -> None:
    assert normalise_charset(label) == codec


def test_cp949_only_hangul_under_euc_kr_label() -> None:
    assert decode_bytes("똠방각하 뷁".encode("cp949"), "euc-kr") == "똠방각하 뷁"


def test_iso2022jp_windows_extensions_and_halfwidth_kana() -> None:
    # NEC row 13 (①, ㈱) in a JIS X 0208 segment, half-width katakana via ESC ( I and SO/SI.
    data = b"\x1b$B-!-j\x1b(B \x1b(I6@6E\x1b(B \x0e6@\x0f"
    assert decode_iso2022jp(data) == "①㈱ ｶﾀｶﾅ ｶﾀ"
    assert decode_bytes(data, "iso-2022-jp") == "①㈱ ｶﾀｶﾅ ｶﾀ"


def test_plain_iso2022jp_uses_the_standard_table() -> None:
    data = "こんにちは".encode("iso2022_jp")
    assert decode_bytes(data, "ISO-2022-JP") == "こんにちは"


def test_encoded_words_split_inside_a_character_are_joined() -> None:
    raw = "환불 요청".encode()
    value = "=?UTF-8?B?" + _b64(raw[:4]) + "?= =?UTF-8?B?" + _b64(raw[4:]) + "?="
    assert decode_header_value(value) == "환불 요청"


def test_unlabelled_8bit_guesses_korean_or_japanese() -> None:
    assert decode_bytes("배송 문의".encode("cp949"), None) == "배송 문의"
    assert decode_bytes("お問い合わせ".encode("cp932"), None) == "お問い合わせ"


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


# --- quoted history and signatures ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "주문 취소해주세요.\n\n2024년 3월 5일 (화) 오후 2:31, 고객지원 <\n"
            "support@brand.co.kr>님이 작성:\n> 안녕하세요",
            "주문 취소해주세요.",
        ),
        (
            "교환 원합니다.\n\n2024. 3. 5. 오후 2:31, 고객지원 <support@brand.co.kr> 작성:\n\n> 안녕하세요",
            "교환 원합니다.",
        ),
        (
            "환불 부탁드립니다.\n\n보낸 사람: 고객지원 <support@brand.co.kr>\n보낸 날짜: 2024년 3월 5일\n"
            "받는 사람: 홍길동\n제목: 주문\n\n본문",
            "환불 부탁드립니다.",
        ),
        ("확인했습니다\n\n--------- 원본 메일 ---------\n보낸사람: a\n받는사람: b\n", "확인했습니다"),
        (
            "배송 언제 되나요?\n\n-----Original Message-----\nFrom: a\nTo: b\nSubject: c\n",
            "배송 언제 되나요?",
        ),
        ("了解です。\n\n2024/03/05 14:31、サポート <support@brand.jp>のメール:\n\n> 本文\n", "了解です。"),
        ("山田です。\n\n山田太郎 さんは書きました:\n> 元の本文\n", "山田です。"),
        ("Thanks!\n\nOn Tue, Mar 5, 2024 at 2:31 PM Support <s@brand.jp> wrote:\n> hi\n", "Thanks!"),
        (
            "よろしくお願いします。\n\n差出人: サポート <support@brand.jp>\n送信日時: 2024年3月5日 14:31\n"
            "宛先: 山田\n件名: ご注文\n\n本文",
            "よろしくお願いします。",
        ),
        ("문의 드립니다\n\n내 iPhone에서 보냄", "문의 드립니다"),
        ("返品希望です\n\niPhoneから送信", "返品希望です"),
        ("Hello\n\n-- \nJohn Doe\nACME Inc.", "Hello"),
    ],
)
def test_quoted_history_and_signatures_are_trimmed(body: str, expected: str) -> None:
    assert trim_reply(body) == expected


def test_trimming_keeps_lists_and_a_mid_message_thank_you() -> None:
    body = "- 상품 A\n- 상품 B\n감사합니다. 그런데 배송비는 얼마인가요?"
    assert trim_reply(body) == body


def test_a_mail_that_is_only_a_quote_is_kept_whole() -> None:
    body = "-----Original Message-----\nFrom: a\nTo: b\nSubject: c\n\nforwarded text"
    assert trim_reply(body) != ""
