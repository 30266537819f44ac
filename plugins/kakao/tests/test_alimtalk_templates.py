"""Which template an Alimtalk's text fills in, and its variables' values: literal text with
regex characters, a variable used twice, several templates reading alike."""

from __future__ import annotations

import pytest

from bridgekit_kakao.templates import AlimtalkRefused, Template, TemplateState, resolve

APPROVED = TemplateState.APPROVED


def test_literal_parts_are_matched_literally_and_a_repeated_variable_holds_one_value() -> None:
    template = Template(
        "PAY_01", "결제", "(주)브랜드 #{name}님, $#{amount} 결제 완료. #{name}님 감사합니다.", APPROVED
    )
    found, values = resolve([template], "(주)브랜드 김철수님, $12.50 결제 완료. 김철수님 감사합니다.")
    assert found.code == "PAY_01"
    assert values == {"name": "김철수", "amount": "12.50"}
    with pytest.raises(AlimtalkRefused, match="no approved Alimtalk template"):
        resolve([template], "(주)브랜드 김철수님, $12.50 결제 완료. 이영희님 감사합니다.")


def test_of_two_approved_templates_reading_alike_the_one_with_more_fixed_text_is_used() -> None:
    loose = Template("ANY_01", "", "#{body}", APPROVED)
    exact = Template("SHIP_01", "", "#{name}님, 발송되었습니다.", APPROVED)
    found, values = resolve([loose, exact], "홍길동님, 발송되었습니다.")
    assert (found.code, values) == ("SHIP_01", {"name": "홍길동"})


def test_a_text_that_fills_in_only_a_rejected_template_is_refused_naming_it() -> None:
    rejected = Template("COUPON_01", "쿠폰", "#{name}님, 쿠폰이 발급되었습니다.", TemplateState.REJECTED)
    with pytest.raises(AlimtalkRefused, match=r"COUPON_01 \(쿠폰\) is rejected"):
        resolve([rejected], "홍길동님, 쿠폰이 발급되었습니다.")
