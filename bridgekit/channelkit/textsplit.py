"""Split a long reply into messages that each fit a provider's text limit.

Providers count their limit in different units: LINE and Naver TalkTalk in UTF-16 code units
(their servers are Java; an emoji outside the BMP counts twice), Instagram in UTF-8 bytes,
SMS gateways in bytes of a legacy charset, others in characters. :func:`split_text` takes
the unit as a :class:`TextUnit` (:data:`UTF16_UNITS`, :data:`CHARACTERS`, :func:`bytes_in`).

A long reply is sent as several messages rather than refused: cut preferably at a line
break, else at a space, and never inside a grapheme cluster (a Hangul syllable spelled as
conjoining jamo, an emoji with skin tone or ZWJ sequence, a letter with combining marks), so
every piece renders as the author wrote it. Grapheme clusters come from the ``regex``
module's ``\\X`` (Unicode UAX #29).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import regex

_GRAPHEME = regex.compile(r"\X")


@dataclass(frozen=True, slots=True)
class TextUnit:
    """What a provider counts its text limit in: ``measure(text)`` is the text's length."""

    name: str
    measure: Callable[[str], int]


def _utf16_units(text: str) -> int:
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


UTF16_UNITS = TextUnit("UTF-16 code units", _utf16_units)
"""Java/JavaScript string length: LINE, Naver TalkTalk."""

CHARACTERS = TextUnit("characters", len)
"""Unicode code points."""


def bytes_in(charset: str) -> TextUnit:
    """Bytes of ``text`` encoded in ``charset`` (``"utf-8"`` for Instagram, ``"euc-kr"``...).

    Text the charset cannot encode measures as if each such character were replaced by ``?``
    (what a gateway does); refuse such text before splitting if that is not acceptable.
    """
    return TextUnit(f"{charset} bytes", lambda text: len(text.encode(charset, "replace")))


UTF8_BYTES = bytes_in("utf-8")
"""UTF-8 bytes: Instagram and the Meta platform."""


def text_length(text: str, unit: TextUnit) -> int:
    """``text``'s length as the provider counts it."""
    return unit.measure(text)


def split_text(text: str, limit: int, unit: TextUnit = CHARACTERS) -> list[str]:
    """Return ``text`` as non-empty pieces of at most ``limit`` ``unit`` each.

    Whitespace at a cut is dropped (it would otherwise start or end a message); nothing else
    is lost or reordered. Text that fits is returned unchanged as one piece; text that is
    empty or only whitespace gives no pieces. Raises ``ValueError`` when a single code point
    is longer than ``limit``.
    """
    measure = unit.measure
    if measure(text) <= limit:
        return [text] if text.strip() else []

    pieces: list[str] = []
    current: list[str] = []  # grapheme clusters of the piece being built
    size = 0

    def flush(clusters: list[str]) -> None:
        piece = "".join(clusters).rstrip()
        if piece.strip():
            pieces.append(piece)

    for cluster in _GRAPHEME.findall(text):
        length = measure(cluster)
        if length > limit:
            flush(current)
            current, size = [], 0
            pieces.extend(_hard_split(cluster, limit, unit))
            continue
        # cut until the new cluster fits: what is carried over after a cut at a space may
        # itself still be too long together with the new cluster
        while current and size + length > limit:
            cut = _cut_index(current, limit, measure)
            flush(current[:cut])
            current = current[cut:]
            # drop the whitespace we cut at so the next piece does not start with it
            while current and current[0].isspace():
                current.pop(0)
            size = sum(measure(c) for c in current)
        current.append(cluster)
        size += length
    flush(current)
    return pieces


def _hard_split(cluster: str, limit: int, unit: TextUnit) -> list[str]:
    """A single cluster longer than ``limit`` (pathological piles of combining marks): cut
    it between code points, the smallest unit every encoding keeps whole."""
    pieces: list[str] = []
    current = ""
    for char in cluster:
        if unit.measure(char) > limit:
            raise ValueError(f"a limit of {limit} {unit.name} cannot hold {char!r}")
        if current and unit.measure(current + char) > limit:
            pieces.append(current)
            current = ""
        current += char
    if current:
        pieces.append(current)
    return pieces


def _cut_index(clusters: list[str], limit: int, measure: Callable[[str], int]) -> int:
    """Where to end the current piece: after the last line break in its second half, else
    after the last space in its last three quarters, else right here (a grapheme boundary).
    Cutting too early would leave a run of tiny messages, hence the thresholds."""
    offsets: list[int] = []
    total = 0
    for cluster in clusters:
        total += measure(cluster)
        offsets.append(total)
    for predicate, minimum in ((lambda c: "\n" in c, limit // 2), (str.isspace, limit // 4)):
        for index in range(len(clusters) - 1, 0, -1):
            if predicate(clusters[index]) and offsets[index - 1] >= minimum:
                return index
    return len(clusters)
