"""One plugin object per inbox slot, for the ordering tests (names chosen to sort wrongly)."""

from __future__ import annotations

from bridgekit.model import InboxSlot
from tests.support.testchannel import TestChannelPlugin

line = TestChannelPlugin("a-line", InboxSlot.LINE)
naver = TestChannelPlugin("b-naver", InboxSlot.NAVER_TALKTALK)
instagram = TestChannelPlugin("c-instagram", InboxSlot.INSTAGRAM)
kakao = TestChannelPlugin("d-kakao", InboxSlot.KAKAO)
email = TestChannelPlugin("e-email", InboxSlot.EMAIL)
sms = TestChannelPlugin("z-sms", InboxSlot.PHONE)
third_party_b = TestChannelPlugin("b-thirdparty")
third_party_a = TestChannelPlugin("a-thirdparty")

IN_INBOX_ORDER = [
    "z-sms",
    "e-email",
    "d-kakao",
    "c-instagram",
    "b-naver",
    "a-line",
    "a-thirdparty",
    "b-thirdparty",
]
ATTRS = ["line", "naver", "instagram", "kakao", "email", "sms", "third_party_b", "third_party_a"]
