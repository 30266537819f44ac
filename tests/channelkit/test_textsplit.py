"""Long replies split into messages that fit the provider's limit without breaking characters.

Instagram counts UTF-8 bytes (1,000), LINE and Naver TalkTalk UTF-16 code units (5,000 and
10,000), SMS gateways bytes of a legacy charset.
"""

from __future__ import annotations

import unicodedata

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from bridgekit.channelkit import (
    CHARACTERS,
    UTF8_BYTES,
    UTF16_UNITS,
    TextUnit,
    bytes_in,
    split_text,
    text_length,
)

WS = regex.compile(r"\s+")
# Hangul, Latin, spaces/newlines, a combining accent, skin-tone emoji, a flag, conjoining jamo
PIECES = ["가", "힣", "a", " ", "\n", "é", "e\u0301", "👍🏽", "🇰🇷", "\u1100\u1161", "x"]
UNITS = [UTF8_BYTES, UTF16_UNITS, CHARACTERS, bytes_in("euc-kr")]


def graphemes(text: str) -> list[str]:
    return [g for g in regex.findall(r"\X", text) if not g.isspace()]


def test_short_text_is_one_piece_unchanged() -> None:
    assert split_text("안녕하세요 ", 1000, UTF8_BYTES) == ["안녕하세요 "]
    assert split_text("", 1000, UTF8_BYTES) == []
    assert split_text("   ", 1000, UTF8_BYTES) == []


def test_units_count_as_the_providers_do() -> None:
    assert [text_length("한국어😀", unit) for unit in UNITS] == [13, 5, 4, 7]  # euc-kr: 😀 -> "?"


def test_korean_splits_at_spaces_within_1000_bytes() -> None:
    words = ["주문하신", "상품은", "내일", "출고됩니다."] * 100
    text = " ".join(words)
    pieces = split_text(text, 1000, UTF8_BYTES)
    assert len(pieces) > 1
    for piece in pieces:
        assert len(piece.encode()) <= 1000
        assert piece.split(" ")[0] in words  # starts on a whole word
        assert piece.split(" ")[-1] in words  # ends on a whole word
    assert " ".join(pieces) == text


def test_line_breaks_are_preferred_cut_points() -> None:
    paragraph = "가나다라 " * 60  # 900 bytes per paragraph
    text = "\n".join([paragraph.strip()] * 3)
    assert split_text(text, 1000, UTF8_BYTES) == [paragraph.strip()] * 3


def test_utf16_limit_breaks_after_a_line_and_counts_emoji_twice() -> None:
    text = ("line of text\n" * 500).strip()  # 6,499 units
    pieces = split_text(text, 5000, UTF16_UNITS)
    assert all(text_length(p, UTF16_UNITS) <= 5000 for p in pieces)
    assert "\n".join(pieces) == text  # cut at a line break, only the break itself dropped
    assert split_text("😀" * 3000, 5000, UTF16_UNITS) == ["😀" * 2500, "😀" * 500]


def test_text_without_spaces_is_cut_between_syllables() -> None:
    text = "가" * 1000  # 3,000 bytes, no break opportunity
    pieces = split_text(text, 1000, UTF8_BYTES)
    assert [len(p.encode()) for p in pieces] == [999, 999, 999, 3]
    assert "".join(pieces) == text


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_decomposed_hangul_and_emoji_sequences_are_never_broken(unit: TextUnit) -> None:
    nfd = unicodedata.normalize("NFD", "한국어") * 200  # each syllable = 3 conjoining jamo
    family = "👨\u200d👩\u200d👧\u200d👦" * 60  # one grapheme: 25 UTF-8 bytes, 11 UTF-16 units
    for text in (nfd, family):
        pieces = split_text(text, 100, unit)
        assert len(pieces) > 1
        assert all(text_length(p, unit) <= 100 for p in pieces)
        assert [g for p in pieces for g in graphemes(p)] == graphemes(text)


def test_a_limit_too_small_for_one_character_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        split_text("a\u0301\u0301\u0301😀", 2, UTF8_BYTES)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(PIECES), max_size=800).map("".join),
    st.integers(min_value=8, max_value=1000),
    st.sampled_from(UNITS),
)
def test_any_text_splits_within_limit_losing_nothing_but_cut_whitespace(
    text: str, limit: int, unit: TextUnit
) -> None:
    pieces = split_text(text, limit, unit)
    for piece in pieces:
        assert 0 < text_length(piece, unit) <= limit
        assert piece.strip()
    assert WS.sub("", "".join(pieces)) == WS.sub("", text)
    assert [g for p in pieces for g in graphemes(p)] == graphemes(text)


def test_the_unit_a_channel_declares_is_the_one_its_replies_are_checked_and_cut_in() -> None:
    """A Korean SMS channel counts CP949 bytes (a Hangul syllable is 2): the core refuses a
    reply over the limit in that unit, naming it, and the splitter cuts in the same unit."""
    from bridgekit.inbox.capabilities import CapabilityError, ChannelLimits
    from bridgekit.model import Capabilities, ChannelSpec
    from bridgekit.text_units import bytes_in

    cp949 = bytes_in("cp949")
    assert cp949 == bytes_in("cp949")  # a unit is a value: declared twice, it is the same unit
    spec = ChannelSpec("sms", "SMS", capabilities=Capabilities(max_text_length=90, text_unit=cp949))
    ChannelLimits(spec).check_text("가" * 45)
    with pytest.raises(CapabilityError, match="at most 90 bytes of CP949 per message; this text is 92"):
        ChannelLimits(spec).check_text("가" * 46)
    assert [len(piece) for piece in split_text("가" * 46, 90, cp949)] == [45, 1]
