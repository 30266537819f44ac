"""Quote trimming skips the costly header scan only for mails that cannot hold a header.

``HEADER_HINT`` must match every reply header any pattern recognises: one sample per pattern
alternative pins that (a new alternative in mail-parser-reply's tables or ours fails the
count), and a property test checks that trimming with and without the hint agree.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from bridgekit_email_forward import quotes
from bridgekit_email_forward.quotes import HEADER_HINT, trim_reply
from hypothesis import given, settings
from hypothesis import strategies as st

# One header per alternative of the full pattern, in its order: the library's ko, ja, en
# "wrote" lines, its ko, ja, en Outlook blocks, its generic separator, then ours.
KOREAN_WROTE = "2024년 3월 5일 (화) 오후 2:31, 고객지원 <help@shop.example>님이 작성하였습니다:"
SAMPLES: list[str | None] = [
    None,  # the library's Korean "wrote" line: its lookahead excludes every line it matches
    "2024年3月5日(火) 14:31 サポート <help@shop.example>:",
    "On Tue, Mar 5, 2024 at 2:31 PM Support <help@shop.example> wrote:",
    "보낸 사람: 고객지원 <help@shop.example>\n받는 사람: 홍길동",
    "From: Support <help@shop.example>\nSent: Tuesday, March 5, 2024 2:31 PM",
    "From: Support\nOrganization: Shop",
    "-----Original Message-----",
    "2024년 3월 5일 (화) 오후 2:31, 고객지원 <help@shop.example>님이 작성:",
    "2024. 3. 5. 오후 2:31, 홍길동 <hong@example.kr> 작성:",
    "--------- 원본 메일 ---------",
    "2024年3月5日 14:31 サポート <help@shop.example>:",
    "2024/03/05 14:31、山田太郎 <taro@example.jp>のメール:",
    "山田太郎 さんは書きました:\n> 引用です",
    "差出人: サポート\n送信日時: 2024年3月5日 14:31",
    "-----元のメッセージ-----",
    "_" * 24,
]


def _alternatives(pattern: str) -> list[str]:
    """Top-level ``|`` branches of a regular expression."""
    parts, current, depth, escaped, in_class = [], "", 0, False, False
    for ch in pattern:
        if escaped:
            current, escaped = current + ch, False
            continue
        if ch == "\\":
            current, escaped = current + ch, True
            continue
        if in_class:
            current += ch
            in_class = ch != "]"
            continue
        if ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += ch
    return [*parts, current]


def _full_pattern() -> re.Pattern[str]:
    message: Any = quotes._Message(text="", languages=["ko", "ja"], keep_hyphen_lists=True)
    pattern: re.Pattern[str] = message.full_header_regex
    return pattern


def test_every_header_pattern_has_a_sample_the_hint_matches() -> None:
    branches = _alternatives(_full_pattern().pattern)
    assert len(branches) == len(SAMPLES), "a header pattern was added: give it a sample and check HEADER_HINT"
    for branch, sample in zip(branches, SAMPLES, strict=True):
        if sample is None:  # matches nothing today; if that is fixed, HEADER_HINT has "작성"
            assert not re.search(branch, KOREAN_WROTE, re.MULTILINE | re.IGNORECASE), branch
            assert HEADER_HINT.search(KOREAN_WROTE)
            continue
        assert re.search(branch, sample, re.MULTILINE | re.IGNORECASE), (branch, sample)
        assert HEADER_HINT.search(sample), sample


def test_a_first_message_is_kept_whole_without_the_scan() -> None:
    text = "Hello,\nMy order #1234 has not arrived yet. Could you check on it?\n\nThanks,\nAnn"
    assert HEADER_HINT.search(text) is None
    assert trim_reply(text) == text


LINES = st.sampled_from(
    [
        *(sample for sample in SAMPLES if sample is not None),
        KOREAN_WROTE,
        "안녕하세요, 주문한 상품이 아직 도착하지 않았어요.",
        "주문번호: 2024-1234",
        "お世話になっております。",
        "Thanks, Ann",
        "> quoted line",
        "> 인용된 줄",
        "",
        "-- ",
        "Sent from my iPhone",
        "https://shop.example/orders/1234",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(LINES, min_size=1, max_size=8), st.text(max_size=40))
def test_trimming_with_the_hint_equals_trimming_without(lines: list[str], noise: str) -> None:
    text = "\n".join([*lines, noise])
    hinted = trim_reply(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(quotes, "HEADER_HINT", re.compile(""))  # always scan
        assert trim_reply(text) == hinted
