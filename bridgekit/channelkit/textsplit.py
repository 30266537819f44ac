"""Split a long reply into messages that each fit a provider's text limit.

Providers count their limit in different units; :func:`split_text` takes the unit as a
:class:`bridgekit.text_units.TextUnit` (``UTF16_UNITS``, ``CHARACTERS``, ``bytes_in(charset)``),
the same one the channel declares in ``Capabilities.text_unit``.

A long reply is sent as several messages rather than refused: cut preferably at a line
break, else at a space, and never inside a grapheme cluster (a Hangul syllable spelled as
conjoining jamo, an emoji with skin tone or ZWJ sequence, a letter with combining marks), so
every piece renders as the author wrote it. Grapheme clusters come from the ``regex``
module's ``\\X`` (Unicode UAX #29).
"""

from __future__ import annotations

from collections.abc import Callable

import regex

from bridgekit.text_units import CHARACTERS, TextUnit

_GRAPHEME = regex.compile(r"\X")


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
