"""The texting rules, apart from any provider: Korean SMS/LMS by CP949 bytes, GSM-7 and UCS-2
segments, E.164 numbers, advertising texts and the night-time rule.

Every function here is pure; the plugin turns :class:`TextRefused` into a permanent delivery
error (the message shows it as its ``delivery_error``), so nothing is ever cut short.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, time
from typing import Literal

import phonenumbers
from bridgekit.channelkit import AD_PREFIX, UTF16_UNITS, QuietHours
from bridgekit.channelkit import is_ad as is_ad  # the rule is shared; the plugin asks it here

#: Korean SMS: one message of at most 90 bytes of EUC-KR/CP949.
SMS_MAX_BYTES = 90
#: Korean LMS: at most 2,000 bytes of body and 40 bytes of subject.
LMS_MAX_BYTES = 2000
LMS_SUBJECT_MAX_BYTES = 40
KOREAN_CHARSET = "cp949"
#: Twilio concatenates at most 1,600 characters into one message.
INTERNATIONAL_MAX_CHARS = 1600

#: Advertising texts may not go out between 21:00 and 08:00 KST without night-time consent.
NIGHT = QuietHours(time(21, 0), time(8, 0))

#: What a customer texts to stop (Twilio's standard keywords and the Korean ones) or resume.
OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "수신거부", "거부", "수신 거부", "광고거부"}
)
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES", "수신동의"})


class TextRefused(ValueError):
    """The text or number cannot be sent as it is; the message says why, for a manager."""


# --- Korean SMS / LMS ----------------------------------------------------------------------

KoreanKind = Literal["SMS", "LMS"]


@dataclass(frozen=True, slots=True)
class KoreanText:
    kind: KoreanKind
    body_bytes: int
    subject: str | None


def unencodable(text: str, charset: str = KOREAN_CHARSET) -> list[str]:
    """The distinct characters of ``text`` that ``charset`` cannot encode, in order."""
    found: list[str] = []
    for char in text:
        if char in found:
            continue
        try:
            char.encode(charset)
        except UnicodeEncodeError:
            found.append(char)
    return found


def _describe(chars: list[str]) -> str:
    return ", ".join(f"'{c}' (U+{ord(c):04X})" for c in chars[:5]) + (" ..." if len(chars) > 5 else "")


def korean_text(text: str, subject: str | None = None) -> KoreanText:
    """SMS up to 90 CP949 bytes, else LMS up to 2,000 bytes (subject up to 40 bytes).

    Characters CP949 cannot encode (emoji, most non-Korean scripts) are refused: NHN Cloud
    sends EUC-KR and fails such texts ("지원하지 않는 이모티콘은 발송에 실패합니다"), and a
    silent ``?`` in a customer's text is worse than a clear error.
    """
    bad = unencodable(text + (subject or ""))
    if bad:
        raise TextRefused(
            f"Korean SMS cannot carry {_describe(bad)}: texts to Korean numbers are sent in "
            "EUC-KR/CP949; remove or replace these characters"
        )
    size = len(text.encode(KOREAN_CHARSET))
    if size > LMS_MAX_BYTES:
        raise TextRefused(
            f"the text is {size} bytes of EUC-KR/CP949; an LMS holds at most {LMS_MAX_BYTES} "
            "bytes: shorten it (it is never cut)"
        )
    if subject is not None and len(subject.encode(KOREAN_CHARSET)) > LMS_SUBJECT_MAX_BYTES:
        raise TextRefused(
            f"the subject is {len(subject.encode(KOREAN_CHARSET))} bytes of EUC-KR/CP949; an LMS "
            f"subject holds at most {LMS_SUBJECT_MAX_BYTES} bytes"
        )
    if size <= SMS_MAX_BYTES and not subject:
        return KoreanText("SMS", size, None)
    return KoreanText("LMS", size, subject or None)


# --- GSM-7 / UCS-2 segments ----------------------------------------------------------------

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The extension table: each character takes an escape septet too (counts 2).
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
GSM7_ALPHABET = GSM7_BASIC | GSM7_EXTENSION

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True, slots=True)
class Segments:
    encoding: Encoding
    count: int
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)


def _pack(sizes: list[int], single: int, multi: int) -> int:
    """Segments needed for items of ``sizes`` units: one if all fit in ``single``, else
    segments of ``multi`` units; an item (an escape pair, a surrogate pair) is never split."""
    total = sum(sizes)
    if total == 0:
        return 1
    if total <= single:
        return 1
    count, used = 1, 0
    for size in sizes:
        if used + size > multi:
            count += 1
            used = 0
        used += size
    return count


def segments(text: str) -> Segments:
    """How an international SMS of ``text`` is sent: GSM-7 (160 septets, 153 per segment of a
    long message, extension characters count 2) when every character is in the GSM-7
    alphabet, else UCS-2 (70 UTF-16 units, 67 per segment)."""
    if GSM7_ALPHABET.issuperset(text):
        extended = GSM7_EXTENSION.intersection(text)
        units = len(text) + (sum(text.count(c) for c in extended) if extended else 0)
        if units <= 160:  # one segment: no need to pack
            return Segments("GSM-7", 1, units)
        sizes = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return Segments("GSM-7", _pack(sizes, 160, 153), units)
    units = UTF16_UNITS.measure(text)
    if units <= 70:
        return Segments("UCS-2", 1, units)
    sizes = [UTF16_UNITS.measure(c) for c in text]  # an emoji is a surrogate pair: 2
    return Segments("UCS-2", _pack(sizes, 70, 67), units)


# --- phone numbers -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    region: str | None

    @property
    def korean(self) -> bool:
        return self.e164.startswith("+82")

    @property
    def national(self) -> str:
        """The number as dialled in its country, digits only (NHN's ``recipientNo``/``sendNo``)."""
        return _national(self.e164)


#: Parsed numbers kept: parsing one with ``phonenumbers`` cost more than sending the text.
_PARSED_NUMBERS = 4096


def phone(value: str, default_region: str = "KR") -> Phone:
    """``value`` in E.164 (``010-1234-5678`` → ``+821012345678``); :class:`TextRefused` when
    it is not a valid phone number."""
    return _phone(value, default_region)


@functools.lru_cache(maxsize=_PARSED_NUMBERS)
def _phone(value: str, default_region: str) -> Phone:
    # A pure function of its arguments, so its answers are kept (a refusal raises, and is not).
    try:
        parsed = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        raise TextRefused(f"{value!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise TextRefused(f"{value!r} is not a valid phone number")
    return Phone(
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        phonenumbers.region_code_for_number(parsed),
    )


@functools.lru_cache(maxsize=_PARSED_NUMBERS)
def _national(e164: str) -> str:
    parsed = phonenumbers.parse(e164)
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(c for c in formatted if c.isdigit())


# --- advertising ---------------------------------------------------------------------------


def ad_text(text: str, sender_name: str, opt_out_number: str) -> str:
    """An advertising text as Korean law wants it: ``(광고)`` and the sender's name first, a
    free opt-out number last (added when the author left them out)."""
    if not sender_name or not opt_out_number:
        raise TextRefused(
            "advertising texts need the settings 'ad_sender_name' and 'ad_opt_out_number' "
            "(a free 080 number): they must carry both"
        )
    body = text.lstrip()[len(AD_PREFIX) :].lstrip()
    if not body.startswith(sender_name):
        body = f"{sender_name} {body}"
    digits = "".join(c for c in opt_out_number if c.isdigit())
    if digits not in "".join(c for c in body if c.isdigit()):
        body = f"{body}\n무료수신거부 {opt_out_number}"
    return f"{AD_PREFIX}{body}"


def at_night(moment: datetime) -> bool:
    """Whether ``moment`` is between 21:00 and 08:00 in Korea."""
    return NIGHT.covers(moment)


def keyword(text: str) -> str:
    return " ".join(text.strip().upper().split())
