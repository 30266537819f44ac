"""The Korean advertising rules shared by SMS and Kakao brand messages: each service's night
in Korean time, to the minute, whatever timezone the moment is given in."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from bridgekit.channelkit import AD_PREFIX, QuietHours, is_ad, marked_ad

BRAND_NIGHT = QuietHours(time(20, 50), time(8, 0))
SMS_NIGHT = QuietHours(time(21, 0), time(8, 0))


def kst(hour: int, minute: int) -> datetime:
    return datetime(2026, 12, 7, hour, minute, tzinfo=timezone(timedelta(hours=9)))


@pytest.mark.parametrize(
    ("moment", "brand", "sms"),
    [
        (kst(20, 49), False, False),
        (kst(20, 50), True, False),
        (kst(21, 0), True, True),
        (kst(3, 0), True, True),
        (kst(7, 59), True, True),
        (kst(8, 0), False, False),
        (kst(12, 0), False, False),
    ],
)
def test_each_services_night_is_judged_in_korean_time(moment: datetime, brand: bool, sms: bool) -> None:
    assert BRAND_NIGHT.covers(moment) is brand
    assert SMS_NIGHT.covers(moment) is sms
    assert BRAND_NIGHT.covers(moment.astimezone(UTC)) is brand  # the same instant in UTC


def test_the_ad_marker_is_added_once() -> None:
    assert marked_ad("  겨울 세일 ") == f"{AD_PREFIX} 겨울 세일"
    assert marked_ad("(광고) 겨울 세일") == "(광고) 겨울 세일"
    assert is_ad(" (광고)세일")
    assert not is_ad("세일 (광고)")
    assert BRAND_NIGHT.describe() == "20:50 to 08:00 KST"
