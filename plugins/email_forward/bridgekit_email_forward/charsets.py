"""Charset handling for the mail real clients send, not the mail RFCs describe.

Python's codecs follow the standards' tables, but Korean and Japanese mailers label their
text with names that mean something larger:

* Outlook labels Korean ``ks_c_5601-1987``; Python maps that to strict EUC-KR, yet Outlook
  writes code page 949 (UHC), which has 8,822 more Hangul syllables (``똠``, ``뷁``...).
  Mail labelled ``EUC-KR`` is very often CP949 too. Both are decoded as ``cp949``.
* ``Shift_JIS`` mail from Windows contains NEC and IBM extensions (``①``, ``㈱``, ``髙``):
  decoded as ``cp932``.
* ``ISO-2022-JP`` from Windows is really CP50220/50221: the same escape sequences carrying
  those extensions and half-width katakana. :func:`decode_iso2022jp` transcodes each JIS pair
  to its Shift_JIS position and decodes it as ``cp932``.
* ``ISO-8859-1`` is decoded as ``cp1252`` (what every browser does); ``GB2312`` as
  ``gb18030``; ``Big5`` as ``big5hkscs``.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
from collections.abc import Iterable
from email.header import Header, decode_header

# Labels (lower-case, with ``_`` and ``-`` both accepted) -> the Python codec to use.
_ALIASES: dict[str, str] = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601_1987": "cp949",
    "ks_c_5601": "cp949",
    "ks_c_5601-1989": "cp949",
    "ksc5601": "cp949",
    "ksc_5601": "cp949",
    "ks_x_1001": "cp949",
    "korean": "cp949",
    "csksc56011987": "cp949",
    "euc-kr": "cp949",
    "euc_kr": "cp949",
    "euckr": "cp949",
    "x-euc-kr": "cp949",
    "windows-949": "cp949",
    "x-windows-949": "cp949",
    "uhc": "cp949",
    "cp949": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "s-jis": "cp932",
    "ms_kanji": "cp932",
    "csshiftjis": "cp932",
    "windows-31j": "cp932",
    "cswindows31j": "cp932",
    "x-ms-cp932": "cp932",
    "cp932": "cp932",
    "ms932": "cp932",
    "iso-2022-jp": "iso-2022-jp-ms",
    "iso_2022_jp": "iso-2022-jp-ms",
    "csiso2022jp": "iso-2022-jp-ms",
    "iso-2022-jp-ms": "iso-2022-jp-ms",
    "cp50220": "iso-2022-jp-ms",
    "cp50221": "iso-2022-jp-ms",
    "cp50222": "iso-2022-jp-ms",
    "iso-2022-jp-1": "iso-2022-jp-ms",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "ansi_x3.4-1968": "utf-8",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "big5": "big5hkscs",
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
}

# Labels that carry no information: guess instead.
_UNKNOWN = {"", "unknown-8bit", "x-unknown", "unknown", "default", "x-user-defined", "none"}

ISO2022JP_MS = "iso-2022-jp-ms"


def normalise_charset(label: str | None) -> str | None:
    """The codec to decode text labelled ``label`` with, or ``None`` when unknown.

    ``"iso-2022-jp-ms"`` is returned for every ISO-2022-JP label; it is not a Python codec,
    :func:`decode_bytes` handles it with :func:`decode_iso2022jp`.
    """
    if label is None:
        return None
    key = label.strip().strip('"').lower()
    if key in _UNKNOWN:
        return None
    if key in _ALIASES:
        return _ALIASES[key]
    if key.replace("_", "-") in _ALIASES:
        return _ALIASES[key.replace("_", "-")]
    try:
        return codecs.lookup(key).name
    except LookupError:
        return None


_ESC = 0x1B


def _jis_to_sjis(j1: int, j2: int) -> bytes:
    """The Shift_JIS (cp932) bytes of a JIS X 0208 row/cell pair (both 0x21..0x7E)."""
    s1 = ((j1 - 0x21) >> 1) + 0x81
    if s1 > 0x9F:
        s1 += 0x40
    s2 = j2 + 0x1F + (1 if j2 >= 0x60 else 0) if j1 & 1 else j2 + 0x7E
    return bytes((s1, s2))


def decode_iso2022jp(data: bytes, errors: str = "replace") -> str:
    """Decode ISO-2022-JP the way Windows writes it (CP50220/50221/50222).

    Every double-byte segment is transcoded to Shift_JIS and decoded as ``cp932``, so the NEC
    row 13 (``①``, ``㈱``) and IBM extension rows decode. Half-width katakana arrive either
    as ``ESC ( I`` segments or between SO/SI; both are supported.
    """
    out: list[str] = []
    sjis = bytearray()
    mode = "ascii"  # ascii | jis0208 | kana
    shifted = False
    i = 0
    n = len(data)

    def flush() -> None:
        if sjis:
            out.append(sjis.decode("cp932", errors))
            sjis.clear()

    while i < n:
        b = data[i]
        if b == _ESC and i + 2 < n:
            seq = data[i + 1 : i + 3]
            if seq in (b"$@", b"$B"):
                mode, i = "jis0208", i + 3
                continue
            if seq == b"$(" and i + 3 < n and data[i + 3 : i + 4] in (b"D", b"Q", b"O"):
                # JIS X 0212 / 0213: no Windows code page has them; keep going as 0208.
                mode, i = "jis0208", i + 4
                continue
            if seq in (b"(B", b"(J", b"(H"):
                mode, i = "ascii", i + 3
                continue
            if seq == b"(I":
                mode, i = "kana", i + 3
                continue
        if b == 0x0E:  # SO: half-width katakana (CP50221)
            shifted, i = True, i + 1
            continue
        if b == 0x0F:  # SI
            shifted, i = False, i + 1
            continue
        if b in (0x0A, 0x0D):
            # Line ends reset the mode in broken mailers; RFC 1468 requires ASCII at EOL.
            sjis.append(b)
            mode = "ascii" if mode == "jis0208" else mode
            i += 1
            continue
        if (shifted or mode == "kana") and 0x21 <= b <= 0x5F:
            sjis.append(b + 0x80)
            i += 1
            continue
        if mode == "jis0208" and 0x21 <= b <= 0x7E and i + 1 < n and 0x21 <= data[i + 1] <= 0x7E:
            sjis += _jis_to_sjis(b, data[i + 1])
            i += 2
            continue
        if b < 0x80:
            sjis.append(b)
        else:
            # 8-bit bytes have no place in ISO-2022-JP: a mislabelled Shift_JIS body.
            sjis.append(b)
        i += 1
    flush()
    return "".join(out)


_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_KANA = re.compile(r"[\u3040-\u30ff]")  # hiragana and full-width katakana only


def _try(data: bytes, codec: str) -> str | None:
    try:
        if codec == ISO2022JP_MS:
            if b"\x1b" not in data and any(c >= 0x80 for c in data):
                return None
            try:
                return data.decode("iso2022_jp")
            except UnicodeDecodeError:
                return decode_iso2022jp(data, "strict")
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _hangul_score(data: bytes, text: str) -> int:
    # Korean prose sits in KS X 1001 (valid EUC-KR); Shift_JIS bytes read as CP949 land in
    # the UHC extension area instead, so those guesses count for little.
    count = len(_HANGUL.findall(text))
    if _try(data, "euc_kr") is None:
        return count // 4
    return count


def _best_cjk_guess(data: bytes) -> str | None:
    """Pick cp949 or cp932 for unlabelled 8-bit text by which one yields its own script."""
    candidates = []
    for codec in ("cp949", "cp932"):
        text = _try(data, codec)
        if text is not None:
            score = _hangul_score(data, text) if codec == "cp949" else len(_KANA.findall(text))
            candidates.append((score, codec, text))
    if not candidates:
        return None
    candidates.sort(key=lambda c: c[0], reverse=True)
    return candidates[0][2]


def decode_bytes(data: bytes, label: str | None, hints: Iterable[str] = ()) -> str:
    """Decode ``data`` labelled ``label`` as well as real mail allows.

    Order: the (normalised) declared charset strictly; UTF-8; charsets seen elsewhere in the
    same mail (``hints``); a Korean/Japanese guess; finally the declared charset (or UTF-8)
    with replacement characters, so decoding never fails.
    """
    declared = normalise_charset(label)
    tried: list[str] = []
    order = [declared] if declared else []
    if b"\x1b$" in data:
        order.append(ISO2022JP_MS)
    order.append("utf-8")
    order.extend(c for c in (normalise_charset(h) for h in hints) if c)
    for codec in order:
        if codec in tried:
            continue
        tried.append(codec)
        text = _try(data, codec)
        if text is not None:
            return text
    guess = _best_cjk_guess(data)
    if guess is not None:
        return guess
    final = declared or "utf-8"
    if final == ISO2022JP_MS:
        return decode_iso2022jp(data)
    return data.decode(final, "replace")


# RFC 2047 encoded-word; the charset may carry an RFC 2231 language suffix (``utf-8*ko``).
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"^[ \t\r\n]*$")


def _word_bytes(encoding: str, text: str) -> bytes:
    if encoding.lower() == "b":
        return lenient_b64decode(text)
    return quopri.decodestring(text.replace("_", " ").encode("ascii", "replace"), header=True)


_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")


def lenient_b64decode(text: str) -> bytes:
    """Decode base64 as far as it goes; never raises. Stray characters are skipped, missing
    padding is added, and a dangling last character (which cannot carry a byte) is dropped."""
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded)
    except binascii.Error:
        clean = _NOT_BASE64.sub("", text)
        clean = clean[: len(clean) - len(clean) % 4 if len(clean) % 4 == 1 else len(clean)]
        return base64.b64decode(clean + "=" * (-len(clean) % 4))


def decode_damaged(data: bytes, label: str | None, hints: Iterable[str] = ()) -> str:
    """Decode bytes cut out of a damaged part: the declared charset (else one seen in the same
    mail, else UTF-8) with replacement characters. Never a guess: guessing on fragments turns
    them into the wrong script."""
    codec = normalise_charset(label) or next((c for c in (normalise_charset(h) for h in hints) if c), "utf-8")
    if codec == ISO2022JP_MS:
        return decode_iso2022jp(data)
    try:
        return data.decode(codec, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def surrogate_bytes(value: object) -> bytes | None:
    """The raw bytes behind a header with 8-bit bytes in it, or ``None`` if it is ASCII.

    The ``email`` package (compat32) hands such headers out either as a ``str`` with
    surrogate escapes or as a ``Header`` whose chunks are labelled ``unknown-8bit``.
    """
    if isinstance(value, Header):
        chunks = decode_header(value)
        if not any(str(cs) == "unknown-8bit" for _, cs in chunks):
            return None
        return b"".join(c if isinstance(c, bytes) else c.encode("ascii", "replace") for c, _ in chunks)
    text = str(value)
    if text.isascii() or not any("\udc80" <= ch <= "\udcff" for ch in text):  # isascii: C speed
        return None
    return text.encode("utf-8", "surrogateescape")


def decode_header_value(value: object, hints: Iterable[str] = ()) -> str:
    """Decode a header value: raw 8-bit bytes and RFC 2047 encoded words, in any charset.

    Adjacent encoded words in one charset are joined *before* decoding: Korean and Japanese
    mailers split multi-byte characters across words. Encoded words inside quoted strings
    are decoded too (Outlook puts them in quoted ``filename`` parameters).
    """
    if value is None:
        return ""
    raw = surrogate_bytes(value)
    text = str(value)
    hint_list = list(hints)
    if raw is not None:
        text = decode_bytes(raw, None, hint_list)
    if "=?" not in text:
        return _unfold(text)

    pieces: list[tuple[str, bytes | str]] = []  # (charset or "", bytes) / ("", text)
    pos = 0
    for match in _ENCODED_WORD.finditer(text):
        between = text[pos : match.start()]
        if between and not (pieces and pieces[-1][0] and _BETWEEN_WORDS.match(between)):
            pieces.append(("", between))
        charset = match.group(1).split("*", 1)[0]
        data = _word_bytes(match.group(2), match.group(3))
        if pieces and pieces[-1][0] and pieces[-1][0].lower() == charset.lower():
            prev = pieces[-1][1]
            assert isinstance(prev, bytes)
            pieces[-1] = (pieces[-1][0], prev + data)
        else:
            pieces.append((charset, data))
        pos = match.end()
    if pos < len(text):
        pieces.append(("", text[pos:]))
    out = []
    for charset, chunk in pieces:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset, hint_list))
        else:
            out.append(chunk)
    return _unfold("".join(out))


_FOLD = re.compile(r"\r?\n[ \t]+")


def _unfold(text: str) -> str:
    if "\n" not in text and "\r" not in text:  # most header values are one line
        return text.strip()
    return _FOLD.sub(" ", text).replace("\r", "").replace("\n", " ").strip()
