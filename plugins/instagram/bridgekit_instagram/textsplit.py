"""Split text into pieces that each fit Instagram's 1,000-byte limit.

Meta counts UTF-8 *bytes*, so 1,000 bytes are only ~333 Hangul syllables. A long reply is
sent as several messages rather than refused: cut preferably at a line break, else at a
space, and never inside a grapheme cluster (a Hangul syllable spelled as conjoining jamo,
an emoji with skin tone or ZWJ sequence, a letter with combining marks), so every piece
is valid UTF-8 and renders as the author wrote it. Grapheme clusters come from the
``regex`` module's ``\\X`` (Unicode UAX #29).
"""

from __future__ import annotations

import regex

_GRAPHEME = regex.compile(r"\X")


def _nbytes(s: str) -> int:
    return len(s.encode("utf-8"))


def _hard_split(cluster: str, limit: int) -> list[str]:
    """A single cluster bigger than ``limit`` (pathological combining-mark piles): cut it at
    code point boundaries so each piece is still valid UTF-8."""
    pieces: list[str] = []
    current = ""
    for char in cluster:
        if current and _nbytes(current + char) > limit:
            pieces.append(current)
            current = ""
        current += char
    if current:
        pieces.append(current)
    return pieces


def split_text(text: str, limit: int = 1000) -> list[str]:
    """Return ``text`` as a list of non-empty pieces of at most ``limit`` UTF-8 bytes.

    Whitespace at a cut is dropped (it would otherwise start or end a message); nothing
    else is lost or reordered. Text that fits is returned unchanged as one piece.
    """
    if limit < 4:
        raise ValueError("limit must leave room for one UTF-8 character (4 bytes)")
    if _nbytes(text) <= limit:
        return [text] if text.strip() else []

    pieces: list[str] = []
    current: list[str] = []  # grapheme clusters of the piece being built
    size = 0

    def flush(clusters: list[str]) -> None:
        piece = "".join(clusters).rstrip()
        if piece.strip():
            pieces.append(piece)

    for cluster in _GRAPHEME.findall(text):
        cbytes = _nbytes(cluster)
        if cbytes > limit:
            flush(current)
            current, size = [], 0
            pieces.extend(_hard_split(cluster, limit))
            continue
        # cut until the new cluster fits: what is carried over after a cut at a space may
        # itself still be too long together with the new cluster
        while current and size + cbytes > limit:
            cut = _cut_index(current, limit)
            flush(current[:cut])
            current = current[cut:]
            # drop the whitespace we cut at so the next piece does not start with it
            while current and current[0].isspace():
                current.pop(0)
            size = sum(_nbytes(c) for c in current)
        current.append(cluster)
        size += cbytes
    flush(current)
    return pieces


def _cut_index(clusters: list[str], limit: int) -> int:
    """Where to end the current piece: after the last line break in its second half, else
    after the last space in its last three quarters, else right here (a grapheme boundary).
    Cutting too early would leave a run of tiny messages, hence the thresholds."""
    offsets: list[int] = []
    total = 0
    for cluster in clusters:
        total += _nbytes(cluster)
        offsets.append(total)
    for predicate, minimum in ((lambda c: "\n" in c, limit // 2), (str.isspace, limit // 4)):
        for index in range(len(clusters) - 1, 0, -1):
            if predicate(clusters[index]) and offsets[index - 1] >= minimum:
                return index
    return len(clusters)
