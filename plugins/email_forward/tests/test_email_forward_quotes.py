"""A mail the customer forwards by hand keeps the forwarded message in the chat text."""

from __future__ import annotations

import pytest
from bridgekit_email_forward.quotes import trim_reply

FORWARDED = """{intro}

{marker}
From: Shop <orders@shop.example>
Date: Mon, 4 Mar 2024 at 10:00
Subject: Your order #1234

Thanks for your order! Size: L
"""


@pytest.mark.parametrize(
    "marker",
    [
        "---------- Forwarded message ---------",
        "---------- 전달된 메시지 ----------",
        "---------- 転送されたメッセージ ----------",
        "Begin forwarded message:",
    ],
)
def test_a_hand_forwarded_mail_keeps_what_was_forwarded(marker: str) -> None:
    text = trim_reply(
        FORWARDED.format(intro="사이즈가 잘못 왔어요. 아래 주문 확인 메일 참고해주세요.", marker=marker)
    )
    assert text.startswith("사이즈가 잘못 왔어요.")
    assert "Thanks for your order! Size: L" in text


def test_an_ordinary_reply_is_still_trimmed() -> None:
    text = "Thanks, that works!\n\nOn Mon, 4 Mar 2024 at 10:00, Support <s@x.example> wrote:\n> Old text\n"
    assert trim_reply(text) == "Thanks, that works!"
