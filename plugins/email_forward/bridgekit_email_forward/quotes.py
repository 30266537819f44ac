"""Trim quoted history and signatures from a mail's text for the chat.

Built on ``mail-parser-reply`` (maintained, multi-language reply splitting). Its Korean and
Japanese tables miss the headers the mailers our customers use actually write, so a
subclass adds them:

* Gmail (ko): ``2024년 3월 5일 (화) 오후 2:31, 고객지원 <a@b>님이 작성:`` (often wrapped)
* Apple Mail (ko): ``2024. 3. 5. 오후 2:31, 홍길동 <a@b> 작성:``
* Daum / Naver: ``--------- 원본 메일 ---------``, ``-----Original Message-----``
* Outlook (ko): ``보낸 사람:`` / ``받는 사람:`` blocks (the library's own table)
* Gmail (ja): ``2024年3月5日(火) 14:31 サポート <a@b>:``, Apple Mail (ja) ``…のメール:``,
  Thunderbird (ja) ``… さんは書きました:``, Outlook (ja) ``差出人:`` / ``送信日時:`` blocks,
  ``-----元のメッセージ-----``

Signatures are trimmed only on unambiguous markers (the RFC 3676 ``-- `` line, "sent from my
phone" lines): the library's wider rules cut a Korean mail at its first ``감사합니다.``,
which customers write mid-message. The chat shows the trimmed text; the stored raw mail and
the original view keep everything.
"""

from __future__ import annotations

import re
from re import Pattern
from typing import Any

from mailparser_reply.parser import EmailMessage as _LibraryMessage

_Q = r"(?:> ?)*"

_EXTRA_HEADERS = [
    # Gmail ko; the date line wraps before the address when it is long.
    rf"^{_Q}\d{{4}}년 \d{{1,2}}월 \d{{1,2}}일[^\n]*(?:\n{_Q}[^\n]*)?"
    r"님이 작성(?:하였습니다|했습니다)?:[ \t]*$",
    # Apple Mail ko
    rf"^{_Q}\d{{4}}\. ?\d{{1,2}}\. ?\d{{1,2}}\.[^\n]*(?:\n{_Q}[^\n]*)? 작성:[ \t]*$",
    # Daum / Hanmail / Naver
    rf"^{_Q}-{{3,}} ?원본 (?:메일|메시지) ?-{{3,}}[ \t]*$",
    # Gmail ja (lenient about the weekday and wrapping)
    rf"^{_Q}\d{{4}}年\d{{1,2}}月\d{{1,2}}日[^\n]*(?:\n{_Q}[^\n]*)?<[^<>\n]+>:[ \t]*$",
    # Apple Mail ja: 2024/03/05 14:31、山田太郎 <taro@example.jp>のメール:
    rf"^{_Q}\d{{4}}/\d{{1,2}}/\d{{1,2}}[^\n]*(?:\n{_Q}[^\n]*)?のメール:[ \t]*$",
    # Thunderbird ja / generic "X wrote:" on a line of its own followed by a quote
    rf"^{_Q}[^\n]{{1,200}}(?:さんは書きました|wrote|が書きました):[ \t]*\n(?=>)",
    # Outlook ja header block
    rf"((?:(?:^|\n){_Q})[* ]*(?:差出人|送信日時|宛先|件名|CC|Cc|日付):[ *]*(?:\s{{,2}}).*){{2,}}"
    r"(?:\n.*){,1}",
    rf"^{_Q}-{{3,}} ?元のメッセージ ?-{{3,}}[ \t]*$",
    # Outlook (en/ko web) underscore separator before a header block
    rf"^{_Q}_{{20,}}[ \t]*$",
]

_SIGNATURE = (
    rf"(\s*^{_Q}--[ \t]*$(?:.|\s)*"
    rf"|\s*^{_Q}(?:Sent from my [^\n]{{1,40}}|Get Outlook for [^\n]{{1,40}}"
    r"|Outlook for [^\n]{1,20} 받기"
    r"|(?:내 )?[^\n]{1,30}에서 보냄|[^\n]{1,30}에서 보냈습니다\.?"
    rf"|[^\n]{{1,30}}から送信)[ \t]*$(?:.|\s)*)"
)


# Every header pattern (the library's tables for ko/ja/en and ours above) contains one of
# these; a text without any cannot hold a header. The full pattern, tens of alternatives
# tried at every position, cost more than the rest of a mail's parsing, and most mails
# (first messages) have no header at all. tests/test_email_forward_quotes.py keeps this
# list in step with the patterns.
HEADER_HINT = re.compile(
    r"작성|wrote|書きました|のメール|>:|original message|원본|元のメッセージ|_{20}"
    r"|^[>* ]*(?:보낸\s?사람|보낸\s?날짜|받는\s?사람|제목|참조|From|Sent|To|Subject|Date|Cc|Organization"
    r"|差出人|送信日時|宛先|件名|日付):",
    re.MULTILINE | re.IGNORECASE,
)
_NEVER = re.compile(r"(?!)")
_SIGNATURE_REGEX = re.compile(_SIGNATURE, flags=re.MULTILINE | re.IGNORECASE)
# Compiled once per language set, not per mail (building them took a tenth of the time).
_HEADER_REGEXES: dict[tuple[str, ...], Pattern[str]] = {}
_DISCLAIMER_REGEXES: dict[tuple[str, ...], Pattern[str]] = {}


class _Message(_LibraryMessage):  # type: ignore[misc]
    """mail-parser-reply's message with the Korean/Japanese headers above added."""

    @property
    def full_header_regex(self) -> Pattern[str]:
        key = tuple(self.languages)
        regex = _HEADER_REGEXES.get(key)
        if regex is None:
            base: Pattern[str] = super().HEADER_REGEX
            extra = "|".join(f"({p})" for p in _EXTRA_HEADERS)
            regex = re.compile(f"{base.pattern}|{extra}", flags=re.MULTILINE | re.IGNORECASE)
            _HEADER_REGEXES[key] = regex
        return regex

    @property
    def HEADER_REGEX(self) -> Pattern[str]:
        return self.full_header_regex if HEADER_HINT.search(self.text) else _NEVER

    @property
    def SIGNATURE_REGEX(self) -> Pattern[str]:
        return _SIGNATURE_REGEX

    @property
    def DISCLAIMERS_REGEX(self) -> Pattern[str]:
        key = tuple(self.languages)
        regex = _DISCLAIMER_REGEXES.get(key)
        if regex is None:
            regex = _DISCLAIMER_REGEXES[key] = super().DISCLAIMERS_REGEX
        return regex


def _strip_trailing_quote(text: str) -> str:
    """Drop a bottom block of ``>``-quoted lines that no header introduced."""
    lines = text.rstrip().split("\n")
    end = len(lines)
    while end and (lines[end - 1].startswith(">") or not lines[end - 1].strip()):
        end -= 1
    if end < len(lines) and any(line.startswith(">") for line in lines[end:]):
        return "\n".join(lines[:end]).rstrip()
    return text


# Separators mail clients put above a forwarded message (Gmail in English, Korean, Japanese;
# Apple Mail).
FORWARD_MARKER = re.compile(
    r"^(?:-{5,}\s*(?:Forwarded message|전달된 메시지|転送されたメッセージ)\s*-{5,}"
    r"|Begin forwarded message:)\s*$",
    re.MULTILINE | re.IGNORECASE,
)
QUOTED_LINE = re.compile(r"^\s*>", re.MULTILINE)


def trim_reply(text: str) -> str:
    """The customer's new text: quoted history and signature removed.

    Falls back to the whole text when trimming would leave nothing (a mail that is all
    quote, such as a bare forward).
    """
    if not text.strip():
        return ""
    marker = FORWARD_MARKER.search(text)
    if marker is not None and not QUOTED_LINE.search(text[: marker.start()]):
        # A forward the customer sent by hand: the forwarded mail is what they want us to
        # read, not history to trim (trimming cut everything after the separator).
        return _normalise(text)
    message: Any = _Message(text=text, languages=["ko", "ja"], keep_hyphen_lists=True)
    message.read()
    replies = message.replies
    latest = replies[0].body if replies else ""
    latest = _strip_trailing_quote(latest)
    if not latest.strip():
        return _normalise(text)
    return _normalise(latest)


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()
