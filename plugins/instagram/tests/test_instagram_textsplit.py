"""Long replies split into <=1,000-byte Instagram messages without breaking characters."""

from __future__ import annotations

import unicodedata

import regex
from bridgekit_instagram.textsplit import split_text
from hypothesis import given, settings
from hypothesis import strategies as st

WS = regex.compile(r"\s+")
# Hangul, Latin, spaces/newlines, a combining accent, skin-tone emoji, a flag, conjoining jamo
PIECES = ["가", "힣", "a", " ", "\n", "é", "e\u0301", "👍🏽", "🇰🇷", "\u1100\u1161", "x"]


def graphemes(text: str) -> list[str]:
    return [g for g in regex.findall(r"\X", text) if not g.isspace()]


def test_short_text_is_one_piece_unchanged() -> None:
    assert split_text("안녕하세요 ", 1000) == ["안녕하세요 "]
    assert split_text("", 1000) == []
    assert split_text("   ", 1000) == []


def test_korean_splits_at_spaces_within_1000_bytes() -> None:
    words = ["주문하신", "상품은", "내일", "출고됩니다."] * 100
    text = " ".join(words)
    pieces = split_text(text, 1000)
    assert len(pieces) > 1
    for piece in pieces:
        assert len(piece.encode()) <= 1000
        assert piece.split(" ")[0] in words  # starts on a whole word
        assert piece.split(" ")[-1] in words  # ends on a whole word
    assert " ".join(pieces) == text


def test_line_breaks_are_preferred_cut_points() -> None:
    paragraph = "가나다라 " * 60  # 900 bytes per paragraph
    text = "\n".join([paragraph.strip()] * 3)
    pieces = split_text(text, 1000)
    assert pieces == [paragraph.strip()] * 3


def test_text_without_spaces_is_cut_between_syllables() -> None:
    text = "가" * 1000  # 3,000 bytes, no break opportunity
    pieces = split_text(text, 1000)
    assert [len(p.encode()) for p in pieces] == [999, 999, 999, 3]
    assert "".join(pieces) == text


def test_decomposed_hangul_and_emoji_sequences_are_never_broken() -> None:
    nfd = unicodedata.normalize("NFD", "한국어") * 200  # each syllable = 3 conjoining jamo
    family = "👨\u200d👩\u200d👧\u200d👦" * 60  # one grapheme of 25 bytes each
    for text in (nfd, family):
        pieces = split_text(text, 1000)
        assert all(len(p.encode()) <= 1000 for p in pieces)
        assert [g for p in pieces for g in graphemes(p)] == graphemes(text)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(PIECES), max_size=800).map("".join),
    st.integers(min_value=8, max_value=1000),
)
def test_any_text_splits_within_limit_losing_nothing_but_cut_whitespace(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    for piece in pieces:
        assert 0 < len(piece.encode("utf-8")) <= limit
        assert piece.strip()
    assert WS.sub("", "".join(pieces)) == WS.sub("", text)
    assert [g for p in pieces for g in graphemes(p)] == graphemes(text)
